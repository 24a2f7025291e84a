import { describe, expect, it } from 'vitest';
import { truncateText } from '../../src/issue/truncate-text.ts';

describe('truncateText', () => {
  it('leaves short text alone', () => {
    expect(truncateText('短文本', 3)).toBe('短文本');
  });

  it('cuts long text to the limit, ending in an ellipsis', () => {
    expect(truncateText('一二三四五六', 4)).toBe('一二三…');
  });

  it('never splits an emoji sequence or a letter from its accent', () => {
    expect(truncateText('ab👩‍👩‍👧cd', 4)).toBe('ab👩‍👩‍👧…');
    expect(truncateText('cafe\u0301 noir', 5)).toBe('cafe\u0301…');
  });

  it('drops a space left before the ellipsis', () => {
    expect(truncateText('one two three', 5)).toBe('one…');
  });
});
