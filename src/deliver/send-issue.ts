import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Delivery, DeliveryLedger, IssueStore, Subscriber, SubscriberStore } from '../store/types.ts';
import type { Clock } from '../util/clock.ts';
import type { ErrorCode } from '../util/error-codes.ts';
import { LetterpressError } from '../util/errors.ts';
import type { Sleep } from '../util/sleep.ts';
import { retryDelayMs, shouldGiveUp, type RetryPolicy } from './retry-policy.ts';
import type { OutgoingMessage, Transport } from './types.ts';

/** Counts of one send run, as the summary and the progress line show them. */
export interface SendTally {
  sent: number;
  deferred: number;
  failed: number;
  bounced: number;
  skipped: number;
}

export interface SendProgress extends SendTally {
  slug: string;
  /** Rows handled so far this run (each counted once per attempt). */
  done: number;
  /** Rows waiting when the run started (queued + due deferred + orphaned). */
  total: number;
}

export interface SendReport extends SendTally {
  slug: string;
  durationMs: number;
  /** Deferred rows left for a later run, and when the earliest is due. */
  remainingDeferred: number;
  nextRetryAt?: string;
  /** Set when the run stopped early: a session error (rows left queued) or an abort. */
  stoppedBy?: LetterpressError;
  /** Whether every row of the issue is final (sent, failed, bounced or skipped). */
  complete: boolean;
}

export interface SendIssueDependencies {
  store: DeliveryLedger & Pick<SubscriberStore, 'getSubscriber' | 'setSubscriberStatus'> & Pick<IssueStore, 'setIssueState'>;
  transport: Transport;
  clock: Clock;
  /** Waits for due retries (bounded by `retry.waitMs`); a fake clock's in tests. */
  sleep: Sleep;
  random: () => number;
  /** Fills the pre-built message for one recipient (To, Message-ID, token slots). */
  composeMessage: (delivery: Delivery, subscriber: Subscriber) => OutgoingMessage;
  batchSize: number;
  leaseMs: number;
  retry: RetryPolicy;
  /** Stops claiming new rows; in-flight messages finish, the rest go back to `queued`. */
  signal?: AbortSignal;
  onProgress?: (progress: SendProgress) => void;
}

const iso = (date: Date) => date.toISOString();

/**
 * The send loop for one issue (DESIGN.md §4). Rows are claimed from the ledger in batches and
 * marked `sending` with a lease before their SMTP transaction, and `sent` only after the
 * server's 250, so a crash re-sends at most the messages in flight. Each subscriber's status is
 * read again just before their message (an unsubscribe during the run is honoured). 4xx →
 * `deferred` with backoff; 5xx → `failed`, and `bounced` for unknown mailboxes; a session error
 * stops the run with every unsent row back in `queued`. The run never ends with rows
 * `sending`. Call it while holding the runner lease.
 */
