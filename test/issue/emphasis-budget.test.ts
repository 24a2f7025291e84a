import markdownIt from 'markdown-it';
import { describe, expect, it } from 'vitest';
import { EMPHASIS_DELIMITER_LIMIT, exceedsEmphasisBudget } from '../../src/issue/emphasis-budget.ts';
import { budgetInline } from '../../src/issue/inline-budget.ts';
import { toPlainText } from '../../src/issue/to-plain-text.ts';
import { markdownToHtml, markdownToText } from '../../src/render/markdown.ts';

// `*a_` repeated: every `*` can only open and every `_` only close, so nothing pairs and
// markdown-it makes a token of each marker. Over the limit no marker becomes a token.
const hostile = (units: number) => '*a_'.repeat(units);
const overLimit = Math.ceil(EMPHASIS_DELIMITER_LIMIT / 2) + 1;

describe('the emphasis budget', () => {
  it('counts `*` and `_` up to the limit', () => {
    expect(exceedsEmphasisBudget('_'.repeat(EMPHASIS_DELIMITER_LIMIT))).toBe(false);
    expect(exceedsEmphasisBudget(`${'_'.repeat(EMPHASIS_DELIMITER_LIMIT)}*`)).toBe(true);
  });

  it('parses a paragraph over the limit with no token per marker', () => {
    const md = markdownIt('commonmark');
    budgetInline(md, () => markdownIt('commonmark'));
    const [, inline] = md.parse(hostile(overLimit), {});
    expect(inline?.children?.map((token) => token.type)).toEqual(['text']);
    // Under the limit, emphasis is parsed as ever.
    const [, normal] = md.parse('*a* and _b_', {});
    expect(normal?.children?.filter((token) => token.type === 'em_open')).toHaveLength(2);
  });

  it('drops the markers from plain text and shows them as written in HTML', () => {
    const text = hostile(overLimit);
    expect(toPlainText(text)).toBe('a'.repeat(overLimit));
    expect(markdownToText(text)).toBe('a'.repeat(overLimit));
    expect(markdownToHtml(text)).toBe(`<p>${text}</p>`);
  });

  it('keeps links and code of such a paragraph intact in plain text', () => {
    const text = `[a_b](https://e.org/a_b) \`x_y\` ${hostile(overLimit)}`;
    expect(markdownToText(text).startsWith('ab (https://e.org/a_b) x_y aaa')).toBe(true);
    expect(toPlainText(text).startsWith('ab x_y aaa')).toBe(true);
  });

  it('leaves other paragraphs of the same text as they were', () => {
    const text = `**bold** and _em_\n\n${hostile(overLimit)}`;
    expect(markdownToHtml(text).startsWith('<p><strong>bold</strong> and <em>em</em></p>')).toBe(true);
    expect(markdownToText(text).startsWith('bold and em\n\naaa')).toBe(true);
  });
});
