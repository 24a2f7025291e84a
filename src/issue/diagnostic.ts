import { escapeForTerminal } from '../util/escape-for-terminal.ts';

/** Severity of a diagnostic: errors keep an issue out of the build, warnings do not. */
export type Severity = 'error' | 'warning';

/**
 * One finding about an issue file, in the shape `check --json` prints. Codes are stable
 * (tests and scripts match on them); messages are for people.
 */
export interface Diagnostic {
  file: string;
  line: number;
  column: number;
  severity: Severity;
  code: DiagnosticCode;
  message: string;
}

/** Every code the parser and the build can report. Add, never rename. */
export type DiagnosticCode =
  | 'E_ENCODING' // not UTF-8 text (GBK, binary, NUL bytes…)
  | 'E_EMPTY' // nothing but whitespace
  | 'E_TOO_LARGE' // over limits.maxIssueBytes
  | 'E_FRONT_MATTER' // YAML that does not parse, or is not a mapping
  | 'E_FIELD' // a front-matter field of the wrong type or form
  | 'E_NO_TITLE' // neither front matter `title` nor a `# ` heading
  | 'E_DUPLICATE_SLUG' // two files claim one slug
  | 'E_READ' // the file could not be read
  | 'E_OUTSIDE' // a symlink (or symlinked folder) leading out of issues/
  | 'E_RENDER' // a template or MJML failed for this issue
  | 'W_UNKNOWN_FIELD' // a front-matter key Letterpress does not know (kept, ignored)
  | 'W_UNSAFE_LINK' // a javascript:/data:/vbscript: link, neutralised
  | 'W_RAW_HTML' // raw HTML in Markdown, shown as text
  | 'W_ITEM_NO_LINK' // a digest item without a link
  | 'W_ITEM_NO_SUMMARY' // a digest item without a summary
  | 'W_ITEM_NUMBER' // item numbers skip or repeat within a section
  | 'W_NUMBER_MISMATCH' // front matter `number` disagrees with the title
  | 'W_CONTROL_CHAR' // control characters removed
  | 'W_DATE_YEAR' // front matter `date` is in another year than the title says
  | 'W_DATE_ORDER' // issue numbers and dates run in opposite directions
  | 'W_MJML'; // MJML validation warnings that did not stop the render

/** True when any diagnostic in the list is an error. */
export function hasErrors(diagnostics: readonly Diagnostic[]): boolean {
  return diagnostics.some((d) => d.severity === 'error');
}

/** `file:line:column: severity CODE message`, the form editors and CI logs link from. */
export function formatDiagnostic(d: Diagnostic): string {
  // File names and messages quote what the editor wrote: shown escaped, one line each.
  return `${escapeForTerminal(d.file)}:${d.line}:${d.column}: ${d.severity} ${d.code} ${escapeForTerminal(d.message)}`;
}
