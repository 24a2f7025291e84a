/** One line of the body with its real file line and whether it is inside fenced code. */
export interface SourceLine {
  text: string;
  /** 1-based line in the file, counting front matter lines. */
  line: number;
  /** True for the fence lines and everything between them: never dialect structure. */
  code: boolean;
}

/**
 * Splits LF-only text into lines that remember their file line and whether they sit in a
 * ``` or ~~~ fenced code block (CommonMark rules: a fence closes with the same character,
 * at least as long; an unclosed fence runs to the end).
 */
export function toSourceLines(text: string, firstLine: number): SourceLine[] {
  let fence: { char: string; length: number } | undefined;
  return text.split('\n').map((raw, index) => {
    const line = firstLine + index;
    const marker = /^ {0,3}(`{3,}|~{3,})(.*)$/.exec(raw);
    if (fence === undefined) {
      // A backtick fence's info string may not contain backticks.
      if (marker?.[1] !== undefined && !(marker[1].startsWith('`') && (marker[2] ?? '').includes('`'))) {
        fence = { char: marker[1].charAt(0), length: marker[1].length };
        return { text: raw, line, code: true };
      }
      return { text: raw, line, code: false };
    }
    const closes =
      marker?.[1] !== undefined &&
      marker[1].charAt(0) === fence.char &&
      marker[1].length >= fence.length &&
      (marker[2] ?? '').trim() === '';
    if (closes) fence = undefined;
    return { text: raw, line, code: true };
  });
}
