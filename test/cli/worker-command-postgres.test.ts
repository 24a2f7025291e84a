import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { digestIssue, spawnLogging, type DaemonChild } from '../helpers/daemon-child.ts';
import { eventually } from '../helpers/daemon-project.ts';
import { busiestWindow, startCountingRelay, type CountingRelay } from '../helpers/counting-relay.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres-database.ts';
import { activeRows, createSendProject, issueStatus, TEST_SECRET } from '../helpers/send-project.ts';
import { runCli } from '../helpers/temp-project.ts';

/**
 * `letterpress worker` processes on one PostgreSQL store: the built CLI as child processes,
 * each in an empty directory with only the environment, a loopback relay that counts what
 * arrives per recipient and per worker (each names itself in EHLO through smtp.clientName).
 */

const SLUG = '2024-42';
/** The project that plans: a public-looking site and From, as a real one has (the preflight checks what goes out). */
const PUBLIC_SENDER = {
  LETTERPRESS_SITE_URL: 'https://news.letterpress.dev',
  LETTERPRESS_SENDER_FROMADDRESS: 'news@letterpress.dev',
};
/** Subscribers of the crash test; `LETTERPRESS_TEST_WORKER_SUBSCRIBERS=20000` for the large run by hand. */
const CRASH_SUBSCRIBERS = Number(process.env.LETTERPRESS_TEST_WORKER_SUBSCRIBERS ?? 3_000);

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface PostgresProject {
  root: string;
  database: TestDatabase;
  /** What the project's own commands (build, status) run with. */
  env: Record<string, string>;
}

/** A project on a database of its own with `count` active subscribers and the samples archived; `plan` also plans 2024-42. */
async function postgresProject(count: number, options: { plan: boolean }): Promise<PostgresProject> {
  const database = await createTestDatabase('letterpress_workers');
  cleanups.push(() => database.drop());
  const env = { LETTERPRESS_DB: database.url, LETTERPRESS_SECRET: TEST_SECRET, ...PUBLIC_SENDER };
  const root = await createSendProject(activeRows(count), env);
  cleanups.push(() => rm(root, { recursive: true, force: true }));
  const project = { root, database, env };
  if (options.plan) await planIssue(project);
  return project;
}

/** Drops 2024-42 into the project and builds: recorded and planned for every active subscriber. */
async function planIssue(project: PostgresProject): Promise<void> {
  await writeFile(path.join(project.root, 'issues', `${SLUG}.md`), await digestIssue(42));
  const built = await runCli(['build'], project.root, project.env);
  expect(built.code, built.stderr).toBe(0);
  // A worker already running may have started on it by now.
  expect(['planned', 'sending', 'sent']).toContain((await issueStatus(project.root, SLUG, project.env)).state);
}

async function relay(): Promise<CountingRelay> {
  const started = await startCountingRelay();
  cleanups.push(() => started.close());
  return started;
}

/**
 * A worker in an empty directory of its own with nothing but the store, the relay and the
 * secret, plus `extra`; its EHLO name is `name`.letterpress.dev, so the relay can tell them apart.
 */
async function startWorker(database: TestDatabase, to: CountingRelay, name: string, extra: Record<string, string> = {}): Promise<DaemonChild & { dir: string; ehlo: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'letterpress-pg-worker-'));
  const ehlo = `${name}.letterpress.dev`;
  const worker = spawnLogging(dir, { LETTERPRESS_DB: database.url, LETTERPRESS_SMTP_URL: to.url, LETTERPRESS_SECRET: TEST_SECRET, LETTERPRESS_SMTP_CLIENTNAME: ehlo, ...extra }, ['worker']);
  cleanups.push(async () => {
    await worker.kill();
    await rm(dir, { recursive: true, force: true });
  });
  return Object.assign(worker, { dir, ehlo });
}

/** The LISTEN connections open on `database` (a worker opens one; it is up a moment after the worker starts). */
async function listeners(database: TestDatabase): Promise<number> {
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    const { rows } = await client.query<{ count: string }>(
      `SELECT count(*) AS count FROM pg_stat_activity WHERE datname = $1 AND application_name = 'letterpress-listen' AND query LIKE 'LISTEN%'`,
      [database.name],
    );
    return Number(rows[0]!.count);
  } finally {
    await client.end();
  }
}

