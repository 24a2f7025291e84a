/**
 * Characters a terminal acts on rather than shows: C0 controls and DEL (CR rewinds the line,
 * ESC starts a sequence that can clear the screen or recolour text), C1 controls (0x9B is a
 * one-byte CSI on some terminals) and the bidi overrides and isolates that reorder what
 * follows them (U+202A–U+202E, U+2066–U+2069).
 */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;
const UNSAFE_BUT_NEWLINE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

const NAMED: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escapeCharacter(character: string): string {
  const named = NAMED[character];
  if (named !== undefined) return named;
  const code = character.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/**
 * Text from outside (issue titles, names, slugs, file names, SMTP replies) made safe to print
 * for a person: every control character and bidi override is shown escaped (`\x1b`, `\r`,
 * `\u202e`), so a title can neither forge status lines nor repaint the terminal. With
 * `keepNewlines`, LF stays a line break (multi-line messages such as a config excerpt with a
 * caret). JSON output never goes through this: JSON escapes by itself and must stay exact.
 */
export function escapeForTerminal(text: string, options: { keepNewlines?: boolean } = {}): string {
  return text.replace(options.keepNewlines ? UNSAFE_BUT_NEWLINE : UNSAFE, escapeCharacter);
}
