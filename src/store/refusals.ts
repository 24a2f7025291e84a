import type { Subscriber } from './types.ts';

/**
 * The words an operator reads when the store refuses to (re)add an address. They name the CLI
 * flag that overrides the refusal, so they live here once for every driver, not in SQL code.
 */

/** An address whose sticky status (unsubscribed, bounced, complained) an add or import would undo. */
export function describeStickyRefusal(existing: Subscriber): string {
  const since = existing.status === 'unsubscribed' ? (existing.unsubscribedAt ?? existing.updatedAt) : existing.updatedAt;
  return `${existing.status} on ${since.slice(0, 10)}; use --resubscribe to add it again`;
}

/** An erased address (only its suppression hash is left), erased at `erasedAt`. */
export function describeErasedRefusal(erasedAt: string): string {
  return `erased on ${erasedAt.slice(0, 10)}; use --resubscribe to add it again`;
}
