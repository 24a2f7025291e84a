import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { createTask, parse } from 'node-cron';
import type { ScheduledJob, Scheduler } from '../../src/schedule/scheduler.ts';
import type { Clock } from '../../src/util/clock.ts';
import type { Sleep } from '../../src/util/sleep.ts';

/** A cron job registered with the fake scheduler, and how often it fired. */
export interface FakeJob {
  expression: string;
  timezone: string;
  name?: string;
  fired: number;
  stopped: boolean;
}

/**
 * Time that moves only when the test says so. `sleep` waits on it, `scheduler` fires cron jobs
 * (matched by node-cron's own parser, in their timezone) at the whole seconds they name, and
 * `advance` walks forward event by event, in order, giving the code woken at each step a few
 * turns of the real event loop. Nothing here waits for wall time.
 */
export interface FakeClock {
  clock: Clock;
  sleep: Sleep;
  scheduler: Scheduler;
  jobs: FakeJob[];
  /** Current fake time, ms since the epoch. */
  now(): number;
  /** Moves time forward by `ms`, resolving due sleeps and firing due cron jobs on the way. */
  advance(ms: number): Promise<void>;
  /** Moves time to the next pending sleep or cron firing (none: does nothing) and returns how far it went. */
  advanceToNext(): Promise<number>;
  /** Sleeps not yet due or aborted. */
  pendingSleeps(): number[];
  /** The job registered under `name`. */
  job(name: string): FakeJob;
}

interface Timer {
  due: number;
  resolve: () => void;
}

interface Job extends FakeJob {
  lastFired: number;
  fn: () => void;
  matches: (at: number) => boolean;
  seconds: number[];
}

/** Gives code woken by a fake event a few real event-loop turns (SQLite and fs calls in between). */
async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await yieldToEventLoop();
}

export function createFakeClock(start: Date | number = Date.UTC(2024, 4, 6, 0, 0, 0)): FakeClock {
  let current = typeof start === 'number' ? start : start.getTime();
  const timers: Timer[] = [];
  const jobs: Job[] = [];

  /** The first instant after `after` (and not after `limit`) when `job` fires. */
  const nextFiring = (job: Job, after: number, limit: number): number | undefined => {
    for (let minute = Math.floor(after / 60_000) * 60_000; minute <= limit; minute += 60_000) {
      for (const second of job.seconds) {
        const at = minute + second * 1000;
        if (at > after && at <= limit && job.matches(at)) return at;
      }
    }
    return undefined;
  };

  const sleep: Sleep = (ms, signal) =>
    new Promise<void>((resolve) => {
      if (signal?.aborted) return resolve();
      const timer: Timer = {
        due: current + Math.max(0, ms),
        resolve: () => {
          timers.splice(timers.indexOf(timer), 1);
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = () => timer.resolve();
      timers.push(timer);
      signal?.addEventListener('abort', onAbort, { once: true });
    });

  const scheduler: Scheduler = {
    schedule(expression, timezone, fn, options = {}): ScheduledJob {
      const task = createTask(expression, () => {}, { timezone });
      const job: Job = {
        expression,
        timezone,
        name: options.name,
        fired: 0,
        stopped: false,
        lastFired: -Infinity,
        fn,
        matches: (at) => task.match(new Date(at)),
        seconds: [...parse(expression).second].sort((a, b) => a - b),
      };
      jobs.push(job);
      return {
        stop: async () => {
          job.stopped = true;
        },
        // A week ahead covers the schedules the tests use (ticks, daily and weekly windows).
        nextRun: () => {
          const at = nextFiring(job, current, current + 8 * 86_400_000);
          return at === undefined ? undefined : new Date(at);
        },
      };
    },
  };

  /** The next event not after `limit`: a due sleep or a cron firing. */
  const nextEvent = (limit: number): number | undefined => {
    let next: number | undefined;
    for (const timer of timers) if (timer.due <= limit && (next === undefined || timer.due < next)) next = timer.due;
    for (const job of jobs) {
      if (job.stopped) continue;
      const at = nextFiring(job, current, next ?? limit);
      if (at !== undefined && (next === undefined || at < next)) next = at;
    }
    return next;
  };

  /** Fires everything due at `current`: sleeps first (in the order they were started), then cron jobs. */
  const fireDue = async (previous: number) => {
    for (const timer of timers.filter((t) => t.due <= current)) timer.resolve();
    for (const job of jobs) {
      if (job.stopped) continue;
      if (job.lastFired < current && nextFiring(job, previous, current) === current) {
        job.lastFired = current;
        job.fired += 1;
        job.fn();
      }
    }
    await flush();
  };

  const advance = async (ms: number) => {
    const target = current + ms;
    for (;;) {
      const next = nextEvent(target);
      if (next === undefined) break;
      const previous = current;
      current = Math.max(current, next);
      await fireDue(previous === current ? previous - 1 : previous);
    }
    current = target;
    await flush();
  };

  return {
    clock: { now: () => new Date(current) },
    sleep,
    scheduler,
    jobs,
    now: () => current,
    advance,
    async advanceToNext() {
      const next = nextEvent(current + 8 * 86_400_000);
      if (next === undefined) return 0;
      const distance = next - current;
      await advance(distance);
      return distance;
    },
    pendingSleeps: () => timers.map((timer) => timer.due - current),
    job(name) {
      const found = jobs.find((job) => job.name === name);
      if (!found) throw new Error(`no cron job named ${name} (have: ${jobs.map((job) => job.name).join(', ')})`);
      return found;
    },
  };
}
