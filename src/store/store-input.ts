import { LetterpressError } from '../util/errors.ts';
import type { DeliveryCounts, DeliveryMark, DeliveryState } from './types.ts';

/**
 * What every driver checks and normalises before it writes, so the drivers differ only in SQL.
 */

export const DELIVERY_STATES: readonly DeliveryState[] = ['queued', 'sending', 'sent', 'deferred', 'failed', 'bounced', 'skipped'];

/**
 * Instants the store compares in SQL (leases, due dates) are normalised to one ISO form, since
 * ISO strings only order correctly as text when they share a format.
 */
export function toInstant(value: string, field: string): string {
  const time = Date.parse(value);
  if (Number.isNaN(time)) throw new LetterpressError('E_STORE', `${field} is not a valid instant: ${JSON.stringify(value)}`);
  return new Date(time).toISOString();
}

/** A holder id is what makes a claim, mark or release compare-and-set: an empty one would match nothing useful. */
export function requireHolder(holder: string): string {
  if (typeof holder !== 'string' || holder.trim() === '') throw new LetterpressError('E_STORE', 'a ledger call needs a holder id');
  return holder;
}

/** A row limit as SQL takes it: a whole number, never negative. */
export function toRowLimit(limit: number): number {
  return Math.max(0, Math.floor(limit));
}

/** One mark as the ledger's mark statement reads it (a JSON array of these). */
export interface MarkRow {
  id: number;
  state: DeliveryMark['state'];
  reply: string | null;
  nextAttemptAt: string | null;
  at: string;
}

export function toMarkRows(marks: readonly DeliveryMark[]): MarkRow[] {
  return marks.map((mark) => ({
    id: mark.id,
    state: mark.state,
    reply: mark.reply ?? null,
    // A deferred row always has a due date (its `at`, if none was given); no other state has one.
    nextAttemptAt: mark.state === 'deferred' ? toInstant(mark.nextAttemptAt ?? mark.at, 'nextAttemptAt') : null,
    at: toInstant(mark.at, 'at'),
  }));
}

/** What `markDeliveries` answers, from the ids the compare-and-set statement changed. */
export function markOutcome(marks: readonly MarkRow[], markedIds: Iterable<number>): { marked: number; lost: number[] } {
  const marked = new Set(markedIds);
  return { marked: marked.size, lost: marks.map((mark) => mark.id).filter((id) => !marked.has(id)) };
}

/** Per-state counts with every state present (zeros included). */
export function toDeliveryCounts(rows: readonly { state: DeliveryState; count: number }[]): DeliveryCounts {
  const counts = Object.fromEntries(DELIVERY_STATES.map((state) => [state, 0])) as DeliveryCounts;
  for (const row of rows) counts[row.state] = Number(row.count);
  return counts;
}

/** The error for planning an issue the store does not know. */
export function unknownIssueError(issueSlug: string): LetterpressError {
  return new LetterpressError('E_STORE', `cannot plan deliveries: no issue with slug "${issueSlug}" in the store`);
}

/** The error for a second secret under one kid. */
export function duplicateSecretError(kid: string, cause: unknown): LetterpressError {
  return new LetterpressError('E_STORE', `a secret with kid "${kid}" already exists`, { cause });
}
