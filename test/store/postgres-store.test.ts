import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadMigrations } from '../../src/store/load-sql.ts';
import { openStore } from '../../src/store/open-store.ts';
import { openPostgresStore } from '../../src/store/postgres-store.ts';
import type { Store } from '../../src/store/types.ts';
import { describeStoreContract } from './store-contract.ts';
import { createTestDatabase, POSTGRES_SERVER, type TestDatabase } from '../helpers/postgres-database.ts';

const LEDGER_CHILD = fileURLToPath(new URL('../helpers/ledger-child.ts', import.meta.url));
const REPO = fileURLToPath(new URL('../../', import.meta.url));
const NOW = '2026-03-01T10:00:00.000Z';

describeStoreContract('postgres', async () => {
  const database = await createTestDatabase();
  const store = await openPostgresStore({ url: database.url });
  return {
    store,
    async cleanup() {
      await store.close();
      await database.drop();
    },
  };
});

async function queryDatabase<Row extends pg.QueryResultRow>(url: string, sql: string): Promise<Row[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<Row>(sql)).rows;
  } finally {
    await client.end();
  }
}

/** Collects what `watchDue` reports; `next()` resolves with the next slug (or undefined after `ms`, a failure). */
function watchDue(store: Store) {
  const seen: string[] = [];
  const waiting: ((slug: string) => void)[] = [];
  const stop = store.watchDue!((slug) => {
    const wake = waiting.shift();
    if (wake) wake(slug);
    else seen.push(slug);
  });
  const next = (ms = 10_000) =>
    new Promise<string | undefined>((resolve) => {
      const ready = seen.shift();
      if (ready !== undefined) return resolve(ready);
      const timer = setTimeout(() => resolve(undefined), ms);
      waiting.push((slug) => {
        clearTimeout(timer);
        resolve(slug);
      });
    });
  return { next, stop };
}

