import { describe, expect, it } from 'vitest';
import { displayWidth, padToWidth, truncateToWidth } from '../../src/util/display-width.ts';

describe('displayWidth', () => {
  it('counts ASCII one column a character', () => {
    expect(displayWidth('')).toBe(0);
    expect(displayWidth('2024-18 sending')).toBe(15);
  });

  it('counts CJK, fullwidth punctuation and emoji two columns', () => {
    expect(displayWidth('云计算技术动态')).toBe(14);
    expect(displayWidth('2024 年第十八期')).toBe(15);
    expect(displayWidth('，。（）')).toBe(8);
    expect(displayWidth('한국어')).toBe(6);
    expect(displayWidth('📬')).toBe(2);
    expect(displayWidth('🇨🇳')).toBe(2);
  });

  it('counts combining marks and control characters as nothing', () => {
    expect(displayWidth('e\u0301')).toBe(1);
    expect(displayWidth('Café')).toBe(4);
    expect(displayWidth('a\u200bb')).toBe(2);
  });
});

describe('truncateToWidth', () => {
  it('leaves text that fits alone', () => {
    expect(truncateToWidth('云计算', 6)).toBe('云计算');
  });

  it('cuts to the width with an ellipsis, never half a wide character', () => {
    const cut = truncateToWidth('云计算技术动态 2024 年第十八期', 10);
    expect(cut).toBe('云计算技…');
    expect(displayWidth(cut)).toBeLessThanOrEqual(10);
    expect(truncateToWidth('云计算技术', 6)).toBe('云计…');
    expect(displayWidth(truncateToWidth('ab云计算', 5))).toBeLessThanOrEqual(5);
  });

  it('keeps a letter with its accent', () => {
    expect(truncateToWidth('ae\u0301ae\u0301ae\u0301', 4)).toBe('ae\u0301a…');
  });
});

describe('padToWidth', () => {
  it('pads by columns, not by characters', () => {
    expect(padToWidth('云', 4)).toBe('云  ');
    expect(padToWidth('abc', 2)).toBe('abc');
  });
});
