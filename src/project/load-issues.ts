import { readFileSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import path from 'node:path';
import type { Diagnostic } from '../issue/diagnostic.ts';
import { findDuplicateSlugs } from '../issue/index.ts';
import type { Issue } from '../issue/model.ts';
import { createInProcessIssueParser, type IssueParser } from './issue-parser.ts';
import { LetterpressError } from '../util/errors.ts';
import { OutsideFolderError, resolveInsideSync } from '../util/resolve-inside.ts';

const READ_BATCH = 50;

/** Files up to this size are read synchronously (the sample issues are 4–5 KB). */
const SYNC_READ_MAX_BYTES = 64 * 1024;

/** For callers that bring no parser (one-off scripts): parses on the calling thread. */
const inProcessParser = createInProcessIssueParser();

export interface LoadIssuesOptions {
  root: string;
  timezone: string;
  maxBytes: number;
  /** Where files are parsed; the wiring passes the worker with the time budget. */
  parser?: IssueParser;
  /** The issues folder (config paths.issues; default `<root>/issues`): files in it must resolve inside it. */
  issuesDir?: string;
  /** Aborted at shutdown: files not yet handed to the parser are not parsed (E_ABORTED). */
  signal?: AbortSignal;
}

/** An issue that parsed without errors, with the file facts the build needs. */
export interface LoadedIssue {
  issue: Issue;
  file: string;
  /** Modification time, the last-resort stable date for an issue with no date of its own. */
  mtime: Date;
}

export interface LoadIssuesResult {
  issues: LoadedIssue[];
  /** Every diagnostic of every file, errors and warnings, in file order. */
  diagnostics: Diagnostic[];
}

/**
 * Reads and parses issue files. A file that cannot be read or has errors is reported and
 * left out; it never stops the others. Files sharing a slug are all left out
 * (E_DUPLICATE_SLUG), since neither can be trusted to be the one the editor meant.
 */
export async function loadIssues(
  files: readonly string[],
  options: LoadIssuesOptions,
): Promise<LoadIssuesResult> {
  // Issue files are small: synchronous reads beat thread-pool round trips several times
  // over. Yielding between batches keeps a server in the same process responsive.
  const parser = options.parser ?? inProcessParser;
  const results: Awaited<ReturnType<typeof loadIssue>>[] = [];
  for (let start = 0; start < files.length; start += READ_BATCH) {
    if (start > 0) await yieldToEventLoop();
    // Parsed one after another by the parser; the requests are queued at once so the worker
    // never waits on a round trip.
    const batch = files.slice(start, start + READ_BATCH).map((file) => loadIssue(file, options, parser));
    results.push(...(await Promise.all(batch)));
  }
  const diagnostics = results.flatMap((result) => result.diagnostics);
  const loaded = results.flatMap((result) => (result.loaded ? [result.loaded] : []));
  const duplicates = findDuplicateSlugs(loaded.map((entry) => entry.issue));
  diagnostics.push(...duplicates);
  const rejected = new Set(duplicates.map((d) => d.file));
  return { issues: loaded.filter((entry) => !rejected.has(entry.issue.sourcePath)), diagnostics };
}

/** Reads and parses one file; every failure becomes a diagnostic naming it. */
async function loadIssue(
  file: string,
  options: LoadIssuesOptions,
  parser: IssueParser,
): Promise<{ loaded?: LoadedIssue; diagnostics: Diagnostic[] }> {
  const shown = displayPath(options.root, file);
  if (options.signal?.aborted) throw new LetterpressError('E_ABORTED', `stopped before parsing ${shown}`);
  const failure = (code: 'E_TOO_LARGE' | 'E_READ' | 'E_OUTSIDE', message: string) => ({
    diagnostics: [{ file: shown, line: 1, column: 1, severity: 'error' as const, code, message }],
  });
  let bytes: Buffer;
  let mtime: Date;
  try {
    checkInsideIssues(file, options);
    const info = statSync(file);
    if (!info.isFile()) return failure('E_READ', 'cannot read the file: not a regular file');
    if (info.size > options.maxBytes) {
      return failure(
        'E_TOO_LARGE',
        `the file is ${info.size} bytes; the limit is ${options.maxBytes} bytes (limits.maxIssueBytes)`,
      );
    }
    // A big file (the hostile corpus is ~900 KB a file) is read off the event loop.
    bytes = info.size > SYNC_READ_MAX_BYTES ? await readFile(file) : readFileSync(file);
    mtime = info.mtime;
  } catch (error) {
    if (error instanceof OutsideFolderError) return failure('E_OUTSIDE', error.reason);
    return failure('E_READ', `cannot read the file: ${(error as Error).message}`);
  }
  if (options.signal?.aborted) throw new LetterpressError('E_ABORTED', `stopped before parsing ${shown}`);
  const result = await parser.parse({ bytes, file: shown, timezone: options.timezone, maxBytes: options.maxBytes });
  const ok = result.issue !== undefined && !result.diagnostics.some((d) => d.severity === 'error');
  return { loaded: ok ? { issue: result.issue!, file, mtime } : undefined, diagnostics: result.diagnostics };
}

/**
 * Refuses a file that leads out of its folder: one in the issues folder must resolve inside it;
 * one named elsewhere (`check /tmp/draft.md`) inside its own folder.
 */
function checkInsideIssues(file: string, options: LoadIssuesOptions): void {
  const issuesDir = options.issuesDir ?? path.join(options.root, 'issues');
  const relative = path.relative(issuesDir, file);
  const inIssues = !relative.startsWith('..') && !path.isAbsolute(relative);
  resolveInsideSync(inIssues ? issuesDir : path.dirname(file), file, { root: options.root });
}

/** Paths in messages are shown relative to the project root when they are inside it. */
export function displayPath(root: string, file: string): string {
  const relative = path.relative(root, file);
  return relative.startsWith('..') || path.isAbsolute(relative) ? file : relative;
}
