/**
 * Terminal column widths, so human output can promise "at most N columns" with Chinese titles:
 * East Asian wide and fullwidth characters and emoji take two columns, combining marks and
 * control characters none, everything else one. Counted per grapheme, so an accented letter
 * or a flag is never split.
 */

// Made on first use: creating a segmenter loads ICU's break data (~100 ms at start-up),
// and every command imports this module while only a few print wide text.
let segmenter: Intl.Segmenter | undefined;
const graphemesOf = (text: string) => (segmenter ??= new Intl.Segmenter('und', { granularity: 'grapheme' })).segment(text);

// East Asian Width W and F: Hangul Jamo, CJK radicals to Yi, Hangul syllables, CJK
// compatibility, vertical and small forms, fullwidth forms, and the supplementary ideograph planes.
const WIDE =
  /^[\u1100-\u115f\u231a\u231b\u2329\u232a\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua000-\ua4cf\ua960-\ua97f\uac00-\ud7a3\uf900-\ufaff\ufe10-\ufe19\ufe30-\ufe6f\uff00-\uff60\uffe0-\uffe6\u{1f300}-\u{1f64f}\u{1f900}-\u{1f9ff}\u{20000}-\u{3fffd}]/u;
const EMOJI = /\p{Extended_Pictographic}\ufe0f|\p{Emoji_Presentation}|\p{Regional_Indicator}{2}/u;
const ZERO = /^[\p{Mn}\p{Me}\p{Cc}\p{Cf}]+$/u;

/** Columns one grapheme takes on a terminal: 0, 1 or 2. */
function graphemeWidth(grapheme: string): number {
  if (ZERO.test(grapheme)) return 0;
  if (WIDE.test(grapheme) || EMOJI.test(grapheme)) return 2;
  return 1;
}

/** Display width of `text` in terminal columns (CJK and emoji count two). */
export function displayWidth(text: string): number {
  // Printable ASCII is one column a character: skip segmenting for the common case.
  if (/^[\x20-\x7e]*$/.test(text)) return text.length;
  let width = 0;
  for (const { segment } of graphemesOf(text)) width += graphemeWidth(segment);
  return width;
}

/**
 * `text` cut to at most `width` columns, ending in `…` when cut; never splits a grapheme, and
 * never leaves half of a wide character.
 */
export function truncateToWidth(text: string, width: number): string {
  if (displayWidth(text) <= width) return text;
  if (width <= 0) return '';
  let used = 0;
  let kept = '';
  for (const { segment } of graphemesOf(text)) {
    const next = graphemeWidth(segment);
    if (used + next > width - 1) break;
    kept += segment;
    used += next;
  }
  return `${kept.trimEnd()}…`;
}

/** `text` padded with spaces to `width` columns (unchanged when already wider). */
export function padToWidth(text: string, width: number): string {
  return text + ' '.repeat(Math.max(0, width - displayWidth(text)));
}
