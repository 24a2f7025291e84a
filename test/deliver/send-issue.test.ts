import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sendIssue, type SendIssueDependencies } from '../../src/deliver/send-issue.ts';
import type { OutgoingMessage, Transport } from '../../src/deliver/types.ts';
import { openSqliteStore } from '../../src/store/sqlite-store.ts';
import type { DeliveryMark, Store } from '../../src/store/types.ts';
import { systemClock } from '../../src/util/clock.ts';
import { abortableSleep } from '../../src/util/sleep.ts';

/**
 * The send loop's batching against a real SQLite store on disk: how many outcomes may wait
 * unwritten (the crash bound), and that neither writing marks nor claiming the next batch
 * stops the connections. The transport is a counter that answers 250 at once.
 */

const SLUG = 'batching';
const SUBSCRIBERS = 120;
const T0 = '2026-03-01T10:00:00.000Z';

let dir: string;
let store: Store;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'letterpress-send-issue-'));
  store = await openSqliteStore({ file: path.join(dir, 'letterpress.db') });
  await store.saveIssue({
    slug: SLUG,
    title: 'Batching',
    contentHash: 'hash',
    sourceFile: `issues/${SLUG}.md`,
    state: 'published',
    firstSeenAt: T0,
    publishedAt: T0,
    updatedAt: T0,
    feedId: `urn:letterpress:${SLUG}`,
  });
  for (let i = 0; i < SUBSCRIBERS; i += 1) {
    await store.upsertSubscriber({ email: `reader${i}@example.org`, status: 'active', source: 'add', at: T0 });
  }
  expect(await store.planDeliveries(SLUG, T0)).toBe(SUBSCRIBERS);
});

afterEach(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

/** The store with one method replaced (the others bound to the store: it has private fields). */
function withMethod<K extends keyof Store>(key: K, replacement: Store[K]): Store {
  return new Proxy(store, {
    get(target, name) {
      if (name === key) return replacement;
      const value = Reflect.get(target, name, target) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** A transport that takes every message at once and counts them; with `failAt`, the relay goes away at that message. */
function countingTransport(concurrency: number, failAt?: number): Transport & { sent: () => number } {
  let sent = 0;
  return {
    description: 'counter',
    concurrency,
    sent: () => sent,
    async send() {
      await new Promise((resolve) => setImmediate(resolve));
      sent += 1;
      if (sent === failAt) throw Object.assign(new Error('relay went away'), { code: 'ECONNECTION' });
      return { status: 'sent', reply: '250 OK' };
    },
    async close() {},
  };
}

function dependencies(overrides: Partial<SendIssueDependencies> & Pick<SendIssueDependencies, 'store' | 'transport'>): SendIssueDependencies {
  return {
    clock: systemClock,
    sleep: abortableSleep,
    random: () => 0.5,
    composeMessage: (delivery) => ({ envelope: { from: 'n@example.org', to: `r${delivery.id}@example.org` }, parts: [], size: 0, messageId: `<${delivery.id}@x>`, issueSlug: SLUG, raw: Buffer.alloc(0) }) as OutgoingMessage,
    holder: 'test:1:abc',
    batchSize: 200,
    leaseMs: 30_000,
    markBatch: { rows: 10, ms: 60_000 },
    retry: { baseMs: 1000, maxMs: 1000, giveUpMs: 3_600_000, waitMs: 0 },
    ...overrides,
  };
}

describe('sendIssue batching', () => {
  it('keeps sending while marks are written, and never holds more than markBatch.rows outcomes unwritten besides those in flight', async () => {
    const concurrency = 2;
    const rows = 10;
    const transport = countingTransport(concurrency);
    let written = 0;
    let worst = 0;
    const writes: { size: number; sentWhenStarted: number; sentWhenDone: number }[] = [];
    // Each write of marks takes a while, as a busy database's would.
    const slowStore = withMethod('markDeliveries', async (input: { holder: string; now: string; marks: readonly DeliveryMark[] }) => {
      const write = { size: input.marks.length, sentWhenStarted: transport.sent(), sentWhenDone: 0 };
      writes.push(write);
      await new Promise((resolve) => setTimeout(resolve, 20));
      const result = await store.markDeliveries(input);
      write.sentWhenDone = transport.sent();
      // The peak: just before this write counts, while the next batch has been filling.
      worst = Math.max(worst, transport.sent() - written);
      written += input.marks.length;
      return result;
    });
    const report = await sendIssue(SLUG, dependencies({ store: slowStore, transport, markBatch: { rows, ms: 60_000 } }));

    expect(report).toMatchObject({ sent: SUBSCRIBERS, complete: true, lost: 0 });
    expect(transport.sent()).toBe(SUBSCRIBERS);
    expect((await store.countDeliveries(SLUG)).sent).toBe(SUBSCRIBERS);
    // Outcomes the server has and the ledger does not: one open batch plus the messages in flight.
    expect(worst).toBeLessThanOrEqual(rows + concurrency);
    // No write is bigger than the bound, and the connections went on during the writes: more
    // messages went out during a write than were on the wire when it started.
    expect(Math.max(...writes.map((write) => write.size))).toBeLessThanOrEqual(rows);
    const sentDuringWrites = writes.map((write) => write.sentWhenDone - write.sentWhenStarted);
    expect(sentDuringWrites.filter((sent) => sent > concurrency).length).toBeGreaterThan(writes.length / 2);
  });

  it('a run that stops while a claim made ahead is still running hands those rows back too', async () => {
    // The relay fails the whole session at the 17th message, while the second claim (made
    // ahead, at 15 rows left of 20) is still on its way.
    const transport = countingTransport(2, 17);
    let claimsMade = 0;
    const slowSecondClaim = withMethod('claimDeliveries', async (input: Parameters<Store['claimDeliveries']>[0]) => {
      claimsMade += 1;
      if (claimsMade === 2) await new Promise((resolve) => setTimeout(resolve, 150));
      return store.claimDeliveries(input);
    });
    const report = await sendIssue(SLUG, dependencies({ store: slowSecondClaim, transport, batchSize: 20 }));

    expect(report.stoppedBy).toBeDefined();
    expect(claimsMade).toBeGreaterThanOrEqual(2);
    // Long enough for a claim left running to land, had the run not waited for it.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const counts = await store.countDeliveries(SLUG);
    expect(counts.sending).toBe(0);
    expect(counts.sent + counts.queued).toBe(SUBSCRIBERS);
    expect(report.lost).toBe(0);
  });

  it('claims the next batch before the rows it holds run out', async () => {
    const concurrency = 2;
    const transport = countingTransport(concurrency);
    const claims: { sentBefore: number; claimed: number }[] = [];
    const recordingStore = withMethod('claimDeliveries', async (input: Parameters<Store['claimDeliveries']>[0]) => {
      const sentBefore = transport.sent();
      const claimed = await store.claimDeliveries(input);
      claims.push({ sentBefore, claimed: claimed.length });
      return claimed;
    });
    const report = await sendIssue(SLUG, dependencies({ store: recordingStore, transport, batchSize: 20 }));

    expect(report).toMatchObject({ sent: SUBSCRIBERS, complete: true });
    const batches = claims.filter((claim) => claim.claimed > 0);
    expect(batches).toHaveLength(SUBSCRIBERS / 20);
    // Each later batch was claimed while the batch before it still had rows waiting, not only
    // rows on the wire: claiming when the rows ran out would leave at most `concurrency` unsent.
    batches.slice(1).forEach((claim, i) => expect(claim.sentBefore, `claim ${i + 2}`).toBeLessThanOrEqual((i + 1) * 20 - 2 * concurrency));
  });
});
