import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { LeaseStore } from '../store/types.ts';
import type { Clock } from '../util/clock.ts';
import { LetterpressError } from '../util/errors.ts';
import type { Sleep } from '../util/sleep.ts';

/** A held lease: `lost` aborts if a renewal fails (another runner took over after we stalled). */
/** The one lease every sending process takes: one runner per store at a time. */
export const SEND_LEASE = 'send';

export interface RunnerLease {
  readonly holder: string;
  readonly lost: AbortSignal;
  release(): Promise<void>;
}

export interface LeaseDependencies {
  store: LeaseStore & { getLease?(name: string): Promise<{ holder: string; until: string } | undefined> };
  clock: Clock;
  /** Paces both the wait for a busy lease and the renewals (a fake clock's in tests). */
  sleep: Sleep;
  leaseMs: number;
  /** Called once when the lease is busy and we start waiting for it. */
  onWait?: (holder: string, until: string) => void;
  /** Whether the process behind a holder id still runs; defaults to a local pid check. */
  isHolderAlive?: (holder: string) => boolean;
  /** Stops waiting (Ctrl-C, shutdown): the wait ends with E_ABORTED. */
  signal?: AbortSignal;
}

/** A holder id that names this process: `host:pid:random`. */
export function createHolderId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
}

/**
 * True unless the holder ran on this host and its process is gone. A holder on another host
 * is taken to be alive; its lease simply expires if it died.
 */
export function isLocalHolderAlive(holder: string): boolean {
  const [host, pidText] = holder.split(':');
  const pid = Number(pidText);
  if (host !== hostname() || !Number.isInteger(pid) || pid <= 0) return true;
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes the named lease, waiting while a live runner holds it, and keeps renewing it until
 * released. A lease left behind by a runner on this host that was killed is taken over at
 * once rather than after it expires, so a re-run after a crash starts straight away.
 */
export async function acquireRunnerLease(name: string, holder: string, deps: LeaseDependencies): Promise<RunnerLease> {
  const isAlive = deps.isHolderAlive ?? isLocalHolderAlive;
  const untilFrom = (now: Date) => new Date(now.getTime() + deps.leaseMs).toISOString();
  let warned = false;
  for (;;) {
    if (deps.signal?.aborted) {
      throw new LetterpressError('E_ABORTED', `stopped while waiting for the "${name}" lease; nothing was sent`);
    }
    const now = deps.clock.now();
    if (await deps.store.acquireLease(name, holder, untilFrom(now), now.toISOString())) break;
    const current = await deps.store.getLease?.(name);
    if (current && !isAlive(current.holder)) {
      await deps.store.releaseLease(name, current.holder);
      continue;
    }
    if (current && !warned) {
      warned = true;
      deps.onWait?.(current.holder, current.until);
    }
    await deps.sleep(Math.min(1000, Math.max(50, deps.leaseMs / 4)), deps.signal);
  }

  const lost = new AbortController();
  const released = new AbortController();
  const renewEveryMs = Math.max(20, Math.floor(deps.leaseMs / 3));
  // Renewals in a loop on the injected sleep (not a timer of its own): a fake clock drives them,
  // and release() ends the pending wait at once.
  const renewing = (async () => {
    while (!released.signal.aborted && !lost.signal.aborted) {
      await deps.sleep(renewEveryMs, released.signal);
      if (released.signal.aborted) return;
      const now = deps.clock.now();
      const held = await deps.store.acquireLease(name, holder, untilFrom(now), now.toISOString());
      if (!held) lost.abort(new Error(`lost the "${name}" lease to another runner`));
    }
  })().catch((error: unknown) => lost.abort(error));

  return {
    holder,
    lost: lost.signal,
    async release() {
      released.abort();
      await renewing;
      await deps.store.releaseLease(name, holder);
    },
  };
}
