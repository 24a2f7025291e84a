import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Delivery, DeliveryLedger, DeliveryMark, IssueStore, Subscriber, SubscriberStore } from '../store/types.ts';
import type { Clock } from '../util/clock.ts';
import type { ErrorCode } from '../util/error-codes.ts';
import { LetterpressError } from '../util/errors.ts';
import type { Sleep } from '../util/sleep.ts';
import { coalesceLookups } from '../util/coalesce-lookups.ts';
import { moveIssue } from '../publish/issue-state.ts';
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
  /** Rows handled so far this run (a row retried within the run counts once): never above `total`. */
  done: number;
  /** Rows waiting when the run started (queued + due deferred + orphaned). */
  total: number;
}

/**
 * A report's tally holds each handled row once, at its latest state this run (a row deferred and
 * then sent within the run counts as sent).
 */
export interface SendReport extends SendTally {
  slug: string;
  durationMs: number;
  /** Deferred rows left for a later run, and when the earliest is due. */
  remainingDeferred: number;
  nextRetryAt?: string;
  /** Set when the run stopped early: a session error (rows left queued) or an abort. */
  stoppedBy?: LetterpressError;
  /**
   * Rows this run claimed but could not mark or hand back because its lease on them lapsed (the
   * process stalled longer than `delivery.leaseSeconds`): they are orphans for any sender to
   * requeue, and are not in the counts above.
   */
  lost: number;
  /** Rows other senders had in flight (live leases) when this run ended, and when the last lease ends. */
  elsewhere?: { count: number; until: string };
  /** Whether every row of the issue is final (sent, failed, bounced or skipped). */
  complete: boolean;
}

export interface SendIssueDependencies {
  store: DeliveryLedger & Pick<SubscriberStore, 'getSubscribers' | 'setSubscriberStatus'> & Pick<IssueStore, 'transitionIssue'>;
  transport: Transport;
  clock: Clock;
  /** Waits for due retries (bounded by `retry.waitMs`); a fake clock's in tests. */
  sleep: Sleep;
  random: () => number;
  /** Fills the pre-built message for one recipient (To, Message-ID, token slots). */
  composeMessage: (delivery: Delivery, subscriber: Subscriber) => OutgoingMessage;
  /** This sender's id in the ledger (`host:pid:random`): claims, marks and the heartbeat name it. */
  holder: string;
  batchSize: number;
  /** A claimed row's lease; the heartbeat renews it every third of this. */
  leaseMs: number;
  /** Outcomes not yet written: at most `rows`; a batch is written at half of that, or `ms` after its first. */
  markBatch: { rows: number; ms: number };
  retry: RetryPolicy;
  /** Stops claiming new rows; in-flight messages finish, the rest go back to `queued`. */
  signal?: AbortSignal;
  onProgress?: (progress: SendProgress) => void;
  /** Rows left `sending` by a sender whose lease lapsed, put back to the queue during this run. */
  onOrphans?: (rows: number) => void;
}

const iso = (date: Date) => date.toISOString();

/** A reply as an example in a message that `status` and the daemon's log show: no subscriber's address. */
function withoutAddresses(reply: string): string {
  return reply.replace(/<[^<>\s]*@[^<>\s]*>|[^\s<>@]+@[^\s<>@]+/g, '<address>');
}

/** Transactions in a row that may go silent after DATA before the run stops (`E_SMTP_STALLED`). */
export const STALL_LIMIT = 3;

/**
 * The mass-bounce stop (`E_SMTP_MASS_BOUNCE`): a run's first `window` recipients are judged
 * together, and when at least `ratio` of them hard-bounce the relay or the configuration is at
 * fault, not the list. A run with fewer recipients is judged on all of them, but only from
 * `minimum` on: a few unknown addresses in a small list are just that.
 */
export const MASS_BOUNCE = { window: 20, minimum: 10, ratio: 0.9 } as const;

