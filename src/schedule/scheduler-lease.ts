import { isLocalHolderAlive } from '../deliver/runner-lease.ts';
import type { LeaseStore } from '../store/types.ts';
import type { Clock } from '../util/clock.ts';
import type { Sleep } from '../util/sleep.ts';

/** The lease that elects which long-running instance schedules. */
export const SCHEDULER_LEASE = 'scheduler';

/** This instance's side of the election. */
export interface SchedulerElection {
  /** Whether this instance schedules now (holds the lease). */
  isLeader(): boolean;
  /** The holder id of whoever schedules, as last seen (this instance's own when it leads). */
  leader(): string | undefined;
  /** Stops trying and renewing; a held lease is released, so another instance takes over at its next try. */
  stop(): Promise<void>;
}

export interface SchedulerElectionDependencies {
  store: LeaseStore;
  clock: Clock;
  /** Paces the tries and renewals (a fake clock's in tests). */
  sleep: Sleep;
  /** This instance's holder id (`host:pid:random`). */
  holder: string;
  /** `schedule.leaseSeconds`: renewed every third of it; a dead holder's lease lapses after it. */
  leaseMs: number;
  /** Told when this instance starts or stops scheduling, with the holder that schedules instead. */
  onChange: (leading: boolean, leader: string | undefined) => void;
  /** Whether the process behind a holder id still runs; defaults to a local pid check. */
  isHolderAlive?: (holder: string) => boolean;
  /** A try that failed (a busy store): reported, never fatal. */
  onError?: (error: unknown) => void;
}

/**
 * The `scheduler` lease (DESIGN.md §4, §5): of several `letterpress start` instances on one
 * store, exactly one runs the cron ticks, the file watcher and the send window; it renews the
 * lease every third of `leaseMs`. The others try as often, and take over once the lease lapsed
 * (the holder died or stalled), or at once when the holder was a process on this host that is
 * gone. The lease never guards `publish` or `send <slug>`: recording, planning and sending are
 * compare-and-set in the store whoever runs them, so two schedulers for a moment (a stalled
 * leader waking up) duplicate work, never mail. Resolves after the first try, so the caller
 * knows its role before it schedules anything.
 */
export async function startSchedulerElection(deps: SchedulerElectionDependencies): Promise<SchedulerElection> {
  const isAlive = deps.isHolderAlive ?? isLocalHolderAlive;
  const stopped = new AbortController();
  const everyMs = Math.max(20, Math.floor(deps.leaseMs / 3));
  let leading = false;
  let heldUntil = 0;
  let leader: string | undefined;

  const attempt = async () => {
    const now = deps.clock.now();
    let held = await deps.store.acquireLease(SCHEDULER_LEASE, deps.holder, new Date(now.getTime() + deps.leaseMs).toISOString(), now.toISOString());
    if (!held) {
      const current = await deps.store.getLease(SCHEDULER_LEASE);
      // Left by a process on this host that was killed: no need to wait for the lease to lapse.
      if (current && !isAlive(current.holder)) {
        await deps.store.releaseLease(SCHEDULER_LEASE, current.holder);
        held = await deps.store.acquireLease(SCHEDULER_LEASE, deps.holder, new Date(now.getTime() + deps.leaseMs).toISOString(), now.toISOString());
      }
      if (!held) leader = (await deps.store.getLease(SCHEDULER_LEASE))?.holder;
    }
    if (held) {
      heldUntil = now.getTime() + deps.leaseMs;
      leader = deps.holder;
    }
    if (held !== leading) {
      leading = held;
      deps.onChange(leading, leader);
    }
  };

  const guarded = () =>
    attempt().catch((error: unknown) => {
      deps.onError?.(error);
      // A renewal that could not be made: once our lease has run out, another instance may hold
      // it, so stop scheduling rather than risk two.
      if (leading && deps.clock.now().getTime() >= heldUntil) {
        leading = false;
        leader = undefined;
        deps.onChange(false, undefined);
      }
    });

  await guarded();
  const running = (async () => {
    while (!stopped.signal.aborted) {
      await deps.sleep(everyMs, stopped.signal);
      if (stopped.signal.aborted) return;
      await guarded();
    }
  })();

  return {
    isLeader: () => leading,
    leader: () => leader,
    async stop() {
      stopped.abort();
      await running;
      if (leading) {
        leading = false;
        await deps.store.releaseLease(SCHEDULER_LEASE, deps.holder).catch((error: unknown) => deps.onError?.(error));
      }
    },
  };
}
