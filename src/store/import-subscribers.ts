import { emailKey, normalizeEmail, sanitizeDisplayName } from './email-address.ts';
import type { CsvProblem, CsvRow } from './subscriber-csv.ts';
import type { SubscriberSource, SubscriberStatus, SubscriberStore } from './types.ts';

/**
 * What an import did (or, in a dry run, would do), for the CLI and `--json`. Every data row
 * read is counted exactly once: `added + updated + unchanged + refused.length + invalid.length`
 * is always `rows`.
 */
export interface ImportReport {
  /** Data rows read from the file (blank lines are not rows). */
  rows: number;
  /** True when nothing was written: the outcomes are what the store would have done. */
  dryRun: boolean;
  added: number;
  updated: number;
  unchanged: number;
  /** Valid addresses the store would not take (an unsubscribed, bounced or erased address). */
  refused: { line: number; email: string; reason: string }[];
  /**
   * Rows that cannot be imported: unreadable rows (an unknown status, an extra field), values
   * that are not acceptable addresses, and repeats of an address earlier in the file. `value`
   * is the address as written, or null when the row has none to show.
   */
  invalid: { line: number; value: string | null; reason: string }[];
}

/**
 * Feeds parsed CSV rows to the store one at a time, in file order, so a 100k-row import needs
 * no more memory than the set of keys seen and the consent rules of DESIGN §4a stay the
 * store's to enforce. Rows the reader could not read (`problems`) count as invalid. Rows
 * without a status get `defaultStatus`; an empty name never clears a stored one; the second row
 * with the same address (case-insensitively) is reported, not applied. With `dryRun` the store
 * decides each outcome and writes nothing.
 */
export async function importSubscribers(input: {
  rows: readonly CsvRow[];
  problems?: readonly CsvProblem[];
  store: Pick<SubscriberStore, 'upsertSubscriber'>;
  defaultStatus: SubscriberStatus;
  resubscribe: boolean;
  source: SubscriberSource;
  dryRun?: boolean;
}): Promise<ImportReport> {
  const problems = input.problems ?? [];
  const dryRun = input.dryRun === true;
  const report: ImportReport = {
    rows: input.rows.length + problems.length,
    dryRun,
    added: 0,
    updated: 0,
    unchanged: 0,
    refused: [],
    invalid: problems.map((problem) => ({ line: problem.line, value: problem.value ?? null, reason: problem.message })),
  };
  const firstLineOf = new Map<string, number>();

  for (const row of input.rows) {
    const normalized = normalizeEmail(row.email);
    if (!normalized.ok) {
      report.invalid.push({ line: row.line, value: row.email, reason: `not a valid address: ${normalized.reason}` });
      continue;
    }
    const key = emailKey(normalized.email);
    const firstLine = firstLineOf.get(key);
    if (firstLine !== undefined) {
      report.invalid.push({ line: row.line, value: row.email, reason: `duplicate of line ${firstLine}` });
      continue;
    }
    firstLineOf.set(key, row.line);

    const name = sanitizeDisplayName(row.name);
    const result = await input.store.upsertSubscriber({
      email: normalized.email,
      ...(name === null ? {} : { name }),
      status: row.status ?? input.defaultStatus,
      source: input.source,
      resubscribe: input.resubscribe,
      ...(dryRun ? { dryRun } : {}),
    });
    switch (result.outcome) {
      case 'added':
        report.added += 1;
        break;
      case 'updated':
        report.updated += 1;
        break;
      case 'unchanged':
        report.unchanged += 1;
        break;
      case 'refused':
        report.refused.push({ line: row.line, email: normalized.email, reason: result.reason ?? 'refused by the store' });
        break;
    }
  }
  report.invalid.sort((a, b) => a.line - b.line);
  return report;
}

/**
 * The totals as one line naming the file and the rows read, which the five counts add up to;
 * a dry run says that nothing changed.
 */
export function formatImportSummary(report: ImportReport, file: string): string[] {
  const summary =
    `${file}: ${plural(report.rows, 'row')} read: ${report.added} added, ${report.updated} updated, ` +
    `${report.unchanged} unchanged, ${report.refused.length} refused, ${report.invalid.length} invalid.`;
  return report.dryRun ? [summary, 'dry run: nothing changed.'] : [summary];
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

/**
 * Each refused or invalid row as `file:line: value: reason`, in line order, the one format of
 * every problem an import reports, capped so a bad 100k-row file does not flood the screen.
 * Values and reasons are escaped, because a CSV cell may hold line breaks or terminal escapes.
 */
export function formatImportProblems(report: ImportReport, file: string, options: { maxLines?: number } = {}): string[] {
  const maxLines = options.maxLines ?? 50;
  const details = [
    ...report.refused.map((entry) => ({ line: entry.line, value: entry.email, reason: `refused: ${entry.reason}` })),
    ...report.invalid,
  ].sort((a, b) => a.line - b.line);

  const lines = details
    .slice(0, maxLines)
    .map(
      (entry) =>
        `${file}:${entry.line}: ${entry.value === null ? '' : `${formatValue(entry.value)}: `}${escapeControls(entry.reason)}`,
    );
  if (details.length > maxLines) lines.push(`… and ${details.length - maxLines} more (--json lists them all)`);
  return lines;
}

/** A cell as one safe, bounded line: control characters escaped, long values shortened. */
function formatValue(value: string): string {
  const escaped = escapeControls(value);
  const characters = Array.from(escaped);
  const shown = characters.length > 80 ? `${characters.slice(0, 79).join('')}…` : escaped;
  return shown === '' ? '(empty)' : shown;
}

function escapeControls(text: string): string {
  return text.replace(/[\u0000-\u001F\u007F-\u009F\u2028\u2029]/g, (character) => {
    const named: Record<string, string> = { '\r': '\\r', '\n': '\\n', '\t': '\\t' };
    return named[character] ?? `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
}
