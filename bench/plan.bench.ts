// Planning N deliveries (default 1,000,000 active subscribers) on PostgreSQL vs SQLite, in one
// run: the ratio is PostgreSQL's time ÷ SQLite's (target ≤ 3). Seeding is not measured.
//   npm run bench:plan [-- N]      LETTERPRESS_BENCH_POSTGRES=postgres://user@host:port (default: 127.0.0.1:5432, user postgres)
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { openPostgresStore } from '../src/store/postgres-store.ts';
import { openSqliteStore } from '../src/store/sqlite-store.ts';
import type { IssueRecord, Store } from '../src/store/types.ts';
import { seedSubscribers } from './seed-subscribers.ts';

const total = Number(process.argv[2] ?? 1_000_000);
const server = process.env.LETTERPRESS_BENCH_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432';
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

async function timePlanning(store: Store): Promise<number> {
  await store.saveIssue(issue);
  const started = process.hrtime.bigint();
  const created = await store.planDeliveries(issue.slug, at);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (created !== total) throw new Error(`planned ${created} rows, expected ${total}`);
  return seconds;
}

async function onServer(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: `${server}/postgres` });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

async function benchSqlite(): Promise<number> {
  const dir = await mkdtemp(path.join(tmpdir(), 'letterpress-plan-bench-'));
  const file = path.join(dir, 'letterpress.db');
  try {
    await (await openSqliteStore({ file })).close();
    seedSubscribers(file, total);
    const store = await openSqliteStore({ file });
    try {
      return await timePlanning(store);
    } finally {
      await store.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function benchPostgres(): Promise<number> {
  const name = `letterpress_plan_bench_${randomBytes(4).toString('hex')}`;
  await onServer(`CREATE DATABASE "${name}"`);
  try {
    const store = await openPostgresStore({ url: `${server}/${name}` });
    try {
      const client = new pg.Client({ connectionString: `${server}/${name}` });
      await client.connect();
      try {
        await client.query(
          `INSERT INTO subscribers (email, email_key, name, status, source, created_at, updated_at, confirmed_at)
           SELECT 'reader' || i || '@example.org', 'reader' || i || '@example.org', CASE WHEN i % 2 = 0 THEN '读者 ' || i END,
                  'active', 'import', $1, $1, $1
           FROM generate_series(1, $2::int) AS i`,
          [at, total],
        );
        await client.query('VACUUM ANALYZE subscribers');
      } finally {
        await client.end();
      }
      return await timePlanning(store);
    } finally {
      await store.close();
    }
  } finally {
    await onServer(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  }
}

const sqlite = await benchSqlite();
const postgres = await benchPostgres();
const rate = (seconds: number) => `${Math.round(total / seconds).toLocaleString('en')} rows/s`;
console.log(`planning ${total.toLocaleString('en')} deliveries`);
console.log(`  SQLite:     ${sqlite.toFixed(2)} s (${rate(sqlite)})`);
console.log(`  PostgreSQL: ${postgres.toFixed(2)} s (${rate(postgres)})`);
console.log(`  ratio PostgreSQL / SQLite: ${(postgres / sqlite).toFixed(2)} (target ≤ 3)`);
