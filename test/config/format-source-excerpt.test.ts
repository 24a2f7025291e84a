import { describe, expect, it } from 'vitest';
import { formatSourceExcerpt } from '../../src/config/format-source-excerpt.ts';

describe('formatSourceExcerpt', () => {
  it('shows the line and a caret under the column', () => {
    const text = '{\n  "feed": { "limit": 20, },\n}';
    expect(formatSourceExcerpt(text, 2, 23)).toBe(['  2 |   "feed": { "limit": 20, },', '    |                       ^'].join('\n'));
  });

  it('lines the caret up after wide (CJK) characters and tabs, as a terminal shows them', () => {
    const text = '{"title": "云计算" "x": 1}';
    const [, caret] = formatSourceExcerpt(text, 1, 17).split('\n');
    // 13 narrow characters and 3 wide ones (2 columns each) before the column: 19 columns.
    expect(caret).toBe(`    | ${' '.repeat(19)}^`);
    expect(formatSourceExcerpt('{\n\t"a":,\n}', 2, 6).split('\n')[1]).toBe(`    | ${' '.repeat(5)}^`);
  });

  it('cuts a very long line (minified JSON) to a window around the column', () => {
    const text = `{${'"k": 1, '.repeat(40)}"z": }`;
    const column = text.indexOf('}') + 1;
    const [source, caret] = formatSourceExcerpt(text, 1, column).split('\n');
    expect(source!.length).toBeLessThan(100);
    expect(source).toMatch(/^  1 \| …/);
    expect(source!.charAt(caret!.indexOf('^'))).toBe('}');
  });
});