/** `wait`, with the workers' logs in its error when it fails (what a worker refused or hit). */
async function watching<T>(workers: readonly DaemonChild[], wait: Promise<T>): Promise<T> {
  try {
    return await wait;
  } catch (error) {
    const logs = workers.map((worker, index) => `worker ${index}:\n${worker.lines.map((line) => JSON.stringify(line)).join('\n')}\n${worker.other.join('')}`);
    throw new Error(`${(error as Error).message}\n${logs.join('\n')}`, { cause: error });
  }
}

const sentBy = (worker: DaemonChild) =>
  worker.lines.filter((line) => typeof line.sent === 'number' && line.slug === SLUG).reduce((sum, line) => sum + Number(line.sent), 0);

describe('letterpress worker on PostgreSQL', () => {
  it('in an empty directory with only LETTERPRESS_DB, the SMTP URL and the secret, sends a planned issue', async () => {
    const count = 8;
    const project = await postgresProject(count, { plan: true });
    const to = await relay();
    const worker = await startWorker(project.database, to, 'alone');
    await watching([worker], eventually(async () => to.byRecipient.size === count, 60_000, `${count} recipients`));
    await eventually(async () => (await issueStatus(project.root, SLUG, project.env)).state === 'sent', 30_000, `${SLUG} sent`);
    expect([...to.byRecipient.values()].every((n) => n === 1)).toBe(true);
    expect(to.bySender.get(worker.ehlo)).toBe(count);
    worker.child.kill('SIGTERM');
    expect(await worker.exited).toEqual({ code: 0, signal: null });
    expect(await readdir(worker.dir)).toEqual([]);
  }, 120_000);

  it('an idle worker sends a newly planned issue at once, woken by NOTIFY, long before its poll (delivery.pollSeconds 120)', async () => {
    const count = 6;
    const project = await postgresProject(count, { plan: false });
    const to = await relay();
    const worker = await startWorker(project.database, to, 'idle', { LETTERPRESS_DELIVERY_POLLSECONDS: '120' });
    // Its first look found nothing: the next poll is 120 s after this line.
    const idle = await worker.waitFor((line) => /^nothing to send now/.test(line.msg), 30_000, 'the worker idle');
    expect(idle).toMatchObject({ pollSeconds: 120, notified: true });
    await eventually(async () => (await listeners(project.database)) === 1, 15_000, 'the worker listening');

    await planIssue(project);
    await watching([worker], eventually(async () => to.byRecipient.size === count, 60_000, `${count} recipients`));
    // Every message came while the worker's poll was still far off: the notification woke it.
    expect(Math.max(...to.acceptedAt)).toBeLessThan(Number(idle.time) + 60_000);
    await eventually(async () => (await issueStatus(project.root, SLUG, project.env)).state === 'sent', 30_000, `${SLUG} sent`);
    expect(worker.lines.filter((line) => /^nothing to send now/.test(line.msg)).length).toBeGreaterThanOrEqual(1);
  }, 120_000);

  it(`three workers send one issue to ${CRASH_SUBSCRIBERS} subscribers; one SIGKILLed mid-run: everyone gets it, duplicates within the ledger's bound`, async () => {
    const count = CRASH_SUBSCRIBERS;
    const project = await postgresProject(count, { plan: true });
    const to = await relay();
    // The README's bound for a crashed sender: its messages on the wire (one per connection) plus its open mark batch.
    const maxConnections = 5;
    const markBatchRows = 50;
    const settings = {
      LETTERPRESS_DELIVERY_LEASESECONDS: '3',
      LETTERPRESS_DELIVERY_POLLSECONDS: '2',
      LETTERPRESS_DELIVERY_BATCHSIZE: '50',
      LETTERPRESS_SMTP_POOL_MAXCONNECTIONS: String(maxConnections),
      LETTERPRESS_DELIVERY_MARKBATCH_ROWS: String(markBatchRows),
    };
    const workers = [];
    for (const name of ['worker-a', 'worker-b', 'worker-c']) workers.push(await startWorker(project.database, to, name, settings));
    const [victim, ...survivors] = workers as [typeof workers[0], ...typeof workers];

    // Mid-run: a third of the issue is out, the victim sent its share of it.
    await watching(workers, eventually(async () => to.total() >= count / 3 && (to.bySender.get(victim.ehlo) ?? 0) > 0, Math.max(120_000, count * 20), 'a third sent', 10));
    victim.child.kill('SIGKILL');
    await victim.exited;
    const atKill = to.total();
    expect(atKill).toBeLessThan(count);

    await watching(workers, eventually(async () => to.byRecipient.size === count, Math.max(180_000, count * 30), `all ${count} recipients`, 250));
    const status = await eventually(async () => {
      const current = await issueStatus(project.root, SLUG, project.env);
      return current.state === 'sent' && current;
    }, 60_000, `${SLUG} sent`, 500);
    // Nothing is left `sending` once the killed worker's leases lapsed: its rows went back and out.
    expect(status.counts).toMatchObject({ sent: count, sending: 0, queued: 0, deferred: 0, failed: 0 });

    const duplicates = to.total() - count;
    expect(duplicates).toBeLessThanOrEqual(maxConnections + markBatchRows);
    // Every message that arrived twice was one the killed worker had sent (or had on the wire).
    for (const [recipient, senders] of to.sendersOf) {
      if (senders.length > 1) expect(senders, recipient).toContain(victim.ehlo);
    }
    for (const survivor of survivors) expect(to.bySender.get(survivor.ehlo) ?? 0).toBeGreaterThan(0);

    for (const survivor of survivors) survivor.child.kill('SIGTERM');
    for (const survivor of survivors) expect(await survivor.exited).toEqual({ code: 0, signal: null });
    // Each surviving worker's log adds up to what the relay got from it (the killed one's never could).
    for (const survivor of survivors) expect(sentBy(survivor)).toBe(to.bySender.get(survivor.ehlo));

    const seconds = (Math.max(...to.acceptedAt) - Math.min(...to.acceptedAt)) / 1000;
    console.info(
      JSON.stringify({
        subscribers: count,
        messages: to.total(),
        duplicates,
        seconds: Math.round(seconds * 10) / 10,
        messagesPerSecond: Math.round(to.total() / seconds),
        atKill,
        perWorker: Object.fromEntries(workers.map((worker) => [worker.ehlo, to.bySender.get(worker.ehlo) ?? 0])),
      }),
    );
  }, 900_000);

  it('delivery.globalRateLimit: three workers together stay within the limit (+5 %) in every sliding 10 s window of the relay’s accept times', async () => {
    const rate = 20;
    const count = 300;
    const project = await postgresProject(count, { plan: true });
    const to = await relay();
    const settings = {
      LETTERPRESS_DELIVERY_GLOBALRATELIMIT: String(rate),
      // Small claims: all three workers share the issue from the start.
      LETTERPRESS_DELIVERY_BATCHSIZE: '10',
    };
    const workers = [];
    for (const name of ['rate-a', 'rate-b', 'rate-c']) workers.push(await startWorker(project.database, to, name, settings));
    await watching(workers, eventually(async () => to.total() >= count, 120_000, `${count} messages`, 250));
    await eventually(async () => (await issueStatus(project.root, SLUG, project.env)).state === 'sent', 30_000, `${SLUG} sent`);
    for (const worker of workers) worker.child.kill('SIGTERM');
    for (const worker of workers) expect((await worker.exited).code).toBe(0);

    expect(to.total()).toBe(count);
    expect([...to.byRecipient.values()].every((n) => n === 1)).toBe(true);
    expect(workers.filter((worker) => (to.bySender.get(worker.ehlo) ?? 0) > 0).length).toBeGreaterThanOrEqual(2);
    const accepted = [...to.acceptedAt].sort((a, b) => a - b);
    const busiest = busiestWindow(accepted, 10_000);
    expect(busiest, `busiest 10 s window: ${busiest} messages`).toBeLessThanOrEqual(Math.floor(rate * 10 * 1.05));
    // Kept by pacing, not by a slow relay: 300 messages at 20/s take about 15 s.
    expect(accepted.at(-1)! - accepted[0]!).toBeGreaterThan(((count - rate * 10 * 1.05) / rate) * 1000);
  }, 180_000);
});
