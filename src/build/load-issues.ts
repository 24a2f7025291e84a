import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Diagnostic } from '../issue/diagnostic.ts';
import { findDuplicateSlugs, parseIssueFile } from '../issue/index.ts';
import type { Issue } from '../issue/model.ts';

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
  options: { root: string; timezone: string; maxBytes: number },
): Promise<LoadIssuesResult> {
  const diagnostics: Diagnostic[] = [];
  const loaded: LoadedIssue[] = [];
  for (const file of files) {
    const shown = displayPath(options.root, file);
    let bytes: Buffer;
    let mtime: Date;
    try {
      const info = await stat(file);
      if (!info.isFile()) throw Object.assign(new Error('not a regular file'), { code: 'EISDIR' });
      if (info.size > options.maxBytes) {
        diagnostics.push({
          file: shown,
          line: 1,
          column: 1,
          severity: 'error',
          code: 'E_TOO_LARGE',
          message: `the file is ${info.size} bytes; the limit is ${options.maxBytes} bytes (limits.maxIssueBytes)`,
        });
        continue;
      }
      bytes = await readFile(file);
      mtime = info.mtime;
    } catch (error) {
      diagnostics.push({
        file: shown,
        line: 1,
        column: 1,
        severity: 'error',
        code: 'E_READ',
        message: `cannot read the file: ${(error as Error).message}`,
      });
      continue;
    }
    const result = parseIssueFile(bytes, shown, { timezone: options.timezone, maxBytes: options.maxBytes });
    diagnostics.push(...result.diagnostics);
    if (result.issue && !result.diagnostics.some((d) => d.severity === 'error')) {
      loaded.push({ issue: result.issue, file, mtime });
    }
  }
  const duplicates = findDuplicateSlugs(loaded.map((entry) => entry.issue));
  diagnostics.push(...duplicates);
  const rejected = new Set(duplicates.map((d) => d.file));
  return { issues: loaded.filter((entry) => !rejected.has(entry.issue.sourcePath)), diagnostics };
}

/** Paths in messages are shown relative to the project root when they are inside it. */
export function displayPath(root: string, file: string): string {
  const relative = path.relative(root, file);
  return relative.startsWith('..') || path.isAbsolute(relative) ? file : relative;
}
