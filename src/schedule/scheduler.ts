import { schedule as scheduleCron } from 'node-cron';

/** One scheduled cron job: stop it, or ask when it fires next (for `status` and the log). */
export interface ScheduledJob {
  stop(): Promise<void>;
  nextRun(): Date | undefined;
}

/**
 * Runs `fn` at every instant that `expression` (5- or 6-field cron) matches in `timezone`.
 * The daemon takes one, so tests drive cron ticks from a fake clock instead of waiting for them.
 */
export interface Scheduler {
  schedule(expression: string, timezone: string, fn: () => void, options?: { name?: string }): ScheduledJob;
}

/** The real scheduler: node-cron. A tick is skipped while the previous one still runs. */
export function createCronScheduler(): Scheduler {
  return {
    schedule(expression, timezone, fn, options = {}) {
      const task = scheduleCron(expression, () => fn(), { timezone, noOverlap: true, name: options.name });
      return {
        stop: async () => {
          await task.stop();
        },
        nextRun: () => task.getNextRun() ?? undefined,
      };
    },
  };
}