export async function sendIssue(slug: string, deps: SendIssueDependencies): Promise<SendReport> {
  const started = performance.now();
  const { store, transport, clock } = deps;
  const tally: SendTally = { sent: 0, deferred: 0, failed: 0, bounced: 0, skipped: 0 };
  const held = new Set<number>();
  const local: { delivery: Delivery; subscriber: Subscriber }[] = [];
  let stoppedBy: LetterpressError | undefined;
  let exhausted = false;
  let claiming: Promise<void> | undefined;
  let waitDeadline: number | undefined;
  let done = 0;

  const counts = await store.countDeliveries(slug);
  const total = counts.queued + counts.sending + counts.deferred;
  if (total > 0) await store.setIssueState(slug, 'sending');
  const progress = () => deps.onProgress?.({ slug, done, total, ...tally });

  const stopped = () => stoppedBy !== undefined || deps.signal?.aborted === true;
  // Ends a wait for retries at once when the run stops (shutdown, or a session error).
  const stopController = new AbortController();
  const stopSignal = deps.signal ? AbortSignal.any([deps.signal, stopController.signal]) : stopController.signal;
  /** The first failure that ends the run is the one reported; every worker stops claiming. */
  const stopWith = (error: unknown, code: ErrorCode) => {
    stoppedBy ??=
      error instanceof LetterpressError
        ? error
        : new LetterpressError(code, `sending failed: ${(error as Error).message}`, { cause: error });
    stopController.abort();
  };

  /** Claims the next batch; when nothing is claimable, waits for due retries within the bound. */
  const claimMore = async (): Promise<void> => {
    for (;;) {
      if (stopped()) return;
      const now = clock.now();
      const claimed = await store.claimDeliveries({
        issueSlug: slug,
        limit: deps.batchSize,
        now: iso(now),
        leaseUntil: iso(new Date(now.getTime() + deps.leaseMs)),
      });
      // A row this run still has in flight can come back when its lease lapsed during a slow
      // batch: it is already being sent, so it must not be sent a second time.
      const fresh = claimed.filter((row) => !held.has(row.delivery.id));
      if (fresh.length > 0) {
        for (const row of fresh) held.add(row.delivery.id);
        local.push(...fresh);
        // SQLite calls are synchronous and a fast transport answers at once: give timers and
        // I/O (lease renewal, an HTTP server in the same process) a turn once per batch.
        await yieldToEventLoop();
        return;
      }
      // Only rows already in flight came back (the claim renewed their leases): claim again.
      if (claimed.length > 0) continue;
      const next = await store.nextDeferredAt(slug);
      if (next === undefined) {
        exhausted = true;
        return;
      }
      waitDeadline ??= now.getTime() + deps.retry.waitMs;
      const dueAt = Date.parse(next);
      if (dueAt > waitDeadline) {
        exhausted = true;
        return;
      }
      await deps.sleep(Math.max(0, dueAt - clock.now().getTime()), stopSignal);
    }
  };

  const take = async () => {
    while (local.length === 0 && !exhausted && !stopped()) {
      claiming ??= claimMore().finally(() => {
        claiming = undefined;
      });
      await claiming;
    }
    return stopped() ? undefined : local.shift();
  };

  const finish = async (delivery: Delivery, state: 'sent' | 'deferred' | 'failed' | 'bounced' | 'skipped', reply: string) => {
    const now = clock.now();
    let finalState = state;
    let nextAttemptAt: string | undefined;
    if (state === 'deferred') {
      if (shouldGiveUp(delivery.createdAt, now, deps.retry)) {
        finalState = 'failed';
        reply = `gave up after ${delivery.attempts} attempts: ${reply}`;
      } else {
        nextAttemptAt = iso(new Date(now.getTime() + retryDelayMs(delivery.attempts, deps.retry, deps.random)));
      }
    }
    await store.markDelivery(delivery.id, { state: finalState, reply, nextAttemptAt, at: iso(now) });
    held.delete(delivery.id);
    tally[finalState] += 1;
    done += 1;
    progress();
  };

  const deliverOne = async ({ delivery, subscriber }: { delivery: Delivery; subscriber: Subscriber }) => {
    const current = await store.getSubscriber(subscriber.id);
    if (!current || current.status !== 'active') {
      return finish(delivery, 'skipped', `subscriber is ${current?.status ?? 'erased'}`);
    }
    let message: OutgoingMessage;
    try {
      message = deps.composeMessage(delivery, current);
    } catch (error) {
      // An address that cannot go into a header (the store should never hold one, but it is
      // not the last line of defence) is this recipient's permanent problem: fail the row and
      // go on, rather than stop every later run at the same row.
      return finish(delivery, 'failed', `cannot build the message: ${(error as Error).message}`);
    }
    let outcome;
    try {
      outcome = await transport.send(message);
    } catch (error) {
      stopWith(error, 'E_TRANSPORT');
      return;
    }
    if (outcome.status === 'bounced') {
      await store.setSubscriberStatus(current.id, 'bounced', iso(clock.now()));
    }
    await finish(delivery, outcome.status, outcome.reply);
  };

  const worker = async () => {
    for (;;) {
      const row = await take();
      if (!row) return;
      try {
        await deliverOne(row);
      } catch (error) {
        // Stop every worker, not just this one: Promise.all would otherwise settle while the
        // others still send, and the release below would race their claims and marks.
        stopWith(error, 'E_SEND');
        return;
      }
    }
  };

  try {
    await Promise.all(Array.from({ length: Math.max(1, deps.transport.concurrency) }, worker));
  } finally {
    // Whatever this run claimed and did not finish goes back to the queue: after a session
    // error, an abort or an unexpected failure, no row stays `sending`.
    if (held.size > 0) await store.releaseDeliveries([...held], iso(clock.now()));
    held.clear();
  }
  if (!stoppedBy && deps.signal?.aborted) {
    stoppedBy = new LetterpressError('E_ABORTED', 'sending stopped before the end; the rest stays queued');
  }

  const after = await store.countDeliveries(slug);
  const complete = after.queued + after.sending + after.deferred === 0;
  if (complete) await store.setIssueState(slug, 'sent');
  return {
    slug,
    ...tally,
    durationMs: performance.now() - started,
    remainingDeferred: after.deferred,
    nextRetryAt: after.deferred > 0 ? await store.nextDeferredAt(slug) : undefined,
    stoppedBy,
    complete,
  };
}