/** Waits until the store's LISTEN connection to `database` is up (LISTEN starts asynchronously). */
async function waitForListener(database: TestDatabase): Promise<void> {
  for (;;) {
    const rows = await queryDatabase(
      database.url,
      `SELECT 1 FROM pg_stat_activity WHERE datname = '${database.name}' AND application_name = 'letterpress-listen' AND state = 'idle' AND query LIKE 'LISTEN%'`,
    );
    if (rows.length > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('postgres store', () => {
  let database: TestDatabase;
  const opened: Store[] = [];

  async function open(): Promise<Store> {
    const store = await openPostgresStore({ url: database.url });
    opened.push(store);
    return store;
  }

  beforeEach(async () => {
    database = await createTestDatabase();
  });

  afterEach(async () => {
    for (const store of opened.splice(0)) await store.close();
    await database.drop();
  });

  it('migrates once when several processes open a new database at once', async () => {
    const children = Array.from({ length: 4 }, () => spawn(process.execPath, ['--import', 'tsx', LEDGER_CHILD, database.url], { cwd: REPO, stdio: ['pipe', 'pipe', 'pipe'] }));
    try {
      const answers = await Promise.all(
        children.map(async (child) => {
          let stderr = '';
          child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
          const lines = createInterface({ input: child.stdout! });
          const [line] = (await Promise.race([once(lines, 'line'), once(child, 'exit').then(() => [`exited: ${stderr}`])])) as string[];
          return line;
        }),
      );
      for (const answer of answers) expect(answer).toMatch(/^\{"ready":\d+\}$/);
    } finally {
      for (const child of children) child.kill('SIGKILL');
      await Promise.all(children.map((child) => (child.exitCode === null && child.signalCode === null ? once(child, 'exit') : undefined)));
    }
    const migrations = await loadMigrations('postgres');
    const recorded = await queryDatabase<{ version: number }>(database.url, 'SELECT version FROM schema_migrations ORDER BY version');
    expect(recorded.map((row) => row.version)).toEqual(migrations.map((migration) => migration.version));
    // Reopening an up-to-date database changes nothing.
    await open();
    expect(await queryDatabase(database.url, 'SELECT version FROM schema_migrations')).toHaveLength(migrations.length);
  }, 60_000);

  it('refuses a database whose schema is newer than this code', async () => {
    await (await open()).close();
    await queryDatabase(database.url, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, '999-future.sql', '2030-01-01T00:00:00.000Z')");
    await expect(openPostgresStore({ url: database.url })).rejects.toMatchObject({ code: 'E_STORE', message: /schema version 999 is newer/ });
  });

  it('tells senders in other connections that an issue has rows to claim', async () => {
    const planner = await open();
    const sender = await open();
    await planner.saveIssue({ slug: 'one', title: 'One', contentHash: 'h1', sourceFile: 'issues/one.md', state: 'published', firstSeenAt: NOW, publishedAt: NOW, updatedAt: NOW, feedId: 'urn:one' });
    await planner.upsertSubscriber({ email: 'ann@example.org', status: 'active', source: 'import', at: NOW });
    const due = watchDue(sender);
    await waitForListener(database);
    expect(await planner.planDeliveries('one', NOW)).toBe(1);
    expect(await due.next()).toBe('one');

    const [claimed] = await planner.claimDeliveries({ issueSlug: 'one', holder: 'a:1:x', limit: 1, now: NOW, leaseUntil: '2026-03-01T10:01:00.000Z' });
    expect(claimed).toBeDefined();
    expect(await planner.requeueOrphans('one', '2026-03-01T10:02:00.000Z')).toBe(1);
    expect(await due.next()).toBe('one');
    // A worker sends only issues that read `planned`: the move announces them again, after
    // planning's own notification (which may come before it).
    expect(await planner.transitionIssue('one', ['published'], 'planned', NOW)).toBe(true);
    expect(await due.next()).toBe('one');
    // The send window opening frees held issues for every worker.
    await planner.holdForSendWindow('one', NOW);
    expect(await planner.releaseSendHolds()).toEqual(['one']);
    expect(await due.next()).toBe('one');
    // A move that did not happen, and other moves, announce nothing.
    expect(await planner.transitionIssue('one', ['published'], 'planned', NOW)).toBe(false);
    expect(await planner.transitionIssue('one', ['planned'], 'sending', NOW)).toBe(true);
    expect(await due.next(500)).toBeUndefined();
    due.stop();
  });

  it('answers checkReady, and names host, port and database without the password when the server is not there', async () => {
    await (await open()).checkReady();
    const refused = await openPostgresStore({ url: 'postgres://letterpress:hunter2@127.0.0.1:7199/news' }).catch((error: unknown) => error);
    expect(refused).toMatchObject({ code: 'E_STORE', message: /^PostgreSQL store 127\.0\.0\.1:7199\/news: the server refused the connection; start PostgreSQL/ });
    expect((refused as Error).message).not.toContain('hunter2');
  });

  it('says to create a database that does not exist, and names a user the server does not know', async () => {
    const missing = await openPostgresStore({ url: `${POSTGRES_SERVER}/${database.name}_missing` }).catch((error: unknown) => error);
    expect(missing).toMatchObject({ code: 'E_STORE', message: new RegExp(`/${database.name}_missing: the database does not exist; create it first \\(createdb -h 127\\.0\\.0\\.1 -p 5432 -U postgres ${database.name}_missing\\)`) });
    const stranger = await openPostgresStore({ url: `postgres://nobody_here:secret@127.0.0.1:5432/${database.name}` }).catch((error: unknown) => error);
    expect(stranger).toMatchObject({ code: 'E_STORE', message: /refused to log in as "nobody_here"/ });
    expect((stranger as Error).message).not.toContain('secret');
  });

  it('is what openStore opens for a postgres:// or postgresql:// URL', async () => {
    for (const url of [database.url, database.url.replace(/^postgres:/, 'postgresql:')]) {
      const store = await openStore({ url, root: '/nonexistent' });
      opened.push(store);
      expect(typeof store.watchDue).toBe('function');
      expect(await store.hasIssues()).toBe(false);
    }
  });
});
