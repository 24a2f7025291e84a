import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadMigrations, loadQueries } from '../../src/store/load-sql.ts';
import { openStore } from '../../src/store/open-store.ts';
import { openSqliteStore } from '../../src/store/sqlite-store.ts';
import type { ConfirmationFacts, Store } from '../../src/store/types.ts';
import { describeStoreContract } from './store-contract.ts';
import { createFakeClock } from '../helpers/fake-clock.ts';
import { holdWriteLock } from '../helpers/store-locker.ts';

const runFile = promisify(execFile);
const REPO_ROOT = path.resolve(import.meta.dirname, '../..');
const NOW = '2026-03-01T10:00:00.000Z';
const LATER = '2026-03-01T10:05:00.000Z';
const HOUR_BEFORE = '2026-03-01T09:00:00.000Z';

async function makeTempDir(): Promise<string> {
  return mkdtemp(path.join(tmpdir(), 'letterpress-store-'));
}

describeStoreContract('sqlite', async () => {
  const dir = await makeTempDir();
  const store = await openSqliteStore({ file: path.join(dir, 'data', 'letterpress.db') });
  return {
    store,
    async cleanup() {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

/** Saves an issue and `count` active subscribers, then plans it. */
async function seedPlannedIssue(store: Store, slug: string, count: number): Promise<void> {
  await store.saveIssue({
    slug,
    title: slug,
    contentHash: `hash-${slug}`,
    sourceFile: `issues/${slug}.md`,
    state: 'published',
    firstSeenAt: NOW,
    publishedAt: NOW,
    updatedAt: NOW,
    feedId: `urn:${slug}`,
  });
  for (let index = 0; index < count; index += 1) {
    await store.upsertSubscriber({ email: `r${index}@example.org`, status: 'active', source: 'import', at: NOW });
  }
  expect(await store.planDeliveries(slug, NOW)).toBe(count);
}

/** Waits until `count` claim workers have opened the store and wait for the go signal. */
async function waitForReadyWorkers(folder: string, count: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  while ((await readdir(folder)).filter((name) => name.includes('.ready-')).length < count) {
    if (Date.now() > deadline) throw new Error('claim workers did not start');
    await sleep(10);
  }
}

describe('sqlite store', () => {
  let dir: string;
  let file: string;
  const opened: Store[] = [];

  async function open(): Promise<Store> {
    const store = await openSqliteStore({ file });
    opened.push(store);
    return store;
  }

  beforeEach(async () => {
    dir = await makeTempDir();
    file = path.join(dir, 'nested', 'folder', 'letterpress.db');
  });

  afterEach(async () => {
    for (const store of opened.splice(0)) await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('creates the folder, turns WAL on and records each migration once across reopenings', async () => {
    const first = await open();
    await first.upsertSubscriber({ email: 'kept@example.org', status: 'active', source: 'add', at: NOW });
    await first.close();
    const second = await open();
    expect((await second.findSubscriberByEmail('kept@example.org'))?.status).toBe('active');
    await second.close();
    await (await open()).close();

    const raw = new Database(file, { readonly: true });
    try {
      expect(raw.prepare('PRAGMA journal_mode').pluck().get()).toBe('wal');
      const applied = raw.prepare('SELECT version, name FROM schema_migrations ORDER BY version').all();
      const known = await loadMigrations('sqlite');
      expect(applied).toEqual(known.map(({ version, name }) => ({ version, name })));
      expect(known[0]).toMatchObject({ version: 1, name: '001-initial.sql' });
    } finally {
      raw.close();
    }
  });

  it('refuses a file whose schema is newer than this code', async () => {
    await (await open()).close();
    const raw = new Database(file);
    raw.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, '999-future.sql', ?)").run(NOW);
    raw.close();
    await expect(openSqliteStore({ file })).rejects.toMatchObject({ code: 'E_STORE', message: /schema version 999 is newer/ });
  });

  it('names the file when it is not a database', async () => {
    const bogus = path.join(dir, 'notes.db');
    await writeFile(bogus, 'these are my notes, not a database, and they are long enough to have a header\n'.repeat(20));
    const error = await openSqliteStore({ file: bogus }).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'E_STORE' });
    expect((error as Error).message).toContain(bogus);
    expect((error as Error).message).toMatch(/not a SQLite database/);
  });

  it('names the file when its folder cannot be created', async () => {
    const blocker = path.join(dir, 'blocker');
    await writeFile(blocker, 'a file where a folder should be');
    const target = path.join(blocker, 'letterpress.db');
    const error = await openSqliteStore({ file: target }).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'E_STORE' });
    expect((error as Error).message).toContain(target);
  });

  it('waits for another process\'s write lock off the event loop, then records the change once', async () => {
    const store = await openSqliteStore({ file, lockWaitMs: 20_000 });
    opened.push(store);
    const { subscriber } = await store.upsertSubscriber({ email: 'leaving@example.org', status: 'active', source: 'add', at: NOW });
    const lock = await holdWriteLock(file);
    let released = false;
    try {
      // Reads go on beside the writer (WAL); readiness says a change cannot be recorded now.
      expect((await store.getSubscriber(subscriber!.id))?.status).toBe('active');
      await expect(store.checkReady()).rejects.toMatchObject({ code: 'E_STORE_BUSY' });
      let settled = false;
      const write = store.setSubscriberStatus(subscriber!.id, 'unsubscribed', LATER).finally(() => (settled = true));
      // Timers still fire while the write waits: the wait does not block this process.
      let ticks = 0;
      for (let index = 0; index < 10; index += 1) {
        await sleep(20);
        ticks += 1;
      }
      expect(ticks).toBe(10);
      expect(settled).toBe(false);
      await lock.release();
      released = true;
      await write;
    } finally {
      if (!released) await lock.release();
    }
    expect(await store.getSubscriber(subscriber!.id)).toMatchObject({ status: 'unsubscribed', unsubscribedAt: LATER });
    await expect(store.checkReady()).resolves.toBeUndefined();
  });

  it('gives up after store.lockWaitMs with E_STORE_BUSY, having changed nothing', async () => {
    const store = await openSqliteStore({ file, lockWaitMs: 100 });
    opened.push(store);
    const { subscriber } = await store.upsertSubscriber({ email: 'stays@example.org', status: 'active', source: 'add', at: NOW });
    const lock = await holdWriteLock(file);
    try {
      await expect(store.setSubscriberStatus(subscriber!.id, 'unsubscribed', LATER)).rejects.toMatchObject({
        code: 'E_STORE_BUSY',
        message: expect.stringContaining(file),
      });
      await expect(store.upsertSubscriber({ email: 'new@example.org', status: 'active', source: 'add', at: NOW })).rejects.toMatchObject({ code: 'E_STORE_BUSY' });
    } finally {
      await lock.release();
    }
    expect((await store.getSubscriber(subscriber!.id))?.status).toBe('active');
    expect(await store.findSubscriberByEmail('new@example.org')).toBeUndefined();
  });

  it('measures store.lockWaitMs on the time it is given: busy until that time has passed, not a moment before', async () => {
    const time = createFakeClock(Date.parse(NOW));
    const store = await openSqliteStore({ file, lockWaitMs: 5000, lockWaitTiming: { now: time.now, sleep: (ms) => time.sleep(ms) } });
    opened.push(store);
    const { subscriber } = await store.upsertSubscriber({ email: 'stays@example.org', status: 'active', source: 'add', at: NOW });
    const lock = await holdWriteLock(file);
    try {
      let outcome: unknown;
      const write = store.setSubscriberStatus(subscriber!.id, 'unsubscribed', LATER).then(
        () => (outcome = 'written'),
        (error: unknown) => (outcome = error),
      );
      // Wall time passes; the fake time does not: the call keeps waiting.
      const deadline = Date.now() + 10_000;
      while (time.pendingSleeps().length === 0) {
        if (Date.now() > deadline) throw new Error('the store does not pause on the given time');
        await sleep(5);
      }
      await sleep(50);
      await time.advance(4999);
      expect(outcome).toBeUndefined();
      await time.advance(1);
      await write;
      expect(outcome).toMatchObject({ code: 'E_STORE_BUSY', message: expect.stringContaining('5000 ms') });
    } finally {
      await lock.release();
    }
    expect((await store.getSubscriber(subscriber!.id))?.status).toBe('active');
  });

  it('opens an up-to-date store while another process holds the write lock', async () => {
    await (await open()).close();
    const lock = await holdWriteLock(file);
    try {
      const store = await openSqliteStore({ file, lockWaitMs: 100 });
      opened.push(store);
      expect(await store.countSubscribers()).toBe(0);
    } finally {
      await lock.release();
    }
  });

  it('keeps one lease holder across two handles on one file', async () => {
    const a = await open();
    const b = await open();
    expect(await a.acquireLease('send', 'runner-a', LATER, NOW)).toBe(true);
    expect(await b.acquireLease('send', 'runner-b', LATER, NOW)).toBe(false);
    expect(await b.getLease('send')).toEqual({ holder: 'runner-a', until: LATER });
    await b.releaseLease('send', 'runner-b');
    expect(await b.acquireLease('send', 'runner-b', LATER, NOW)).toBe(false);
    await a.releaseLease('send', 'runner-a');
    expect(await b.acquireLease('send', 'runner-b', LATER, NOW)).toBe(true);
  });

  it('never hands one row to two handles claiming in turn', async () => {
    const a = await open();
    const b = await open();
    await seedPlannedIssue(a, 'one', 300);
    const claimedBy = { a: [] as number[], b: [] as number[] };
    for (;;) {
      const [fromA, fromB] = await Promise.all([
        a.claimDeliveries({ issueSlug: 'one', holder: 'handle-a', limit: 13, now: NOW, leaseUntil: LATER }),
        b.claimDeliveries({ issueSlug: 'one', holder: 'handle-b', limit: 17, now: NOW, leaseUntil: LATER }),
      ]);
      if (fromA.length + fromB.length === 0) break;
      claimedBy.a.push(...fromA.map((entry) => entry.delivery.id));
      claimedBy.b.push(...fromB.map((entry) => entry.delivery.id));
    }
    expect(claimedBy.a.length).toBeGreaterThan(0);
    expect(claimedBy.b.length).toBeGreaterThan(0);
    const all = [...claimedBy.a, ...claimedBy.b];
    expect(new Set(all).size).toBe(300);
    expect(all.length).toBe(300);
  });

  it('never hands one row to two processes claiming at once', async () => {
    const store = await open();
    await seedPlannedIssue(store, 'one', 3_000);
    const worker = path.join(REPO_ROOT, 'test/store/claim-worker.ts');
    const runs = [1, 2, 3].map(() => runFile(process.execPath, ['--import', 'tsx', worker, file, 'one'], { cwd: REPO_ROOT }));
    const exited = Promise.all(runs).then(() => {
      throw new Error('claim workers exited before the go signal');
    });
    await Promise.race([waitForReadyWorkers(path.dirname(file), 3), exited]);
    exited.catch(() => undefined);
    await writeFile(`${file}.go`, '');
    const perProcess = (await Promise.all(runs)).map((run) => JSON.parse(run.stdout) as number[]);
    // At least two processes got rows, so their claims really interleaved on the write lock.
    expect(perProcess.filter((ids) => ids.length > 0).length).toBeGreaterThanOrEqual(2);
    const all = perProcess.flat();
    expect(all.length).toBe(3_000);
    expect(new Set(all).size).toBe(3_000);
    expect(await store.countDeliveries('one')).toMatchObject({ sent: 3_000, queued: 0, sending: 0 });
  }, 60_000);

  it('records subscribe requests made together in one transaction, each kept apart from the others\' failures, after a lock that held them all', async () => {
    const store = await open();
    await (await open()).close();
    const request = (email: string, decide: (facts: ConfirmationFacts) => { send: true } | { send: false; reason: string }) =>
      store.requestConfirmation({ email, name: null, at: NOW, windows: { addressSince: HOUR_BEFORE, mailboxSince: HOUR_BEFORE, overallSince: HOUR_BEFORE }, decide });
    const lock = await holdWriteLock(file);
    let settled = 0;
    let calls: Promise<unknown>[];
    try {
      calls = [
        request('one@example.org', () => ({ send: true })),
        // Throws after the group's earlier calls wrote: only its own savepoint is undone.
        request('broken@example.org', () => {
          throw new Error('a bug in the decision');
        }),
        request('two@example.org', () => ({ send: true })),
        // Sees the writes of the calls before it in the same transaction.
        request('one@example.org', (facts) => (facts.subscriber?.status === 'pending' && facts.address.count === 1 ? { send: false, reason: 'seen' } : { send: true })),
      ];
      for (const call of calls) void call.then(() => (settled += 1), () => (settled += 1));
      await sleep(150);
      expect(settled).toBe(0);
    } finally {
      await lock.release();
    }
    const outcomes = await Promise.allSettled(calls);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect((outcomes[1] as PromiseRejectedResult).reason).toMatchObject({ message: 'a bug in the decision' });
    expect((outcomes[3] as PromiseFulfilledResult<unknown>).value).toMatchObject({ queued: false, reason: 'seen' });
    expect(await store.findSubscriberByEmail('broken@example.org')).toBeUndefined();
    expect((await store.listOutgoingMail()).map((mail) => mail.subscriberId)).toEqual([
      (await store.findSubscriberByEmail('one@example.org'))!.id,
      (await store.findSubscriberByEmail('two@example.org'))!.id,
    ]);
  });

  it('counts the hour\'s confirmations exactly from the per-minute counts, across minute edges and pruning', async () => {
    const store = await open();
    const base = Date.parse(NOW);
    // Several rows in some minutes, none in others, some on the very edge of a minute.
    const offsetsMs = [0, 1, 59_999, 60_000, 60_001, 61_500, 119_999, 180_000, 180_000, 241_234, 3_599_999, 3_600_000, 3_660_001];
    const overallCountSince = async (since: string): Promise<number> => {
      let seen = -1;
      await store.requestConfirmation({
        email: 'probe@example.org',
        name: null,
        at: NOW,
        windows: { addressSince: since, mailboxSince: since, overallSince: since },
        decide: (facts) => {
          seen = facts.overallCount;
          return { send: false, reason: 'probe' };
        },
      });
      return seen;
    };
    for (const [index, offset] of offsetsMs.entries()) {
      const at = new Date(base + offset).toISOString();
      await store.requestConfirmation({
        email: `reader${index}@example.org`,
        name: null,
        at,
        windows: { addressSince: at, mailboxSince: at, overallSince: at },
        decide: () => ({ send: true }),
      });
    }
    const raw = new Database(file, { readonly: true });
    try {
      const bruteForce = raw.prepare('SELECT count(*) FROM confirmation_log WHERE sent_at > ?').pluck();
      const probes = [-1, 0, 1, 2, 59_998, 59_999, 60_000, 60_500, 120_000, 179_999, 180_000, 180_001, 3_600_000, 3_660_001, 9_999_999];
      for (const offset of probes) {
        const since = new Date(base + offset).toISOString();
        expect(await overallCountSince(since), since).toBe(bruteForce.get(since));
      }
      // Pruning takes rows out of their minutes' counts too.
      expect(await store.pruneConfirmationLog(new Date(base + 60_001).toISOString())).toBe(4);
      for (const offset of [-1, 0, 60_000, 60_001, 61_000, 180_000]) {
        const since = new Date(base + offset).toISOString();
        expect(await overallCountSince(since), `after pruning, since ${since}`).toBe(bruteForce.get(since));
      }
      const query = (await loadQueries('sqlite', 'confirmation-log.sql', ['overall-count']))['overall-count'];
      const plan = (raw.prepare(`EXPLAIN QUERY PLAN ${query}`).all({ since: NOW }) as { detail: string }[]).map((row) => row.detail);
      // The log itself is read only within :since's minute (both ends bounded), never to the hour's end.
      expect(plan.filter((detail) => /^SCAN confirmation_log/.test(detail)), plan.join('; ')).toEqual([]);
      expect(plan.filter((detail) => /^SEARCH confirmation_log\b/.test(detail)), plan.join('; ')).toEqual([
        expect.stringMatching(/\(sent_at>\? AND sent_at<\?\)$/),
      ]);
    } finally {
      raw.close();
    }
  });

  it('finds claimable rows through indexes, never by scanning the ledger', async () => {
    await (await open()).close();
    const sql = await loadQueries('sqlite', 'deliveries.sql', [
      'claim',
      'mark',
      'renew',
      'release',
      'requeue-orphans',
      'count-in-flight',
      'next-deferred-at',
      'count-by-state',
      'plan-chunk',
      'plan-chunk-end',
    ]);
    const raw = new Database(file, { readonly: true });
    try {
      const params = { issueSlug: 'one', holder: 'h', limit: 200, now: NOW, leaseUntil: LATER, afterId: 0, lastId: 10, at: NOW, ids: '[]', marks: '[]' };
      for (const [name, query] of Object.entries(sql)) {
        const plan = (raw.prepare(`EXPLAIN QUERY PLAN ${query}`).all(params) as { detail: string }[]).map((row) => row.detail);
        expect(plan.filter((detail) => /^SCAN (deliveries|subscribers)\b/.test(detail)), name).toEqual([]);
        // A batch of marks finds each row by id, never by walking the holder's rows once per mark.
        if (name === 'mark') expect(plan.some((detail) => /^SEARCH deliveries USING INTEGER PRIMARY KEY/.test(detail)), plan.join('; ')).toBe(true);
      }
    } finally {
      raw.close();
    }
  });
});

describe('openStore', () => {
  let root: string;

  beforeEach(async () => {
    root = await makeTempDir();
  });

  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('opens a SQLite file resolved against the project root', async () => {
    const store = await openStore({ url: 'data/letterpress.db', root });
    try {
      expect(await store.hasIssues()).toBe(false);
      expect(existsSync(path.join(root, 'data', 'letterpress.db'))).toBe(true);
    } finally {
      await store.close();
    }
  });

  it('opens a sqlite:PATH URL as the same file', async () => {
    const store = await openStore({ url: 'sqlite:data/other.db', root });
    try {
      expect(store.watchDue).toBeUndefined();
      expect(existsSync(path.join(root, 'data', 'other.db'))).toBe(true);
    } finally {
      await store.close();
    }
  });

  it('refuses other URL schemes instead of making a folder of them', async () => {
    await expect(openStore({ url: 'mysql://db.example/news', root })).rejects.toMatchObject({ code: 'E_STORE' });
    expect(existsSync(path.join(root, 'mysql:'))).toBe(false);
  });
});
