/**
 * Control characters that have no business in an issue: C0 except TAB, LF, CR and FF, plus
 * DEL and the C1 range. Paste accidents put them there; no output should carry them.
 * The pattern is global: use it only with `replace` and `matchAll`, which never share its
 * `lastIndex` between calls.
 */
export const CONTROL_CHAR_PATTERN = /[\u0000-\u0008\u000B\u000E-\u001F\u007F-\u009F]/g;

/** The text without control characters, for every string the parser puts into the model. */
export function removeControlChars(text: string): string {
  return text.replace(CONTROL_CHAR_PATTERN, '');
}
