import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { SubscriptionMailer } from '../server/types.ts';
import type { OutgoingMail, OutgoingMailStore, Subscriber, SubscriberStatus } from '../store/types.ts';
import type { Clock } from '../util/clock.ts';
import { retryDelayMs } from './retry-policy.ts';
import type { SendOutcome } from './types.ts';

/** How the queue retries and leases, in milliseconds (config `server.mailQueue`). */
export interface OutgoingMailPolicy {
  retryBaseMs: number;
  retryMaxMs: number;
  /** Attempts before an email is given up (`failed`). */
  maxAttempts: number;
  /** How long a claimed row stays ours; above the transport's socket timeout, so a live send keeps it. */
  leaseMs: number;
  /** The fallback look at the queue when nothing woke the sender (another process queued). */
  pollMs: number;
}

/** The policy of config `server.mailQueue` (seconds there, milliseconds here). */
export function mailQueuePolicy(queue: {
  retryBaseSeconds: number;
  retryMaxSeconds: number;
  maxAttempts: number;
  leaseSeconds: number;
  pollSeconds: number;
}): OutgoingMailPolicy {
  return {
    retryBaseMs: queue.retryBaseSeconds * 1000,
    retryMaxMs: queue.retryMaxSeconds * 1000,
    maxAttempts: queue.maxAttempts,
    leaseMs: queue.leaseSeconds * 1000,
    pollMs: queue.pollSeconds * 1000,
  };
}

/** The log lines of the queue (pino's shape: fields, then message); they name subscriber ids, never addresses. */
export interface OutgoingMailLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export interface OutgoingMailSenderDependencies {
  store: Pick<OutgoingMailStore, 'claimOutgoingMail' | 'finishOutgoingMail' | 'nextOutgoingMailDue'>;
  mailer: SubscriptionMailer;
  clock: Clock;
  log: OutgoingMailLog;
  policy: OutgoingMailPolicy;
  /** Names this sender on its leases; default host, pid and a random part. */
  holder?: string;
  /** Emails sent at once (one claim's worth). */
  concurrency?: number;
  /** Jitter source for the backoff; injected for tests. */
  random?: () => number;
  /** Masks addresses in a relay's reply or an error before it is logged or stored (the server's redaction). */
  redact?: (text: string) => string;
}

/** A loop that sends the queued subscription emails: started by a serving process, woken by the routes. */
export interface OutgoingMailSender {
  /** Starts the loop (idempotent): it sends what is due, then sleeps until woken, a row is due, or the poll. */
  start(): void;
  /** Something was queued: look now rather than at the next poll. Harmless when not started. */
  wake(): void;
  /** Sends everything claimable now, once, and resolves with how many rows it handled. */
  runOnce(): Promise<number>;
  /**
   * Stops the loop; waits up to `timeoutMs` for emails in flight. One still in flight after that
   * keeps its lease, so a later sender takes it over once the lease lapses: never lost.
   */
  stop(timeoutMs?: number): Promise<void>;
}

/** Who a queued email of each kind may still go to when its turn comes. */
const STILL_WANTED: Readonly<Record<OutgoingMail['kind'], ReadonlySet<SubscriberStatus>>> = {
  // Confirmed (or bounced, complained) meanwhile: the link has nothing left to do.
  confirmation: new Set<SubscriberStatus>(['pending', 'unsubscribed']),
  welcome: new Set<SubscriberStatus>(['active']),
};

/**
 * The sender of the outgoing-mail queue: claims rows with a lease (so any number of processes
 * may run one), sends each through the subscription mailer, records `sent`, retries temporary
 * failures with exponential backoff up to `maxAttempts`, and takes over rows whose lease lapsed
 * (a sender that died mid-send), like the delivery ledger: at most the emails in flight at a
 * crash go out twice, and none is lost.
 */