/**
 * The send loop for one issue (DESIGN.md §4). Rows are claimed from the ledger in batches and
 * marked `sending` with a lease before their SMTP transaction, and `sent` only after the
 * server's 250, so a crash re-sends at most the messages in flight. Each subscriber's status is
 * read again just before their message (an unsubscribe during the run is honoured). 4xx →
 * `deferred` with backoff; 5xx → `failed`, and `bounced` for unknown mailboxes; a session error
 * stops the run with every unsent row back in `queued`. Two faults of the relay that look like
 * recipients' are caught here, across all connections: `STALL_LIMIT` messages in a row that get
 * no answer after DATA (`E_SMTP_STALLED`), and nearly all of the first recipients bouncing
 * (`E_SMTP_MASS_BOUNCE`, judged before any subscriber is marked). The run never ends with rows
 * `sending` by this sender.
 *
 * Any number of senders may run it on one issue at once (DESIGN.md §4, "Many senders, one
 * ledger"): each claims disjoint rows under its holder id, a heartbeat renews the leases of its
 * rows in flight, its outcomes are written in small batches by compare-and-set (a row whose
 * lease lapsed is not marked: it may be another sender's by now), and rows a dead sender left
 * behind come back once their lease lapsed. After a crash, at most the messages in flight plus
 * the outcomes not yet written (`markBatch.rows`) go out again.
 */
