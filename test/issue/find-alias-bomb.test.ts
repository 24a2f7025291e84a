import { describe, expect, it } from 'vitest';
import { findAliasBombs } from '../../src/issue/find-alias-bomb.ts';
import { parseFrontMatter } from '../../src/issue/front-matter.ts';

const FIELDS = ['title', 'summary', 'date'];
const find = (lines: string[]) => findAliasBombs(lines.join('\n'), FIELDS, 100)[0];
const nine = (alias: string) => `[${Array.from({ length: 9 }, () => alias).join(',')}]`;

describe('findAliasBombs', () => {
  it('finds a flow-style bomb at the field that expands it', () => {
    const bomb = ['a: &a ["x","x"]', `b: &b ${nine('*a')}`, `c: &c ${nine('*b')}`, `d: &d ${nine('*c')}`, 'title: *d'];
    expect(find(bomb)).toEqual({ field: 'title', line: 5, column: 8 });
  });

  it('finds a block-style bomb, and one nested in a flow mapping', () => {
    const block = (name: string, alias: string) => [`${name}: &${name}`, ...Array.from({ length: 6 }, () => `  - ${alias}`)];
    const bomb = ['a: &a x', ...block('b', '*a'), ...block('c', '*b'), ...block('d', '*c'), 'summary:', '  - *d'];
    expect(find(bomb)).toEqual({ field: 'summary', line: 24, column: 3 });
    const mapping = ['a: &a [1]', `b: &b { k: ${nine('*a')} }`, `c: &c {k: ${nine('*b')}, j: *b}`, 'title: {x: *c}'];
    expect(find(mapping)).toEqual({ field: 'title', line: 4, column: 8 });
  });

  it('counts what the value expands to, not how often aliases are written', () => {
    // 1 + 9 × (1 + 9) = 91 aliases: within the limit; one more level is 820.
    const within = ['a: &a x', `b: &b ${nine('*a')}`, `c: &c ${nine('*b')}`, 'title: *c'];
    expect(find(within)).toBeUndefined();
    const over = [...within.slice(0, 3), `d: &d ${nine('*c')}`, 'title: *d'];
    expect(find(over)?.field).toBe('title');
    // Written 120 times, but to a scalar each: 120 aliases.
    expect(find(['a: &a x', `title: [${Array.from({ length: 120 }, () => '*a').join(', ')}]`])?.field).toBe('title');
    expect(find(['a: &a x', `title: [${Array.from({ length: 100 }, () => '*a').join(', ')}]`])).toBeUndefined();
  });

  it('ignores fields it is not asked about, and stops at the next top-level key', () => {
    const bomb = ['a: &a [x, x]', `b: &b ${nine('*a')}`, `c: &c ${nine('*b')}`, `d: &d ${nine('*c')}`];
    expect(find([...bomb, 'tags: *d', 'title: Plain'])).toBeUndefined();
    expect(find([...bomb, 'title: Plain', 'tags:', '  - *d'])).toBeUndefined();
  });

  it('never counts `*` in quotes, comments, plain scalars or block scalars', () => {
    const stars = Array.from({ length: 200 }, () => '*a').join(' ');
    expect(find(['a: &a x', `title: "${stars}"`])).toBeUndefined();
    expect(find(['a: &a x', `title: '${stars} it''s'`])).toBeUndefined();
    expect(find(['a: &a x', `title: Hello ${stars}`])).toBeUndefined();
    expect(find(['a: &a x', `title: x # ${stars}`])).toBeUndefined();
    expect(find(['a: &a x', 'summary: |', `  ${stars}`, `  ${stars}`, 'title: T'])).toBeUndefined();
    expect(find(['a: &a x', 'summary: >-', `    ${stars}`, 'title: *a'])).toBeUndefined();
  });
});

describe('parseFrontMatter with the alias scan', () => {
  it('refuses a block-style bomb at the field without converting it, and still reads the other fields', () => {
    const block = (name: string, alias: string) => [`${name}: &${name}`, ...Array.from({ length: 6 }, () => `  - ${alias}`)];
    const yaml = ['a: &a x', ...block('b', '*a'), ...block('c', '*b'), ...block('d', '*c'), 'summary: *d', 'title: Kept'];
    const { diagnostics, fields } = parseFrontMatter(['---', ...yaml, '---', '# T', ''].join('\n'), 'bomb.md', { timezone: 'UTC' });
    expect(diagnostics.filter((d) => d.severity === 'error')).toEqual([expect.objectContaining({ code: 'E_FRONT_MATTER', line: 24, column: 10 })]);
    expect(fields.title).toBe('Kept');
    expect(diagnostics[0]?.message).toBe(
      'front-matter field "summary" could not be read: it expands aliases (`*name`) too many times, which looks like an alias bomb; write the value out instead',
    );
  });

  it('still reads aliases to scalars and lists of them', () => {
    const { fields, diagnostics } = parseFrontMatter('---\nname: &n Weekly\ntitle: *n\ntags: [*n, *n]\n---\n', 'a.md', { timezone: 'UTC' });
    expect(diagnostics.map((d) => d.code)).toEqual(['W_UNKNOWN_FIELD', 'W_UNKNOWN_FIELD']);
    expect(fields.title).toBe('Weekly');
  });
});
