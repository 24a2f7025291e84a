import markdownIt, { type Token } from '../vendor/markdown-it.ts';
import { isEmphasisOff, stripEmphasisMarkers } from './emphasis-budget.ts';
import { budgetInline } from './inline-budget.ts';

// A tokenizer only (never renders HTML): markdown-it scans inline Markdown in linear time,
// where the hand-written patterns this replaces backtracked quadratically on inputs such as
// `*a_` repeated or `[` × 100k. Same dialect as the renderer: CommonMark plus strikethrough.
function createInline() {
  const md = markdownIt('commonmark', { html: false, linkify: false, typographer: false }).enable('strikethrough');
  md.validateLink = () => true;
  // Link destinations never reach plain text: normalising them would be wasted work.
  md.normalizeLink = (url) => url;
  return md;
}
const inline = createInline();
budgetInline(inline, createInline);

/**
 * Plain text from a line of inline Markdown, for item titles, feed summaries and preheaders,
 * which every output escapes and shows as text: links and images keep their text, emphasis
 * markers, code ticks and backslash escapes go, whitespace collapses to single spaces.
 */
export function toPlainText(markdown: string): string {
  const line = inline.parseInline(markdown, {})[0];
  return collapseWhitespace(textOf(line?.children ?? [], isEmphasisOff(line))).replace(STRAY_BOLD, '');
}

// A stray half of a bold pair at either end (`**1. Title` cut from `**1. Title**`).
const STRAY_BOLD = /^\*\*|\*\*$/g;

/** `emphasisOff`: too many markers to parse as emphasis (a file built to be slow); they are dropped from the text. */
function textOf(tokens: readonly Token[], emphasisOff: boolean): string {
  let out = '';
  for (const token of tokens) {
    switch (token.type) {
      case 'text':
        out += emphasisOff ? stripEmphasisMarkers(token.content) : token.content;
        break;
      case 'code_inline':
      case 'html_inline':
        out += token.content;
        break;
      case 'image':
        out += textOf(token.children ?? [], emphasisOff);
        break;
      case 'softbreak':
      case 'hardbreak':
        out += ' ';
        break;
      default:
        break; // emphasis, strikethrough and link markers carry no text
    }
  }
  return out;
}

/** Runs of whitespace become one space, ends trimmed; a scan, since `\s+$` backtracks. */
function collapseWhitespace(text: string): string {
  return text.split(/\s+/).filter((word) => word !== '').join(' ');
}