export async function sendIssue(slug: string, deps: SendIssueDependencies): Promise<SendReport> {
  const started = performance.now();
  const { store, transport, clock } = deps;
  const tally: SendTally = { sent: 0, deferred: 0, failed: 0, bounced: 0, skipped: 0 };
  const local: { delivery: Delivery; subscriber: Subscriber }[] = [];
  let stoppedBy: LetterpressError | undefined;
  let exhausted = false;
  let claiming: Promise<void> | undefined;
  let waitDeadline: number | undefined;
  let done = 0;
  /**
   * Rows deferred this run and not handled since: a retry replaces their `deferred` count. Rows
   * in a final state are only counted (`finished`), so memory stays flat on a big list.
   */
  const deferredRows = new Set<number>();
  let finished = 0;
  /** Rows that went silent after DATA, one after another: held unmarked until the streak ends. */
  let streak: { delivery: Delivery; reply: string }[] = [];
  /** The mass-bounce window: rows handed to the transport before the verdict, and their results. */
  const judge = {
    size: 0,
    decided: false,
    started: new Set<number>(),
    /** Window rows whose first result is in (a retry within the window is not a new recipient). */
    answered: new Set<number>(),
    results: 0,
    /** Bounces held back (row unmarked, subscriber untouched) until the verdict. */
    bounces: [] as { delivery: Delivery; subscriberId: number; reply: string }[],
    waiters: [] as (() => void)[],
  };

  // The re-read of each subscriber just before their message: the connections that reach that
  // point together share one query (PostgreSQL: one round trip for several messages), and a
  // query never answers for a message that asked after it started.
  const currentSubscriber = coalesceLookups((ids: number[]) => store.getSubscribers(ids), (subscriber) => subscriber.id, 2);

  const counts = await store.countDeliveries(slug);
  // Rows still `sending` belong to other senders (orphans were requeued before): not this run's.
  const total = counts.queued + counts.deferred;
  if (total > 0) await moveIssue(store, slug, 'sending', { at: iso(clock.now()) });
  judge.size = Math.min(MASS_BOUNCE.window, total);
  // Too few recipients to tell a relay fault from a few stale addresses: no verdict to wait for.
  judge.decided = judge.size < MASS_BOUNCE.minimum;
  const progress = () => deps.onProgress?.({ slug, done, total, ...tally });

  /** Claims and outcomes written (marked or found lost), so the hand-back at the end knows what is missing. */
  let claims = 0;
  let settled = 0;
  let lost = 0;
  /** A row whose mark did not take (its lease lapsed): not this run's outcome after all. */
  const forget = (id: number, state: DeliveryMark['state']) => {
    tally[state] -= 1;
    if (state === 'deferred') deferredRows.delete(id);
    else finished -= 1;
    lost += 1;
    done = Math.min(total, finished + deferredRows.size);
  };

  // The heartbeat: one update every third of the lease renews every row this sender has in
  // flight, so a slow batch never loses its rows to another sender. A failed beat (a busy
  // store) is not fatal: the next one comes well before the lease ends.
  const beat = new AbortController();
  const heartbeat = (async () => {
    const every = Math.max(20, Math.floor(deps.leaseMs / 3));
    while (!beat.signal.aborted) {
      await deps.sleep(every, beat.signal);
      if (beat.signal.aborted) return;
      const now = clock.now();
      await store
        .renewDeliveryLeases({ holder: deps.holder, now: iso(now), leaseUntil: iso(new Date(now.getTime() + deps.leaseMs)) })
        .catch(() => undefined);
    }
  })();

  // Outcomes not yet written: the open batch, and the one being written. Together they never
  // hold more than `markBatch.rows`, so a crash loses at most that many outcomes besides the
  // messages in flight. A batch is written once it holds half of that, and the next one fills
  // while it is written: the connections go on sending instead of waiting for each write.
  let pendingMarks: DeliveryMark[] = [];
  let writingMarks = 0;
  const writeAt = Math.ceil(deps.markBatch.rows / 2);
  let flushTimer: ReturnType<typeof setTimeout> | undefined;
  let flushing: Promise<void> = Promise.resolve();
  const flushMarks = (): Promise<void> => {
    if (flushTimer !== undefined) clearTimeout(flushTimer);
    flushTimer = undefined;
    flushing = flushing.then(async () => {
      if (pendingMarks.length === 0) return;
      const batch = pendingMarks;
      pendingMarks = [];
      writingMarks = batch.length;
      try {
        const result = await store.markDeliveries({ holder: deps.holder, now: iso(clock.now()), marks: batch });
        settled += batch.length;
        if (result.lost.length > 0) {
          const stateOf = new Map(batch.map((mark) => [mark.id, mark.state]));
          for (const id of result.lost) forget(id, stateOf.get(id)!);
        }
        if (result.lost.length > 0) progress();
      } catch (error) {
        // Kept for the last flush of the run; the run stops (a store that stays locked).
        pendingMarks = [...batch, ...pendingMarks];
        stopWith(error, 'E_SEND');
      } finally {
        writingMarks = 0;
      }
      // What filled meanwhile goes next, if it is a batch's worth already.
      if (pendingMarks.length >= writeAt && !stopped()) void flushMarks();
    });
    return flushing;
  };
  const enqueueMark = async (mark: DeliveryMark) => {
    // (Once the run stops the bound no longer holds outcomes back: each is written as it comes
    // or by the last write in `finally`.)
    while (pendingMarks.length + writingMarks >= deps.markBatch.rows && !stopped()) await (writingMarks === 0 ? flushMarks() : flushing);
    pendingMarks.push(mark);
    if (deps.markBatch.ms === 0) await flushMarks();
    else if (pendingMarks.length >= writeAt && writingMarks === 0) void flushMarks();
    // Real time, not the injected clock: it bounds how long an outcome waits in memory.
    else flushTimer ??= setTimeout(() => void flushMarks(), deps.markBatch.ms);
  };

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
  // Rows waiting for the mass-bounce verdict give up their wait when the run stops for any reason.
  stopSignal.addEventListener('abort', () => {
    for (const wake of judge.waiters.splice(0)) wake();
  });

  /** Set when a claim ahead found nothing: the claims that follow wait until the rows run out. */
  let nothingAhead = false;
  /**
   * Claims the next batch; when nothing is claimable, waits for due retries within the bound.
   * A claim ahead (`ahead`: rows are still waiting to be sent) only claims: what to do when
   * nothing is left is decided once this sender's rows are all taken, as outcomes still to come
   * (a deferral due soon) may change it.
   */
  const claimMore = async (ahead = false): Promise<void> => {
    for (;;) {
      if (stopped()) return;
      const now = clock.now();
      const claimed = await store.claimDeliveries({
        issueSlug: slug,
        holder: deps.holder,
        limit: deps.batchSize,
        now: iso(now),
        leaseUntil: iso(new Date(now.getTime() + deps.leaseMs)),
      });
      if (claimed.length > 0) {
        if (!ahead) nothingAhead = false;
        claims += claimed.length;
        local.push(...claimed);
        // SQLite calls are synchronous and a fast transport answers at once: give timers and
        // I/O (the heartbeat, an HTTP server in the same process) a turn once per batch.
        await yieldToEventLoop();
        return;
      }
      if (ahead) {
        nothingAhead = true;
        return;
      }
      // Nothing claimable. Outcomes still in the batch may be deferrals due now, and a sender
      // that died may have left rows whose lease has lapsed since: write, requeue, look again.
      await flushMarks();
      if (stopped()) return;
      const orphans = await store.requeueOrphans(slug, iso(clock.now()));
      if (orphans > 0) {
        deps.onOrphans?.(orphans);
        continue;
      }
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

  // A claim ahead that fails is not this message's failure: it settles quietly, and the claim
  // made when the rows run out tries again (and throws if the store still fails).
  const startClaim = (ahead = false) =>
    (claiming ??= (ahead ? claimMore(true).catch(() => undefined) : claimMore()).finally(() => {
      claiming = undefined;
    }));
  /** Claimed rows left when the next batch is claimed: enough to keep every connection busy meanwhile. */
  const claimAheadAt = Math.max(deps.transport.concurrency * 2, Math.floor(deps.batchSize / 4));
  const take = async () => {
    while (local.length === 0 && !exhausted && !stopped()) await startClaim();
    // The next batch is claimed while this one is still being sent, so no connection waits for
    // the claim. Its rows are held under this sender's lease like any claimed row: a crash
    // leaves them to be requeued when the lease lapses, never sent twice; a stop hands them
    // back with the rest (the release below waits for a claim still running).
    if (local.length <= claimAheadAt && !nothingAhead && !exhausted && !stopped() && claiming === undefined) void startClaim(true);
    return stopped() ? undefined : local.shift();
  };

  /**
   * Marks one row. `relayFault`: the deferral is the relay's doing (a stall, a mass bounce), so
   * the give-up age does not turn it into `failed`: the recipient did nothing wrong.
   */
  const finish = async (
    delivery: Delivery,
    state: 'sent' | 'deferred' | 'failed' | 'bounced' | 'skipped',
    reply: string,
    options: { relayFault?: boolean } = {},
  ) => {
    const now = clock.now();
    let finalState = state;
    let nextAttemptAt: string | undefined;
    if (state === 'deferred') {
      if (!options.relayFault && shouldGiveUp(delivery.createdAt, now, deps.retry)) {
        finalState = 'failed';
        reply = `gave up after ${delivery.attempts} attempts: ${reply}`;
      } else {
        nextAttemptAt = iso(new Date(now.getTime() + retryDelayMs(delivery.attempts, deps.retry, deps.random)));
      }
    }
    await enqueueMark({ id: delivery.id, state: finalState, reply, nextAttemptAt, at: iso(now) });
    // Only queued and deferred rows are claimed: a row in a final state is never handled again.
    if (deferredRows.delete(delivery.id)) tally.deferred -= 1;
    if (finalState === 'deferred') deferredRows.add(delivery.id);
    else finished += 1;
    tally[finalState] += 1;
    // Only rows counted in `total` are claimed, so this stays ≤ total; the bound is the contract.
    done = Math.min(total, finished + deferredRows.size);
    progress();
  };

  /** Ends a streak of silent relays that did not reach the limit: plain deferrals. */
  const endStreak = async () => {
    const ended = streak;
    streak = [];
    for (const entry of ended) await finish(entry.delivery, 'deferred', entry.reply);
  };

  /** A message went out whole and no answer came: the relay may be stuck. */
  const recordSilence = async (delivery: Delivery, reply: string) => {
    if (stoppedBy?.code === 'E_SMTP_STALLED') return finish(delivery, 'deferred', reply, { relayFault: true });
    streak.push({ delivery, reply });
    if (streak.length < STALL_LIMIT) return;
    stopWith(
      new LetterpressError(
        'E_SMTP_STALLED',
        `the SMTP server took ${streak.length} messages in a row and then never answered (${reply}); it is stuck or overloaded, ` +
          `so the run stops instead of waiting a socket timeout (smtp.timeouts.socketMs) for every message. The messages left ` +
          `without an answer are deferred (a retry keeps their Message-ID), none failed; check the relay, then send again`,
      ),
      'E_SMTP_STALLED',
    );
    const tripped = streak;
    streak = [];
    for (const entry of tripped) await finish(entry.delivery, 'deferred', entry.reply, { relayFault: true });
  };

  /**
   * The mass-bounce verdict on the window's results. A mass bounce stops the run and defers
   * the held bounces; otherwise they are what they said: rows bounced, subscribers too.
   */
  const decide = async () => {
    if (judge.decided) return;
    judge.decided = true;
    const bounces = judge.bounces.splice(0);
    const n = judge.results;
    const massBounce = n >= MASS_BOUNCE.minimum && bounces.length / n >= MASS_BOUNCE.ratio;
    // Stop first, then let the waiting rows go: they must see the stop and stay queued.
    if (massBounce) {
      stopWith(
        new LetterpressError(
          'E_SMTP_MASS_BOUNCE',
          `the SMTP server called ${bounces.length} of the first ${n} recipients unknown (${withoutAddresses(bounces[0]!.reply)}); so many at once ` +
            `is a relay or configuration fault (the wrong smtp.host, a relay that does not know these domains), not the list: ` +
            `no subscriber was marked bounced and those ${bounces.length} messages are deferred; fix the relay, then send again`,
        ),
        'E_SMTP_MASS_BOUNCE',
      );
    }
    for (const wake of judge.waiters.splice(0)) wake();
    if (massBounce) {
      for (const entry of bounces) await finish(entry.delivery, 'deferred', entry.reply, { relayFault: true });
      return;
    }
    for (const entry of bounces) {
      await store.setSubscriberStatus(entry.subscriberId, 'bounced', iso(clock.now()));
      await finish(entry.delivery, 'bounced', entry.reply);
    }
  };

  /** A row that never reached the relay (skipped, unbuildable) frees its place in the window. */
  const withdraw = (delivery: Delivery) => {
    if (judge.decided || judge.answered.has(delivery.id) || !judge.started.delete(delivery.id)) return;
    for (const wake of judge.waiters.splice(0)) wake();
  };

  /**
   * Before a row is looked at: rows past the window wait for the verdict on it (read the
   * subscriber after the wait, so an unsubscribe meanwhile is still honoured).
   */
  const admit = async (delivery: Delivery): Promise<boolean> => {
    while (!judge.decided && !judge.started.has(delivery.id) && judge.started.size >= judge.size && !stopped()) {
      await new Promise<void>((resolve) => judge.waiters.push(resolve));
    }
    if (stopped()) return false;
    if (!judge.decided) judge.started.add(delivery.id);
    return true;
  };

  const deliverOne = async ({ delivery, subscriber }: { delivery: Delivery; subscriber: Subscriber }) => {
    // Leaves the row held when the run stopped meanwhile: it goes back to `queued` below.
    if (!(await admit(delivery))) return;
    const current = await currentSubscriber(subscriber.id);
    if (!current || current.status !== 'active') {
      withdraw(delivery);
      return finish(delivery, 'skipped', `subscriber is ${current?.status ?? 'erased'}`);
    }
    let message: OutgoingMessage;
    try {
      message = deps.composeMessage(delivery, current);
    } catch (error) {
      // An address that cannot go into a header (the store should never hold one, but it is
      // not the last line of defence) is this recipient's permanent problem: fail the row and
      // go on, rather than stop every later run at the same row.
      withdraw(delivery);
      return finish(delivery, 'failed', `cannot build the message: ${(error as Error).message}`);
    }
    let outcome;
    try {
      outcome = await transport.send(message);
    } catch (error) {
      stopWith(error, 'E_TRANSPORT');
      return;
    }
    const inWindow = !judge.decided && judge.started.has(delivery.id) && !judge.answered.has(delivery.id);
    if (inWindow) {
      judge.answered.add(delivery.id);
      judge.results += 1;
    }
    if (outcome.status === 'deferred' && outcome.timedOutAfterData) {
      await recordSilence(delivery, outcome.reply);
    } else {
      await endStreak();
      if (outcome.status === 'bounced' && inWindow) {
        judge.bounces.push({ delivery, subscriberId: current.id, reply: outcome.reply });
      } else if (outcome.status === 'bounced' && stoppedBy?.code === 'E_SMTP_MASS_BOUNCE') {
        await finish(delivery, 'deferred', outcome.reply, { relayFault: true });
      } else {
        if (outcome.status === 'bounced') await store.setSubscriberStatus(current.id, 'bounced', iso(clock.now()));
        await finish(delivery, outcome.status, outcome.reply);
      }
    }
    if (inWindow && judge.results >= judge.size) await decide();
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
    // The run ended before its window filled (deferred rows not due, a stop): judge what there is.
    await decide();
    await endStreak();
  } finally {
    try {
      // A claim still running (one made ahead, when the run stopped) lands first, so its rows
      // are counted and handed back below instead of staying `sending` until their lease lapses.
      await claiming?.catch(() => undefined);
      // The last batch first: a row handed back below must not have an outcome still in memory.
      await flushMarks();
      // Whatever this run claimed and did not finish goes back to the queue: after a session
      // error, an abort or an unexpected failure, no row stays `sending` under this holder.
      // If the last batch could not be written, nothing is handed back: those rows' messages
      // went out, and once their leases lapse they are orphans (sent again, within the bound).
      const unmarked = claims - settled;
      if (unmarked > 0 && pendingMarks.length === 0) {
        const released = await store.releaseDeliveries({ issueSlug: slug, holder: deps.holder, now: iso(clock.now()) });
        // The rest lapsed before we could hand them back: orphans now, for any sender.
        lost += Math.max(0, unmarked - released);
      }
    } finally {
      beat.abort();
      await heartbeat;
    }
  }
  if (!stoppedBy && deps.signal?.aborted) {
    stoppedBy = new LetterpressError('E_ABORTED', 'sending stopped before the end; the rest stays queued');
  }

  const after = await store.countDeliveries(slug);
  const complete = after.queued + after.sending + after.deferred === 0;
  if (complete) await moveIssue(store, slug, 'sent', { at: iso(clock.now()) });
  const elsewhere = after.sending > 0 ? await store.countInFlight(slug, iso(clock.now())) : undefined;
  return {
    slug,
    ...tally,
    lost,
    elsewhere: elsewhere && elsewhere.count > 0 && elsewhere.until ? { count: elsewhere.count, until: elsewhere.until } : undefined,
    durationMs: performance.now() - started,
    remainingDeferred: after.deferred,
    nextRetryAt: after.deferred > 0 ? await store.nextDeferredAt(slug) : undefined,
    stoppedBy,
    complete,
  };
}
