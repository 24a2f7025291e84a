import { hostname } from 'node:os';
import type { WorkerRegistry, WorkerRole } from '../store/types.ts';
import type { Clock } from '../util/clock.ts';
import type { Sleep } from '../util/sleep.ts';
import type { Transport } from './types.ts';

/** What a sender counts about its own messages, for its heartbeat. */
export interface SenderStats {
  /** Messages handed to the transport and not yet answered (waiting for a rate slot included). */
  inFlight: number;
  /** Messages the relay accepted (250) since the process started. */
  sentTotal: number;
}

/** A transport that counts what goes through it, and the counts. */
export function countingTransport(inner: Transport): { transport: Transport; stats: () => SenderStats } {
  const stats: SenderStats = { inFlight: 0, sentTotal: 0 };
  return {
    stats: () => ({ ...stats }),
    transport: {
      description: inner.description,
      concurrency: inner.concurrency,
      async send(message) {
        stats.inFlight += 1;
        try {
          const outcome = await inner.send(message);
          if (outcome.status === 'sent') stats.sentTotal += 1;
          return outcome;
        } finally {
          stats.inFlight -= 1;
        }
      },
      close: () => inner.close(),
    },
  };
}

/** How many heartbeats a sender may miss before `status` stops showing it (and the next beat of anyone prunes it). */
export const MISSED_BEATS_BEFORE_DEAD = 9;

export interface SenderPresenceDependencies {
  store: WorkerRegistry;
  clock: Clock;
  sleep: Sleep;
  /** The sender's holder id (`host:pid:random`). */
  holder: string;
  role: WorkerRole;
  stats: () => SenderStats;
  /** Every third of `delivery.leaseSeconds`, like the ledger's heartbeat. */
  beatMs: number;
  /** A failed heartbeat (a busy store): reported, never fatal; the next one tries again. */
  onError?: (error: unknown) => void;
}

/** The live row of a running sender: its heartbeat until stopped. */
export interface SenderPresence {
  /** Stops the heartbeat and removes the row (a clean stop is not a death). */
  stop(): Promise<void>;
}

/**
 * Registers a long-running sender (a worker, a daemon) in the store's `workers` table and
 * renews its row every `beatMs` with its messages in flight, its total and its rate over the
 * last interval, so `letterpress status` anywhere shows who sends. Each beat also forgets
 * senders that missed `MISSED_BEATS_BEFORE_DEAD` beats: they died without saying so.
 */
export function startSenderPresence(deps: SenderPresenceDependencies): SenderPresence {
  const stopped = new AbortController();
  const startedAt = deps.clock.now().toISOString();
  const [, pidText] = deps.holder.split(':');
  const pid = Number(pidText) || process.pid;
  let previous = { at: deps.clock.now().getTime(), sent: deps.stats().sentTotal };

  const beat = async () => {
    const now = deps.clock.now();
    const stats = deps.stats();
    const seconds = (now.getTime() - previous.at) / 1000;
    const rate = seconds > 0 ? Math.round(((stats.sentTotal - previous.sent) / seconds) * 10) / 10 : 0;
    previous = { at: now.getTime(), sent: stats.sentTotal };
    await deps.store.beatWorker(
      { holder: deps.holder, host: hostname(), pid, role: deps.role, startedAt, inFlight: stats.inFlight, sentTotal: stats.sentTotal, rate },
      now.toISOString(),
    );
    await deps.store.pruneWorkers(new Date(now.getTime() - MISSED_BEATS_BEFORE_DEAD * deps.beatMs).toISOString());
  };

  const running = (async () => {
    while (!stopped.signal.aborted) {
      await beat().catch((error: unknown) => deps.onError?.(error));
      await deps.sleep(deps.beatMs, stopped.signal).catch(() => undefined);
    }
  })();

  return {
    async stop() {
      stopped.abort();
      await running;
      await deps.store.removeWorker(deps.holder).catch((error: unknown) => deps.onError?.(error));
    },
  };
}
