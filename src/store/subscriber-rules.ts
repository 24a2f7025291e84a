import { describeErasedRefusal, describeStickyRefusal } from './refusals.ts';
import type { ConfirmationFacts, IssueRecord, Subscriber, SubscriberSource, SubscriberStatus, UpsertOutcome } from './types.ts';

/**
 * The store's domain rules, pure: a driver reads what they need inside its transaction, asks
 * here what to do, and writes what the answer says. Both drivers obey the same rules this way,
 * and the contract suite checks them once per driver.
 */

/** Statuses an import or `add` never leaves without an explicit resubscribe. */
export const STICKY_STATUSES: ReadonlySet<SubscriberStatus> = new Set(['unsubscribed', 'bounced', 'complained']);

export interface UpsertInput {
  email: string;
  name?: string | null;
  status: SubscriberStatus;
  source: SubscriberSource;
  resubscribe?: boolean;
  dryRun?: boolean;
}

export interface UpsertResult {
  outcome: UpsertOutcome;
  subscriber?: Subscriber;
  reason?: string;
}

/**
 * What an upsert does, given the subscriber on file for the address (if any) and, when there is
 * none, the suppression left by an erasure (if any):
 * - `answer`: nothing to write (refused, unchanged, or a dry run's verdict);
 * - `insert`: add the address, first lifting its suppression when `liftSuppression`;
 * - `update`: set the name and status of `existing`.
 */
export type UpsertPlan =
  | { action: 'answer'; result: UpsertResult }
  | { action: 'insert'; liftSuppression: boolean }
  | { action: 'update'; existing: Subscriber; name: string | null; status: SubscriberStatus };

export function planUpsert(input: UpsertInput, existing: Subscriber | undefined, suppression: { createdAt: string } | undefined): UpsertPlan {
  if (existing === undefined) {
    if (suppression !== undefined && input.resubscribe !== true) {
      return { action: 'answer', result: { outcome: 'refused', reason: describeErasedRefusal(suppression.createdAt) } };
    }
    // A dry run has no row to return: the caller only needs the outcome.
    if (input.dryRun === true) return { action: 'answer', result: { outcome: 'added' } };
    return { action: 'insert', liftSuppression: suppression !== undefined };
  }
  // A web form only ever adds: what a visitor types never changes a subscriber already on
  // file (an active one must not drop back to pending because someone used the form).
  if (input.source === 'form') return { action: 'answer', result: { outcome: 'unchanged', subscriber: existing } };
  if (STICKY_STATUSES.has(existing.status) && input.status !== existing.status && input.resubscribe !== true) {
    return { action: 'answer', result: { outcome: 'refused', subscriber: existing, reason: describeStickyRefusal(existing) } };
  }
  // A missing name keeps the one on file: an import without a name column erases nothing.
  const name = input.name ?? existing.name;
  if (name === existing.name && input.status === existing.status) return { action: 'answer', result: { outcome: 'unchanged', subscriber: existing } };
  if (input.dryRun === true) return { action: 'answer', result: { outcome: 'updated', subscriber: { ...existing, name, status: input.status } } };
  return { action: 'update', existing, name, status: input.status };
}

/** The facts `requestConfirmation`'s `decide` sees, from what the driver read. */
export function confirmationFacts(reads: {
  subscriber: Subscriber | undefined;
  suppressed: boolean;
  addressCount: number;
  lastSentAt: string | null;
  mailboxCount: number;
  overallCount: number;
}): ConfirmationFacts {
  return {
    subscriber: reads.subscriber,
    erased: reads.subscriber === undefined && reads.suppressed,
    address: { count: Number(reads.addressCount), lastSentAt: reads.lastSentAt },
    mailboxCount: Number(reads.mailboxCount),
    overallCount: Number(reads.overallCount),
  };
}

/**
 * Whether `reserveConfirmationEmail` may record one more: not when the latest was recorded
 * after `cooldownSince`, nor when `maxCount` were already recorded in the window.
 */
export function mayReserveConfirmation(log: { lastSentAt: string | null; windowCount: number }, limits: { cooldownSince: string; maxCount: number }): boolean {
  if (log.lastSentAt !== null && log.lastSentAt > limits.cooldownSince) return false;
  return Number(log.windowCount) < limits.maxCount;
}

/** Only a change of status queues a welcome: two confirmations racing send one. */
export function shouldActivate(current: Subscriber | undefined): current is Subscriber {
  return current !== undefined && current.status !== 'active';
}

/**
 * Whether an issue's plan can be taken back: it is `published` or `planned` and none of its
 * rows was claimed, attempted or finished (`unplannableRows` counts those).
 */
export function mayUnplan(record: Pick<IssueRecord, 'state'> | undefined, unplannableRows: number): boolean {
  return record !== undefined && (record.state === 'published' || record.state === 'planned') && Number(unplannableRows) === 0;
}
