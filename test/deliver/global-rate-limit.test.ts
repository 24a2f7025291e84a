import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createGlobalRateLimiter } from '../../src/deliver/global-rate-limit.ts';
import { openSqliteStore } from '../../src/store/sqlite-store.ts';
import { spawnLogging, digestIssue, type DaemonChild } from '../helpers/daemon-child.ts';
import { busiestWindow } from '../helpers/counting-relay.ts';
import { eventually } from '../helpers/daemon-project.ts';
import { createFakeClock } from '../helpers/fake-clock.ts';
import { activeRows, createSendProject, issueStatus, TEST_SECRET } from '../helpers/send-project.ts';
import { countByRecipient, startSmtpSink } from '../helpers/smtp-sink.ts';
import { runCli } from '../helpers/temp-project.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('the global rate limit: slots from the store', () => {
  it('spaces the slots of several limiters on one store by the interval, and leaves none unused in between', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'letterpress-rate-'));
    const store = await openSqliteStore({ file: path.join(dir, 'letterpress.db') });
    cleanups.push(async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    });
    const fake = createFakeClock(Date.UTC(2026, 2, 1));
    const limiters = [0, 1, 2].map(() => createGlobalRateLimiter({ store: async () => store, clock: fake.clock, sleep: fake.sleep, ratePerSecond: 20 }));
    const taken: number[] = [];
    const takers = limiters.map(async (limiter) => {
      for (let i = 0; i < 20; i += 1) {
        await limiter.take();
        taken.push(fake.now());
      }
    });
    const all = Promise.all(takers);
    // Time moves only once every limiter waits (its store call done): like a process whose
    // event loop is never late.
    const settle = async () => {
      for (let turn = 0; turn < 50; turn += 1) await new Promise((resolve) => setImmediate(resolve));
    };
    while (taken.length < 60) {
      await settle();
      await fake.advanceToNext();
    }
    await all;
    taken.sort((a, b) => a - b);
    const gaps = taken.slice(1).map((instant, index) => instant - taken[index]!);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(50);
    // Three limiters, 60 slots at 20/s: about three seconds (slots are not left unused in between).
    expect(taken.at(-1)! - taken[0]!).toBeLessThan(3_500);

  });
});

describe('delivery.globalRateLimit across processes', () => {
  it('three workers together stay within the limit (+5 %) in every sliding 10 s window of the relay’s accept times', async () => {
    const rate = 20;
    const count = 600;
    const root = await createSendProject(activeRows(count));
    cleanups.push(() => rm(root, { recursive: true, force: true }));
    await writeFile(path.join(root, 'issues', '2024-42.md'), await digestIssue(42));
    const built = await runCli(['build'], root);
    expect(built.code, built.stderr).toBe(0);
    const accepted: number[] = [];
    const relay = await startSmtpSink({
      onData: (stream, session, callback) => {
        relay.collect(stream, session).then((message) => {
          relay.messages.push(message);
          // The instant the relay accepts the message: what the limit is about.
          accepted.push(performance.timeOrigin + performance.now());
          callback(null);
        }, callback);
      },
    });
    cleanups.push(() => relay.close());
    const env = {
      LETTERPRESS_DB: path.join(root, 'data', 'letterpress.db'),
      LETTERPRESS_SMTP_URL: relay.url,
      LETTERPRESS_SECRET: TEST_SECRET,
      LETTERPRESS_SITE_POSTALADDRESS: '1 Test Street, Testville',
      LETTERPRESS_DELIVERY_ALLOWLOCALADDRESSES: 'true',
      LETTERPRESS_DELIVERY_GLOBALRATELIMIT: String(rate),
      LETTERPRESS_DELIVERY_POLLSECONDS: '0.5',
      // Small claims: all three workers share the issue from the start.
      LETTERPRESS_DELIVERY_BATCHSIZE: '10',
    };
    const workers: DaemonChild[] = [];
    for (let i = 0; i < 3; i += 1) {
      const dir = await mkdtemp(path.join(tmpdir(), 'letterpress-rate-worker-'));
      const worker = spawnLogging(dir, env, ['worker']);
      workers.push(worker);
      cleanups.push(async () => {
        await worker.kill();
        await rm(dir, { recursive: true, force: true });
      });
    }
    await eventually(async () => accepted.length >= count, 120_000, `${count} messages`, 250);
    await eventually(async () => (await issueStatus(root, '2024-42')).state === 'sent', 30_000, 'the issue sent');
    for (const worker of workers) worker.child.kill('SIGTERM');
    for (const worker of workers) expect((await worker.exited).code).toBe(0);

    expect(relay.messages).toHaveLength(count);
    expect([...countByRecipient(relay.messages).values()].every((n) => n === 1)).toBe(true);
    // Every worker sent a share (the limit is shared, not one worker's).
    const shares = workers.map((worker) => worker.lines.filter((line) => typeof line.sent === 'number' && typeof line.slug === 'string').reduce((sum, line) => sum + Number(line.sent), 0));
    expect(shares.reduce((sum, n) => sum + n, 0)).toBe(count);
    expect(shares.filter((n) => n > 0).length).toBeGreaterThanOrEqual(2);

    accepted.sort((a, b) => a - b);
    const busiest = busiestWindow(accepted, 10_000);
    expect(busiest, `busiest 10 s window: ${busiest} messages`).toBeLessThanOrEqual(Math.floor(rate * 10 * 1.05));
    // 600 messages at 20/s take about 30 s: the limit is kept by pacing, not by a slow relay.
    expect(accepted.at(-1)! - accepted[0]!).toBeGreaterThan(((count - rate * 10 * 1.05) / rate) * 1000);
  }, 240_000);
});