export function createOutgoingMailSender(deps: OutgoingMailSenderDependencies): OutgoingMailSender {
  const { store, mailer, clock, log, policy } = deps;
  const holder = deps.holder ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const concurrency = Math.max(1, deps.concurrency ?? 4);
  const random = deps.random ?? Math.random;
  const redact = deps.redact ?? ((text: string) => text);

  let running: Promise<void> | undefined;
  let stopped = false;
  let woken = false;
  let wakeSleeper: (() => void) | undefined;

  const sendOne = async (mail: OutgoingMail, subscriber: Subscriber): Promise<void> => {
    const fields = { event: 'outgoing-mail', mailId: mail.id, kind: mail.kind, subscriberId: subscriber.id, attempt: mail.attempts };
    const finish = async (outcome: Parameters<typeof store.finishOutgoingMail>[2]) => {
      const recorded = await store.finishOutgoingMail(mail.id, holder, outcome);
      if (!recorded) log.warn(fields, `${mail.kind} email ${mail.id}: another sender took it over (its lease lapsed); its record stands`);
    };
    if (!STILL_WANTED[mail.kind].has(subscriber.status)) {
      await finish({ state: 'skipped', reply: `subscriber is ${subscriber.status}`, at: clock.now().toISOString() });
      log.info({ ...fields, status: subscriber.status }, `${mail.kind} email not sent: the subscriber is ${subscriber.status} now`);
      return;
    }
    let outcome: SendOutcome | { status: 'error'; reply: string; code?: string };
    try {
      const sent = mail.kind === 'confirmation' ? await mailer.sendConfirmation(subscriber) : await mailer.sendWelcome(subscriber);
      // A welcome with no issue to send yet has nothing to do.
      outcome = sent ?? { status: 'sent', reply: 'no published issue: nothing to send' };
    } catch (error) {
      // A session problem (relay down, login refused, outbox unwritable) is the sender's, not
      // the address's: retried like a 4xx, within the same bound.
      const err = error as { code?: string; message?: string };
      outcome = { status: 'error', code: err.code, reply: String(err.message ?? error) };
    }
    outcome = { ...outcome, reply: redact(outcome.reply) };
    const failedHow = outcome.status === 'error' ? `failed (${outcome.code ?? 'error'})` : `not sent (${outcome.status})`;
    const now = clock.now();
    if (outcome.status === 'sent') {
      await finish({ state: 'sent', reply: outcome.reply, at: now.toISOString() });
      log.info(fields, `${mail.kind} email sent`);
      return;
    }
    if (outcome.status === 'failed' || outcome.status === 'bounced') {
      await finish({ state: 'failed', reply: outcome.reply, at: now.toISOString() });
      log.warn({ ...fields, reply: outcome.reply }, `${mail.kind} email refused by the relay: given up`);
      return;
    }
    if (mail.attempts >= policy.maxAttempts) {
      await finish({ state: 'failed', reply: outcome.reply, at: now.toISOString() });
      log.error({ ...fields, reply: outcome.reply }, `${mail.kind} email ${failedHow}: given up after ${mail.attempts} attempts`);
      return;
    }
    const retryAt = new Date(now.getTime() + retryDelayMs(mail.attempts, { baseMs: policy.retryBaseMs, maxMs: policy.retryMaxMs }, random));
    await finish({ state: 'queued', reply: outcome.reply, nextAttemptAt: retryAt.toISOString(), at: now.toISOString() });
    log.warn({ ...fields, reply: outcome.reply, retryAt: retryAt.toISOString() }, `${mail.kind} email ${failedHow}: will retry`);
  };

  const runOnce = async (): Promise<number> => {
    let handled = 0;
    for (;;) {
      const now = clock.now();
      const claimed = await store.claimOutgoingMail({
        holder,
        now: now.toISOString(),
        leaseUntil: new Date(now.getTime() + policy.leaseMs).toISOString(),
        limit: concurrency,
      });
      if (claimed.length === 0) break;
      await Promise.all(
        claimed.map(({ mail, subscriber }) =>
          sendOne(mail, subscriber).catch((error: unknown) => {
            // The store refused the record (busy, gone): the lease lapses and the row is sent later.
            log.error({ event: 'outgoing-mail', mailId: mail.id, code: (error as { code?: string }).code }, 'recording an email failed');
          }),
        ),
      );
      handled += claimed.length;
      if (stopped) break;
    }
    return handled;
  };

  /** Until woken, the next row is due, or the poll, whichever comes first. */
  const sleep = async (): Promise<void> => {
    let waitMs = policy.pollMs;
    try {
      const due = await store.nextOutgoingMailDue();
      if (due !== undefined) waitMs = Math.min(waitMs, Math.max(0, Date.parse(due) - clock.now().getTime() + 5));
    } catch {
      // A busy store: the poll looks again.
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, waitMs);
      wakeSleeper = () => {
        clearTimeout(timer);
        resolve();
      };
      if (woken || stopped) wakeSleeper();
    });
    wakeSleeper = undefined;
  };

  const loop = async (): Promise<void> => {
    while (!stopped) {
      woken = false;
      try {
        await runOnce();
      } catch (error) {
        log.error({ event: 'outgoing-mail', code: (error as { code?: string }).code, message: String((error as Error).message ?? error) }, 'the outgoing-mail queue could not be read; trying again');
      }
      if (stopped) break;
      if (!woken) await sleep();
    }
  };

  return {
    start() {
      if (running !== undefined || stopped) return;
      running = loop();
    },
    wake() {
      woken = true;
      wakeSleeper?.();
    },
    runOnce,
    async stop(timeoutMs = 10_000) {
      stopped = true;
      wakeSleeper?.();
      if (running === undefined) return;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([running, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
      clearTimeout(timer);
    },
  };
}
