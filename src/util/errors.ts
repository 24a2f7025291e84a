/**
 * The one error base class: a stable machine-readable `code`, a human message, an optional
 * `cause`, and for errors about a file the position in it. Errors are logged once, at the
 * edge (the CLI), never where they are thrown.
 */
import type { LetterpressCode } from './error-codes.ts';

export class LetterpressError extends Error {
  /** A code from the one table (error-codes.ts), which also gives the exit status. */
  readonly code: LetterpressCode;
  readonly file?: string;
  readonly line?: number;
  readonly column?: number;

  constructor(
    code: LetterpressCode,
    message: string,
    options: { cause?: unknown; file?: string; line?: number; column?: number } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'LetterpressError';
    this.code = code;
    this.file = options.file;
    this.line = options.line;
    this.column = options.column;
  }
}
