/** How deferred messages are retried (DESIGN.md §4, Errors); all durations in milliseconds. */
export interface RetryPolicy {
  /** Delay before the first retry; doubles with each attempt. */
  baseMs: number;
  /** Upper bound of one delay. */
  maxMs: number;
  /** A row still not delivered this long after planning becomes `failed`. */
  giveUpMs: number;
  /** How long one `send` run waits for due retries before it exits. */
  waitMs: number;
}

/**
 * The delay before retry number `attempts` (1 = after the first failure): exponential with
 * "equal jitter" (half fixed, half random), so a relay that throttled a whole batch is not hit
 * by the whole batch again at the same instant. `random` is injected for tests.
 */
export function retryDelayMs(attempts: number, policy: Pick<RetryPolicy, 'baseMs' | 'maxMs'>, random: () => number): number {
  const exponent = Math.min(Math.max(attempts - 1, 0), 30);
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** exponent);
  return Math.round(ceiling / 2 + (ceiling / 2) * random());
}

/** Whether a row planned at `createdAt` has been tried long enough to give up on it. */
export function shouldGiveUp(createdAt: string, now: Date, policy: Pick<RetryPolicy, 'giveUpMs'>): boolean {
  return now.getTime() - Date.parse(createdAt) >= policy.giveUpMs;
}
