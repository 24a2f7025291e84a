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

  it('reports YAML nested too deeply for the parser as E_FRONT_MATTER with a position', () => {
    const text = `---\ntitle: ${'['.repeat(20_000)}${']'.repeat(20_000)}\n---\n# x\n`;
    const { diagnostics } = parseFrontMatter(text, 'deep.md', UTC);
    expect(diagnostics).toEqual([expect.objectContaining({ code: 'E_FRONT_MATTER', severity: 'error', line: 2 })]);
  });

  it('reports deep block nesting the same way', () => {
    const lines = Array.from({ length: 5_000 }, (_, depth) => `${' '.repeat(depth)}k:`);
    const { diagnostics } = parseFrontMatter(`---\ntitle: x\nnest:\n${lines.join('\n')}\n---\n`, 'deep.md', UTC);
    // Either the parser copes (an unknown field warning) or it reports; it never throws.
    expect(diagnostics.every((d) => d.code === 'E_FRONT_MATTER' || d.code === 'W_UNKNOWN_FIELD')).toBe(true);
  });
});
