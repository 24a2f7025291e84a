import { describe, expect, it } from 'vitest';
import { toSourceLines } from '../../src/issue/to-source-lines.ts';

describe('toSourceLines', () => {
  it('numbers lines from the given file line and marks fenced code', () => {
    const lines = toSourceLines('a\n```js\n## not a heading\n````\nb\n~~~~\nc\n~~~\n~~~~\nd', 5);
    expect(lines.map((l) => [l.line, l.code])).toEqual([
      [5, false],
      [6, true],
      [7, true],
      [8, true], // a longer fence of the same character closes
      [9, false],
      [10, true],
      [11, true],
      [12, true], // a shorter fence does not close
      [13, true],
      [14, false],
    ]);
    expect(lines[4]?.text).toBe('b');
  });
  it('runs an unclosed fence to the end', () => {
    expect(toSourceLines('```\na\nb', 1).map((l) => l.code)).toEqual([true, true, true]);
  });
});
