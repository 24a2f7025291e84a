// `letterpress migrate` from a SQLite store with N subscribers (default 100,000), two issues sent
// to all of them and a third half sent, into a fresh PostgreSQL database: the first run, a re-run
// (nothing to copy), and the baseline measured in the same run: the same delivery rows planned
// on PostgreSQL by the server itself (one set-based INSERT … SELECT per chunk, no rows on the wire).
//   npm run bench:migrate [-- N]      LETTERPRESS_BENCH_POSTGRES=postgres://user@host:port (default: 127.0.0.1:5432, user postgres)
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { main } from '../src/cli/main.ts';
import { openPostgresStore } from '../src/store/postgres-store.ts';
import { openSqliteStore } from '../src/store/sqlite-store.ts';
import type { IssueRecord } from '../src/store/types.ts';
import { seedSubscribers } from './seed-subscribers.ts';
import { onPostgresServer } from './plan-comparison.ts';

const total = Number(process.argv[2] ?? 100_000);
const server = process.env.LETTERPRESS_BENCH_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432';
const at = new Date(Date.now() - 3_600_000).toISOString();
const issue = (slug: string): IssueRecord => ({
  slug,
  title: `Migrate benchmark ${slug}`,
  contentHash: `bench-${slug}`,
  sourceFile: `issues/${slug}.md`,
  state: 'published',
  firstSeenAt: at,
  publishedAt: at,
  updatedAt: at,
  feedId: `urn:letterpress:${slug}`,
});
const SLUGS = ['bench-1', 'bench-2', 'bench-3'];

/** The SQLite source: subscribers seeded straight into the file, three issues planned, two sent, one half sent. */
async function seedSource(file: string): Promise<void> {
  await (await openSqliteStore({ file })).close();
  seedSubscribers(file, total);
  const store = await openSqliteStore({ file });
  try {
    for (const slug of SLUGS) {
      await store.recordIssue(issue(slug));
      await store.planDeliveries(slug, at);
    }
  } finally {
    await store.close();
  }
  const db = new Database(file);
  try {
    db.prepare("UPDATE deliveries SET state = 'sent', attempts = 1, last_reply = '250 ok', updated_at = ? WHERE issue_slug IN ('bench-1', 'bench-2')").run(at);
    db.prepare("UPDATE deliveries SET state = 'sent', attempts = 1, last_reply = '250 ok', updated_at = ? WHERE issue_slug = 'bench-3' AND subscriber_id <= ?").run(at, total / 2);
    db.prepare("UPDATE issues SET state = CASE slug WHEN 'bench-3' THEN 'sending' ELSE 'sent' END").run();
  } finally {
    db.close();
  }
}

/** One statement on the server's `postgres` database (CREATE / DROP DATABASE). */
const onServer = (sql: string) => onPostgresServer(server, sql);

async function withDatabase<T>(work: (url: string) => Promise<T>): Promise<T> {
  const name = `letterpress_migrate_bench_${randomBytes(4).toString('hex')}`;
  await onServer(`CREATE DATABASE "${name}"`);
  try {
    return await work(`${server}/${name}`);
  } finally {
    await onServer(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  }
}

async function timeMigrate(file: string, url: string): Promise<{ seconds: number; stdout: string }> {
  let stdout = '';
  let stderr = '';
  const started = process.hrtime.bigint();
  const code = await main(['node', 'letterpress', 'migrate', '--from', `sqlite:${file}`, '--to', url], {
    stdout: { write: (text) => void (stdout += text) },
    stderr: { write: (text) => void (stderr += text) },
    env: {},
    cwd: path.dirname(file),
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (code !== 0) throw new Error(`migrate exited ${code}: ${stderr}`);
  return { seconds, stdout };
}

/** The baseline: the server planning the same 3 × N delivery rows itself, from subscribers already there. */
async function timePlanningOnServer(url: string): Promise<number> {
  const store = await openPostgresStore({ url });
  try {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query(
        `INSERT INTO subscribers (email, email_key, status, source, created_at, updated_at)
         SELECT 'reader' || i || '@example.org', 'reader' || i || '@example.org', 'active', 'import', $1, $1 FROM generate_series(1, $2::int) AS i`,
        [at, total],
      );
      await client.query('VACUUM ANALYZE subscribers');
    } finally {
      await client.end();
    }
    for (const slug of SLUGS) await store.recordIssue(issue(slug));
    const started = process.hrtime.bigint();
    for (const slug of SLUGS) await store.planDeliveries(slug, at);
    return Number(process.hrtime.bigint() - started) / 1e9;
  } finally {
    await store.close();
  }
}

const dir = await mkdtemp(path.join(tmpdir(), 'letterpress-migrate-bench-'));
try {
  const file = path.join(dir, 'letterpress.db');
  await seedSource(file);
  const baseline = await withDatabase(timePlanningOnServer);
  const { first, again, report } = await withDatabase(async (url) => {
    const copy = await timeMigrate(file, url);
    const rerun = await timeMigrate(file, url);
    return { first: copy.seconds, again: rerun.seconds, report: copy.stdout };
  });
  console.log(report.trimEnd());
  const rows = Number(/^Copied (\d+) rows/.exec(report)?.[1] ?? Number.NaN);
  console.log(`migrate ${total.toLocaleString('en')} subscribers, ${(3 * total).toLocaleString('en')} deliveries (${rows.toLocaleString('en')} rows), SQLite → PostgreSQL`);
  console.log(`  first run:                  ${first.toFixed(2)} s (${Math.round(rows / first).toLocaleString('en')} rows/s)`);
  console.log(`  re-run (nothing to copy):   ${again.toFixed(2)} s`);
  console.log(`  baseline, planning the same deliveries on the server: ${baseline.toFixed(2)} s`);
  console.log(`  ratio first run / baseline: ${(first / baseline).toFixed(2)}`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
