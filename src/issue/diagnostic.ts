import type { DiagnosticCode } from '../util/error-codes.ts';
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

/** Every code the parser and the build can report: the diagnostics section of src/util/error-codes.ts. */
export type { DiagnosticCode };

/** True when any diagnostic in the list is an error. */
export function hasErrors(diagnostics: readonly Diagnostic[]): boolean {
  return diagnostics.some((d) => d.severity === 'error');
}

/** `file:line:column: severity CODE message`, the form editors and CI logs link from. */
export function formatDiagnostic(d: Diagnostic): string {
  // File names and messages quote what the editor wrote: shown escaped, one line each.
  return `${escapeForTerminal(d.file)}:${d.line}:${d.column}: ${d.severity} ${d.code} ${escapeForTerminal(d.message)}`;
}
