/**
 * Planning N deliveries on PostgreSQL against SQLite in one run (`bench:plan`, and the planning
 * line of `bench:workers`): each on a new store seeded with the same N active subscribers,
 * `planDeliveries` alone timed.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { openPostgresStore } from '../src/store/postgres-store.ts';
import { openSqliteStore } from '../src/store/sqlite-store.ts';
import type { IssueRecord, Store } from '../src/store/types.ts';
import { seedPostgresSubscribers, seedSubscribers } from './seed-subscribers.ts';

/** The PostgreSQL server the benchmarks use (they create and drop their own databases there). */
export const BENCH_POSTGRES = process.env.LETTERPRESS_BENCH_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432';

const at = new Date().toISOString();
const issue: IssueRecord = {
  slug: 'bench-plan',
  title: 'Planning benchmark',
  contentHash: 'bench',
  sourceFile: 'issues/bench-plan.md',
  state: 'published',
  firstSeenAt: at,
  publishedAt: at,
  updatedAt: at,
  feedId: 'urn:letterpress:bench-plan',
};

async function timePlanning(store: Store, total: number): Promise<number> {
  await store.saveIssue(issue);
  const started = process.hrtime.bigint();
  const created = await store.planDeliveries(issue.slug, at);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (created !== total) throw new Error(`planned ${created} rows, expected ${total}`);
  return seconds;
}

/** One statement on the server's `postgres` database (CREATE / DROP DATABASE). */
export async function onPostgresServer(server: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: `${server}/postgres` });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

async function benchSqlite(total: number): Promise<number> {
  const dir = await mkdtemp(path.join(tmpdir(), 'letterpress-plan-bench-'));
  const file = path.join(dir, 'letterpress.db');
  try {
    await (await openSqliteStore({ file })).close();
    seedSubscribers(file, total);
    const store = await openSqliteStore({ file });
    try {
      return await timePlanning(store, total);
    } finally {
      await store.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function benchPostgres(server: string, total: number): Promise<number> {
  const name = `letterpress_plan_bench_${randomBytes(4).toString('hex')}`;
  await onPostgresServer(server, `CREATE DATABASE "${name}"`);
  try {
    const store = await openPostgresStore({ url: `${server}/${name}` });
    try {
      await seedPostgresSubscribers(`${server}/${name}`, total);
      return await timePlanning(store, total);
    } finally {
      await store.close();
    }
  } finally {
    await onPostgresServer(server, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  }
}

/**
 * Seconds `planDeliveries` takes for `total` active subscribers on a new SQLite store and on a
 * new PostgreSQL database, one after the other in this process (seeding not timed).
 */
export async function comparePlanning(total: number, server = BENCH_POSTGRES): Promise<{ sqlite: number; postgres: number }> {
  const sqlite = await benchSqlite(total);
  const postgres = await benchPostgres(server, total);
  return { sqlite, postgres };
}
