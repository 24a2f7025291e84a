import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseFrontMatter } from '../../src/issue/front-matter.ts';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/issues/${name}`, import.meta.url), 'utf8');
const SHANGHAI = { timezone: 'Asia/Shanghai' };

describe('parseFrontMatter', () => {
  it('returns the whole text as body when there is no front matter', () => {
    expect(parseFrontMatter('# Title\n\nBody\n', 'a.md', SHANGHAI)).toEqual({
      fields: {},
      positions: {},
      body: '# Title\n\nBody\n',
      bodyStartLine: 1,
      diagnostics: [],
    });
  });

  it('reads every known field, dates in the configured timezone', () => {
    const result = parseFrontMatter(fixture('timezone.md'), 'timezone.md', SHANGHAI);
    expect(result.diagnostics).toEqual([]);
    expect(result.fields).toEqual({
      title: 'Scheduled issue',
      number: 18,
      date: '2024-05-06T00:00:00+08:00',
      publishAt: '2024-05-06T09:30:00+08:00',
      draft: true,
      slug: 'scheduled-issue',
      summary: 'A preheader the editor wrote.',
    });
    expect(result.positions.slug).toEqual({ line: 7, column: 7 });
    expect(result.positions.date).toEqual({ line: 4, column: 7 });
    expect(result.bodyStartLine).toBe(10);
    expect(result.body.startsWith('\n# Scheduled issue\n')).toBe(true);
  });

  it('reads a date-only value in another timezone differently (never silently UTC)', () => {
    const { fields } = parseFrontMatter(fixture('timezone.md'), 'timezone.md', { timezone: 'UTC' });
    expect(fields.date).toBe('2024-05-06T00:00:00+00:00');
  });

  it('tolerates trailing spaces on the fences and `...` as the closing fence', () => {
    const result = parseFrontMatter('---  \ntitle: T\n... \n# Body', 'a.md', SHANGHAI);
    expect(result.fields).toEqual({ title: 'T' });
    expect(result.body).toBe('# Body');
    expect(result.bodyStartLine).toBe(4);
  });

  it('only takes front matter from the very first line', () => {
    const result = parseFrontMatter('\n---\ntitle: T\n---\n', 'a.md', SHANGHAI);
    expect(result.fields).toEqual({});
    expect(result.bodyStartLine).toBe(1);
  });

  it('treats empty front matter and null values as not given', () => {
    expect(parseFrontMatter('---\n---\n# T', 'a.md', SHANGHAI).fields).toEqual({});
    const result = parseFrontMatter('---\ndate:\ndraft:\n---\n', 'a.md', SHANGHAI);
    expect(result.fields).toEqual({});
    expect(result.diagnostics).toEqual([]);
  });

  it('reports a YAML syntax error at its line in the file', () => {
    const { diagnostics, fields } = parseFrontMatter(fixture('broken-front-matter.md'), 'broken.md', SHANGHAI);
    expect(fields).toEqual({});
    expect(diagnostics).toHaveLength(1);
    // Line 3 of the file is `title: Broken: a colon…`; the YAML starts on line 2.
    expect(diagnostics[0]).toMatchObject({ file: 'broken.md', line: 3, column: 8, severity: 'error', code: 'E_FRONT_MATTER' });
    expect(diagnostics[0]?.message).toContain('not valid YAML');
  });

  it('reports duplicate keys as a YAML error', () => {
    const { diagnostics } = parseFrontMatter('---\ntitle: A\ntitle: B\n---\n', 'a.md', SHANGHAI);
    expect(diagnostics.map((d) => [d.code, d.line])).toEqual([['E_FRONT_MATTER', 3]]);
  });

  it('reports front matter that is never closed', () => {
    const { diagnostics, bodyStartLine } = parseFrontMatter(fixture('unclosed-front-matter.md'), 'u.md', SHANGHAI);
    expect(diagnostics.map((d) => [d.code, d.line, d.column])).toEqual([['E_FRONT_MATTER', 1, 1]]);
    expect(bodyStartLine).toBe(2);
  });

  it('reports front matter that is not a mapping', () => {
    const { diagnostics } = parseFrontMatter(fixture('not-a-mapping.md'), 'n.md', SHANGHAI);
    expect(diagnostics.map((d) => [d.code, d.line, d.column])).toEqual([['E_FRONT_MATTER', 2, 1]]);
  });

  it('reports each wrong field at its value, naming the field', () => {
    const { diagnostics, fields } = parseFrontMatter(fixture('bad-fields.md'), 'bad.md', SHANGHAI);
    expect(fields).toEqual({});
    expect(diagnostics.map((d) => [d.code, d.line, d.column, d.message.match(/field "(\w+)"/)?.[1]])).toEqual([
      ['E_FIELD', 2, 8, 'title'],
      ['E_FIELD', 3, 9, 'number'],
      ['E_FIELD', 4, 7, 'date'],
      ['E_FIELD', 5, 7, 'slug'],
      ['E_FIELD', 6, 8, 'draft'],
      ['E_FIELD', 7, 13, 'publish_at'],
      ['E_FIELD', 8, 10, 'summary'],
    ]);
    expect(diagnostics.every((d) => d.severity === 'error')).toBe(true);
    expect(diagnostics[2]?.message).toContain('2024-02-30');
  });

  it.each([
    ['number: 1.5', 'number'],
    ['number: 0', 'number'],
    ['number: "18"', 'number'],
    ['slug: -leading-dash', 'slug'],
    ['slug: Upper', 'slug'],
    [`slug: ${'a'.repeat(81)}`, 'slug'],
    ['title: ""', 'title'],
    ['date: 2024-05-06T25:00', 'date'],
  ])('rejects %s', (line, field) => {
    const { diagnostics } = parseFrontMatter(`---\n${line}\n---\n`, 'a.md', SHANGHAI);
    expect(diagnostics.map((d) => [d.code, d.line])).toEqual([['E_FIELD', 2]]);
    expect(diagnostics[0]?.message).toContain(`"${field}"`);
  });

  it('warns about unknown keys at the key, suggesting a near miss', () => {
    const { diagnostics, fields } = parseFrontMatter(fixture('unknown-keys.md'), 'u.md', SHANGHAI);
    expect(fields).toEqual({ title: 'Unknown keys', number: 5 });
    expect(diagnostics.map((d) => [d.severity, d.code, d.line, d.column])).toEqual([
      ['warning', 'W_UNKNOWN_FIELD', 3, 1],
      ['warning', 'W_UNKNOWN_FIELD', 4, 1],
    ]);
    expect(diagnostics[0]?.message).toContain('"tags"');
    expect(diagnostics[1]?.message).toContain('did you mean "publish_at"');
  });
});

describe('front matter `email`', () => {
  it('reads email: false (site and feeds only) and email: true', () => {
    expect(parseFrontMatter('---\nemail: false\n---\n# A\n', 'a.md', SHANGHAI).fields).toEqual({ email: false });
    expect(parseFrontMatter('---\nemail: true\n---\n# A\n', 'a.md', SHANGHAI).fields).toEqual({ email: true });
  });

  it.each(['email: no', 'email: "false"', 'email: 0', 'email: [false]'])('rejects %s with E_FIELD at its line', (line) => {
    const { diagnostics, fields } = parseFrontMatter(`---\ntitle: A\n${line}\n---\n`, 'a.md', SHANGHAI);
    expect(fields.email).toBeUndefined();
    expect(diagnostics.map((d) => [d.code, d.line, d.severity])).toEqual([['E_FIELD', 3, 'error']]);
    expect(diagnostics[0]?.message).toContain('front-matter field "email" must be true or false');
  });
});
