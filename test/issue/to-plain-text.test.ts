import { describe, expect, it } from 'vitest';
import { toPlainText } from '../../src/issue/to-plain-text.ts';

describe('toPlainText', () => {
  it.each([
    ['**Bold title**', 'Bold title'],
    ['__Bold__ and *em* and _em_', 'Bold and em and em'],
    ['[Link text](https://example.org/a_(b))', 'Link text'],
    ['![alt](img.png) caption', 'alt caption'],
    ['The `rg` manual', 'The rg manual'],
    ['snake_case_name and 5 * 3', 'snake_case_name and 5 * 3'],
    ['~~old~~ new', 'old new'],
    ['1\\. not a list \\*', '1. not a list *'],
    ['  many   spaces\nand lines  ', 'many spaces and lines'],
    ['AI/ML中使用的集体操作（collectives）', 'AI/ML中使用的集体操作（collectives）'],
    ['<https://example.org>', 'https://example.org'],
  ])('%j → %j', (markdown, text) => {
    expect(toPlainText(markdown)).toBe(text);
  });
});
