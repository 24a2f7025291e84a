import { emailKey, normalizeEmail, sanitizeDisplayName } from './email-address.ts';
import type { CsvRow } from './subscriber-csv.ts';
import type { SubscriberSource, SubscriberStatus, SubscriberStore } from './types.ts';

/** What an import did, row by row where something went wrong, for the CLI and `--json`. */
export interface ImportReport {
  added: number;
  updated: number;
  unchanged: number;
  /** Valid addresses the store would not take (an unsubscribed, bounced or erased address). */
  refused: { line: number; email: string; reason: string }[];
  /** Values that are not acceptable addresses, and repeats of an address earlier in the file. */
  invalid: { line: number; value: string; reason: string }[];
}

/**
 * Feeds parsed CSV rows to the store one at a time, in file order, so a 100k-row import needs
 * no more memory than the set of keys seen and the consent rules of DESIGN §4a stay the
 * store's to enforce. Rows without a status get `defaultStatus`; an empty name never clears a
 * stored one; the second row with the same address (case-insensitively) is reported, not applied.
 */
export async function importSubscribers(input: {
  rows: CsvRow[];
  store: Pick<SubscriberStore, 'upsertSubscriber'>;
  defaultStatus: SubscriberStatus;
  resubscribe: boolean;
  source: SubscriberSource;
}): Promise<ImportReport> {
  const report: ImportReport = { added: 0, updated: 0, unchanged: 0, refused: [], invalid: [] };
  const firstLineOf = new Map<string, number>();

  for (const row of input.rows) {
    const normalized = normalizeEmail(row.email);
    if (!normalized.ok) {
      report.invalid.push({ line: row.line, value: row.email, reason: normalized.reason });
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
  return report;
}

/**
 * The report as lines for a terminal: the totals, then each refused or invalid row in line
 * order, capped so a bad 100k-row file does not flood the screen. Values are escaped, because
 * a CSV cell may hold line breaks or terminal escape sequences.
 */
export function formatImportReport(report: ImportReport, options: { maxLines?: number } = {}): string[] {
  const maxLines = options.maxLines ?? 50;
  const summary =
    `${report.added} added, ${report.updated} updated, ${report.unchanged} unchanged, ` +
    `${report.refused.length} refused, ${report.invalid.length} invalid`;
  const details = [
    ...report.refused.map((entry) => ({ line: entry.line, value: entry.email, reason: entry.reason })),
    ...report.invalid,
  ].sort((a, b) => a.line - b.line);

  const lines = [summary];
  for (const entry of details.slice(0, maxLines)) {
    lines.push(`line ${entry.line}: ${formatValue(entry.value)}: ${entry.reason}`);
  }
  if (details.length > maxLines) lines.push(`… and ${details.length - maxLines} more`);
  return lines;
}

/** A cell as one safe, bounded line: control characters escaped, long values shortened. */
function formatValue(value: string): string {
  const escaped = value.replace(/[\u0000-\u001F\u007F-\u009F\u2028\u2029]/g, (character) => {
    const named: Record<string, string> = { '\r': '\\r', '\n': '\\n', '\t': '\\t' };
    return named[character] ?? `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
  const characters = Array.from(escaped);
  const shown = characters.length > 80 ? `${characters.slice(0, 79).join('')}…` : escaped;
  return shown === '' ? '(empty)' : shown;
}
