import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { LeaseStore } from '../store/types.ts';
import type { Clock } from '../util/clock.ts';
import { LetterpressError } from '../util/errors.ts';

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
  sleep: (ms: number) => Promise<void>;
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
    await deps.sleep(Math.min(1000, Math.max(50, deps.leaseMs / 4)));
  }

  const lost = new AbortController();
  let renewing: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    renewing = (async () => {
      const now = deps.clock.now();
      const held = await deps.store.acquireLease(name, holder, untilFrom(now), now.toISOString());
      if (!held) lost.abort(new Error(`lost the "${name}" lease to another runner`));
    })().catch((error) => lost.abort(error));
  }, Math.max(20, Math.floor(deps.leaseMs / 3)));
  timer.unref();

  return {
    holder,
    lost: lost.signal,
    async release() {
      clearInterval(timer);
      await renewing;
      await deps.store.releaseLease(name, holder);
    },
  };
}
