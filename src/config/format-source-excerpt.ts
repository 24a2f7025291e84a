import { displayWidth } from '../util/display-width.ts';

/** Characters shown around the column when a line is too long for a terminal (minified JSON). */
const CONTEXT_BEFORE = 40;
const CONTEXT_AFTER = 40;

/**
 * The offending line of `text` and a `^` under `column` (1-based, in characters), as a
 * compiler shows it. The caret lines up on a terminal even after CJK text (wide characters
 * take two columns) and tabs; a very long line is cut to a window around the column.
 */
export function formatSourceExcerpt(text: string, line: number, column: number): string {
  const source = (text.split('\n')[line - 1] ?? '').replace(/\r$/, '');
  let chars = [...source];
  let index = Math.min(Math.max(column - 1, 0), chars.length);
  let prefix = '';
  if (chars.length > CONTEXT_BEFORE + CONTEXT_AFTER) {
    const start = Math.max(0, index - CONTEXT_BEFORE);
    const end = Math.min(chars.length, index + CONTEXT_AFTER);
    const suffix = end < chars.length ? '…' : '';
    prefix = start > 0 ? '…' : '';
    chars = [...chars.slice(start, end), ...suffix];
    index -= start;
  }
  // Tabs and control characters would move the caret differently per terminal: show each as one space.
  const shown = (part: readonly string[]) => part.map((ch) => (ch < ' ' ? ' ' : ch)).join('');
  const gutter = String(line).length;
  return [
    `  ${String(line).padStart(gutter)} | ${prefix}${shown(chars)}`,
    `  ${' '.repeat(gutter)} | ${' '.repeat(displayWidth(prefix + shown(chars.slice(0, index))))}^`,
  ].join('\n');
}
