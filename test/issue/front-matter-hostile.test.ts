import { describe, expect, it } from 'vitest';
import { parseFrontMatter } from '../../src/issue/front-matter.ts';
import { parseIssue } from '../../src/issue/parse-issue.ts';

const UTC = { timezone: 'UTC' };

// Five lines that expand to 9^4 strings when `title` is converted to a JavaScript value.
const ALIAS_BOMB = [
  '---',
  'a: &a ["x","x","x","x","x","x","x","x","x"]',
  'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]',
  'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]',
  'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]',
  'title: *d',
  '---',
  '# Heading',
  '',
].join('\n');

describe('parseFrontMatter on hostile YAML', () => {
  it('turns an alias bomb in a known field into E_FRONT_MATTER at the field, never a throw', () => {
    const { diagnostics } = parseFrontMatter(ALIAS_BOMB, 'bomb.md', UTC);
    const errors = diagnostics.filter((d) => d.severity === 'error');
    expect(errors).toEqual([
      expect.objectContaining({ file: 'bomb.md', line: 6, column: 8, code: 'E_FRONT_MATTER' }),
    ]);
    expect(errors[0]?.message).toContain('alias bomb');
  });

  it('keeps the whole issue out with that diagnostic', () => {
    const result = parseIssue(ALIAS_BOMB, 'bomb.md', UTC);
    expect(result.issue).toBeUndefined();
    expect(result.diagnostics.map((d) => d.code)).toContain('E_FRONT_MATTER');
  });

  it('still reads a plain alias to a scalar', () => {
    const { fields, diagnostics } = parseFrontMatter('---\nx: &t Hello\ntitle: *t\n---\n', 'a.md', UTC);
    expect(diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(fields.title).toBe('Hello');
  });

  it('refuses YAML nested too deeply before the yaml package recurses into it', () => {
    const text = `---\ntitle: ${'['.repeat(100_000)}${']'.repeat(100_000)}\n---\n# x\n`;
    // Repeated stack overflows inside the yaml package have crashed the process: try thrice.
    for (let i = 0; i < 3; i++) {
      const { diagnostics } = parseFrontMatter(text, 'deep.md', UTC);
      expect(diagnostics).toEqual([expect.objectContaining({ code: 'E_FRONT_MATTER', line: 2, column: 71 })]);
      expect(diagnostics[0]?.message).toContain('nested more than 64 levels');
    }
  });

  it('counts block nesting and one-line `- ` entries too, but not brackets in quotes', () => {
    const block = Array.from({ length: 200 }, (_, depth) => `${' '.repeat(depth)}k:`).join('\n');
    expect(parseFrontMatter(`---\ntitle: x\n${block}\n---\n`, 'a.md', UTC).diagnostics).toEqual([
      expect.objectContaining({ code: 'E_FRONT_MATTER', line: 67 }),
    ]);
    const dashes = `---\nlist:\n${'- '.repeat(100)}x\n---\n`;
    expect(parseFrontMatter(dashes, 'a.md', UTC).diagnostics).toEqual([expect.objectContaining({ code: 'E_FRONT_MATTER' })]);
    const quoted = parseFrontMatter(`---\ntitle: "${'['.repeat(100)}"\n---\n`, 'a.md', UTC);
    expect(quoted.diagnostics).toEqual([]);
    expect(quoted.fields.title).toBe('['.repeat(100));
  });
});
