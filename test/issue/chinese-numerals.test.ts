import { describe, expect, it } from 'vitest';
import { parseChineseNumeral, parseIssueNumber } from '../../src/issue/chinese-numerals.ts';

describe('parseChineseNumeral', () => {
  it.each([
    ['一', 1],
    ['十', 10],
    ['十八', 18],
    ['二十', 20],
    ['三十二', 32],
    ['九十九', 99],
    ['一百', 100],
    ['一百零五', 105],
    ['一百一十', 110],
    ['一百一', 110],
    ['两百', 200],
    ['两百零二', 202],
    ['三百四十五', 345],
    ['一千零一', 1001],
    ['一千零五十', 1050],
    ['两千三', 2300],
    ['二〇二四', 2024],
    ['第一百零五期', 105],
    ['第三十二期', 32],
  ])('%s → %i', (text, value) => {
    expect(parseChineseNumeral(text)).toBe(value);
  });

  it.each(['', '百', '十十', '三四十', '十百', '一百千', 'abc', '十八a', '第期'])('rejects %j', (text) => {
    expect(parseChineseNumeral(text)).toBeUndefined();
  });
});

describe('parseIssueNumber', () => {
  it.each([
    ['云计算技术动态 2024 年第十八期', 18],
    ['云计算技术动态 2024 年第三十二期', 32],
    ['周刊 2024 年第十期', 10],
    ['周刊第一百零五期', 105],
    ['周刊第两百期', 200],
    ['周刊 第 7 期', 7],
    ['周刊第３２期', 32],
    ['Letterpress Weekly No. 7', 7],
    ['Letterpress Weekly No 18', 18],
    ['Letterpress Weekly No.18', 18],
    ['Weekly #18', 18],
    ['Weekly ＃18', 18],
    ['Issue 18: storage', 18],
    ['issue #9', 9],
  ])('%s → %i', (title, value) => {
    expect(parseIssueNumber(title)).toBe(value);
  });

  it.each(['A plain title', 'Node 18 released', '2024 年回顾', '第零期', 'No. 0'])('finds no number in %j', (title) => {
    expect(parseIssueNumber(title)).toBeUndefined();
  });
});
