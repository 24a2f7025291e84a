import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { SendReport } from '../../src/deliver/send-issue.ts';
import { runWorkerLoop, type WorkerLoopDependencies } from '../../src/deliver/worker-loop.ts';
import { LetterpressError } from '../../src/util/errors.ts';
import { createFakeClock } from '../helpers/fake-clock.ts';

/** What one look of the scripted sender does: send `sent` messages, find nothing, or fail. */
type Look = { sent: number } | 'nothing' | 'session-error';

function report(sent: number, stoppedBy?: LetterpressError): SendReport {
  return { slug: '2024-42', sent, deferred: 0, failed: 0, bounced: 0, skipped: 0, durationMs: 1, remainingDeferred: 0, lost: 0, stoppedBy, complete: sent > 0 };
}

/**
 * The loop on a fake clock, with a scripted sender (orchestration) and a notification source
 * the test fires by hand (the store's `watchDue`). `looksAt` records the fake time of each look.
 */
function worker(script: Look[], options: { watch?: boolean; pollMs?: { min: number; max: number }; duringLook?: (look: number) => void } = {}) {
  const fake = createFakeClock(0);
  const stop = new AbortController();
  const looksAt: number[] = [];
  const listeners = new Set<(slug: string) => void>();
  let watching = 0;
  const deps: WorkerLoopDependencies = {
    async send() {
      looksAt.push(fake.now());
      const step = script[looksAt.length - 1] ?? 'nothing';
      options.duringLook?.(looksAt.length);
      if (looksAt.length >= script.length + 3) stop.abort();
      if (step === 'nothing') return [];
      if (step === 'session-error') return [report(0, new LetterpressError('E_SMTP_CONNECT', 'relay down'))];
      return [report(step.sent)];
    },
    holds: async () => [],
    sleep: fake.sleep,
    signal: stop.signal,
    log: { info: () => undefined, warn: () => undefined, error: () => undefined },
    pollMs: options.pollMs ?? { min: 250, max: 60_000 },
    watchDue:
      options.watch === false
        ? undefined
        : (listener) => {
            watching += 1;
            listeners.add(listener);
            return () => {
              watching -= 1;
              listeners.delete(listener);
            };
          },
  };
  const done = runWorkerLoop(deps);
  return {
    fake,
    stop,
    looksAt,
    done,
    watching: () => watching,
    notify: () => {
      for (const listener of [...listeners]) listener('2024-42');
    },
    /** Lets the loop run until it waits again (real event-loop turns, fake time stands still). */
    settle: async () => {
      for (let turn = 0; turn < 20; turn += 1) await yieldToEventLoop();
    },
  };
}

describe('the worker loop', () => {
  it('without notifications doubles its wait while the ledger stays empty, up to the longest', async () => {
    const run = worker(['nothing', 'nothing', 'nothing', 'nothing', 'nothing'], { watch: false, pollMs: { min: 250, max: 1_000 } });
    while (!run.stop.signal.aborted) {
      await run.settle();
      await run.fake.advanceToNext();
    }
    await run.done;
    const waits = run.looksAt.slice(1).map((at, index) => at - run.looksAt[index]!);
    expect(waits.slice(0, 4)).toEqual([500, 1_000, 1_000, 1_000]);
  });

  it('idle on a store with notifications: waits the longest, and a notification ends the wait at once', async () => {
    const run = worker([{ sent: 3 }, 'nothing', 'nothing']);
    await run.settle();
    // After work: the short wait.
    expect(run.fake.pendingSleeps()).toEqual([250]);
    await run.fake.advanceToNext();
    await run.settle();
    expect(run.looksAt).toEqual([0, 250]);
    // Nothing came: the poll is the fallback only.
    expect(run.fake.pendingSleeps()).toEqual([60_000]);
    await run.fake.advance(10_000);
    expect(run.looksAt).toHaveLength(2);
    run.notify();
    await run.settle();
    // Woken at once, long before the poll.
    expect(run.looksAt).toEqual([0, 250, 10_250]);
    run.stop.abort();
    await run.done;
    expect(run.watching()).toBe(0);
  });

  it('looks again at once when a notification came while it was looking', async () => {
    const run = worker(['nothing', 'nothing'], { duringLook: (look) => look === 1 && run.notify() });
    await run.settle();
    expect(run.looksAt).toEqual([0, 0]);
    expect(run.fake.pendingSleeps()).toEqual([60_000]);
    run.stop.abort();
    await run.done;
  });

  it('after a session error only the poll wakes it: notifications (rows the failed run handed back) do not', async () => {
    const run = worker(['session-error', 'nothing'], { pollMs: { min: 250, max: 5_000 } });
    await run.settle();
    expect(run.fake.pendingSleeps()).toEqual([5_000]);
    run.notify();
    await run.settle();
    expect(run.looksAt).toEqual([0]);
    await run.fake.advanceToNext();
    await run.settle();
    expect(run.looksAt).toEqual([0, 5_000]);
    // Sending works again (or there is nothing): notifications count again.
    run.notify();
    await run.settle();
    expect(run.looksAt).toEqual([0, 5_000, 5_000]);
    run.stop.abort();
    await run.done;
  });

  it('says a refusal once, on one line, until it changes or sending works again', async () => {
    const fake = createFakeClock(0);
    const stop = new AbortController();
    const errors: string[] = [];
    const refusal = new LetterpressError('E_PREFLIGHT', 'refusing to send (2 problems):\n  - the site URL is local\n    fix: set site.url');
    const script: ('refuse' | 'other' | 'send')[] = ['refuse', 'refuse', 'refuse', 'other', 'send', 'refuse'];
    let look = 0;
    const done = runWorkerLoop({
      async send() {
        const step = script[look++];
        if (step === undefined) {
          stop.abort();
          return [];
        }
        if (step === 'refuse') throw refusal;
        if (step === 'other') throw new LetterpressError('E_STORE', 'store gone');
        return [report(1)];
      },
      holds: async () => [],
      sleep: fake.sleep,
      signal: stop.signal,
      log: { info: () => undefined, warn: () => undefined, error: (_fields: unknown, message: string) => void errors.push(message) },
      pollMs: { min: 10, max: 10 },
    } as WorkerLoopDependencies);
    while (look < script.length + 1 && !stop.signal.aborted) {
      await yieldToEventLoop();
      await fake.advance(10);
    }
    await done;
    expect(errors).toHaveLength(3);
    expect(errors[0]).toContain('refusing to send (2 problems): - the site URL is local fix: set site.url');
    expect(errors.every((line) => !line.includes('\n'))).toBe(true);
    expect(errors[1]).toContain('store gone');
    expect(errors[2]).toContain('refusing to send');
  });
});
