import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/open-store.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres-database.ts';
import { activeRows, createSendProject, issueStatus, listSubscribers, withStore } from '../helpers/send-project.ts';
import { startSmtpSink, type ReceivedMessage, type SmtpSink } from '../helpers/smtp-sink.ts';
import { runCli } from '../helpers/temp-project.ts';
import { FORM, startServer } from '../server/server-fixture.ts';

/**
 * `letterpress migrate --from sqlite:… --to postgres://…` on real stores: a SQLite file made by
 * real sends over loopback SMTP, and a PostgreSQL database of its own per test.
 */

const roots: string[] = [];
const databases: TestDatabase[] = [];
const sinks: SmtpSink[] = [];
afterEach(async () => {
  for (const sink of sinks.splice(0)) await sink.close();
  for (const root of roots.splice(0)) await rm(root, { recursive: true, force: true });
  for (const database of databases.splice(0)) await database.drop();
});

const SOURCE = 'sqlite:data/letterpress.db';
const HALF_SENT = '2024-40';

async function database(): Promise<TestDatabase> {
  const created = await createTestDatabase('letterpress_migrate');
  databases.push(created);
  return created;
}

/** `<slug.subscriberId.hash@domain>`: which issue a received message belongs to. */
const slugOf = (message: ReceivedMessage) => /^Message-ID: <([^.]+)\./m.exec(message.raw.toString('latin1', 0, 4000))?.[1];

/** Messages per recipient for one issue. */
function receivedPerRecipient(messages: readonly ReceivedMessage[], slug: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const message of messages.filter((m) => slugOf(m) === slug)) counts.set(message.rcpt[0]!, (counts.get(message.rcpt[0]!) ?? 0) + 1);
  return counts;
}

/** The https link of a received message's List-Unsubscribe header. */
function unsubscribeUrlOf(message: ReceivedMessage): string {
  const headers = message.raw.toString('utf8').split('\r\n\r\n')[0]!.replace(/\r\n[ \t]+/g, ' ');
  const url = /^List-Unsubscribe: .*?<(https?:[^>]+)>/m.exec(headers)?.[1];
  if (url === undefined) throw new Error(`no List-Unsubscribe URL in:\n${headers}`);
  return url;
}

/**
 * A SQLite project with 30 readers (the last one erased), the two sample issues sent to all of
 * them, and a third issue half sent: the relay refused the sender after some messages (the run
 * stopped, the rest stays queued) and a sender that died left two rows `sending` under a lease
 * that has lapsed. No LETTERPRESS_SECRET: the token key lives in the store.
 */
async function halfSentProject(): Promise<{ root: string; sink: SmtpSink; env: Record<string, string>; stopAfter: { count: number | undefined } }> {
  const stopAfter: { count: number | undefined } = { count: undefined };
  const sink = await startSmtpSink({
    onMailFrom: (_address, _session, callback) => {
      if (stopAfter.count !== undefined && sink.messages.length >= stopAfter.count) {
        return callback(Object.assign(new Error('5.1.8 Sender address rejected: Domain not found'), { responseCode: 553 }));
      }
      callback();
    },
  });
  sinks.push(sink);
  const env = { LETTERPRESS_SMTP_URL: sink.url, LETTERPRESS_SMTP_POOL_MAXCONNECTIONS: '1' };
  const root = await createSendProject(activeRows(30), env);
  roots.push(root);
  expect((await runCli(['subscribers', 'remove', 'reader-0030@example.org'], root, env)).code).toBe(0);
  for (const slug of ['2024-18', '2024-32']) {
    const sent = await runCli(['send', slug, '--no-build'], root, env);
    expect(sent.code, sent.stderr).toBe(0);
  }
  // A third issue, published after the store was made: planned by the build, then half sent.
  const sample = await readFile(path.join(root, 'issues', '2024-32.md'), 'utf8');
  await writeFile(path.join(root, 'issues', `${HALF_SENT}.md`), sample.replace('第三十二期', '第四十期').replace('Azure Files', 'Azure Blob'));
  expect((await runCli(['build'], root, env)).code).toBe(0);
  stopAfter.count = sink.messages.length + 10;
  const half = await runCli(['send', HALF_SENT, '--no-build'], root, env);
  expect(half.stderr).toContain('[E_SMTP_SENDER]');
  stopAfter.count = undefined;
  await withStore(root, async (store) => {
    const past = new Date(Date.now() - 60_000);
    const claimed = await store.claimDeliveries({
      issueSlug: HALF_SENT,
      holder: 'gone-host:4242:dead',
      limit: 2,
      now: past.toISOString(),
      leaseUntil: new Date(past.getTime() + 5_000).toISOString(),
    });
    expect(claimed).toHaveLength(2);
  });
  const status = await issueStatus(root, HALF_SENT);
  expect(status.state).toBe('sending');
  expect(status.counts).toMatchObject({ sent: 10, sending: 2, queued: 17 });
  return { root, sink, env, stopAfter };
}

async function tableCount(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ count: string }>("SELECT count(*) AS count FROM pg_tables WHERE schemaname = 'public'");
    return Number(rows[0]!.count);
  } finally {
    await client.end();
  }
}

describe('letterpress migrate', () => {
  it('copies a half-sent SQLite store to PostgreSQL; a re-run changes nothing; the send finishes there once per reader; old links still work', async () => {
    const { root, sink, env } = await halfSentProject();
    const target = await database();
    const sourceStatus = JSON.parse((await runCli(['status', '--json'], root, env)).stdout) as unknown[];

    const dry = await runCli(['migrate', '--from', SOURCE, '--to', target.url, '--dry-run'], root);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/^Dry run: data\/letterpress\.db \(SQLite\) → postgres:\/\/postgres@127\.0\.0\.1:5432\/\S+ \(PostgreSQL\): \d+ of \d+ rows would be copied; nothing was changed\./);
    expect(await tableCount(target.url)).toBe(0);

    const first = await runCli(['migrate', '--from', SOURCE, '--to', target.url], root);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/^Copied \d+ rows from data\/letterpress\.db \(SQLite\) to postgres:/);
    expect(first.stdout).toMatch(/^ {2}subscribers +29 +29 +29$/m);
    expect(first.stdout).toMatch(/^ {2}suppressions +1 +1 +1$/m);
    expect(first.stdout).toMatch(/^ {2}deliveries +87 +87 +87$/m);
    expect(first.stdout).toMatch(new RegExp(`^ {4}${HALF_SENT} sending +2 +2$`, 'm'));
    expect(first.stdout).toContain(`${HALF_SENT}: 2 messages left "sending" by a sender that stopped (lease lapsed) are copied as they are`);
    expect(first.stdout).toContain('Id sequences raised past the source\'s on the target: subscribers, deliveries');
    expect(first.stdout).toContain('Counts match on both sides, per table and per delivery state.');
    const pgEnv = { ...env, LETTERPRESS_DB: target.url };
    expect(JSON.parse((await runCli(['status', '--json'], root, pgEnv)).stdout)).toEqual(sourceStatus);

    const again = await runCli(['migrate', '--from', SOURCE, '--to', target.url, '--json'], root);
    expect(again.code, again.stderr).toBe(0);
    const report = JSON.parse(again.stdout) as { copied: number; raisedIds: string[]; mismatches: string[]; tables: { table: string; copied: number }[] };
    expect(report).toMatchObject({ copied: 0, raisedIds: [], mismatches: [] });
    const copied = report.tables.map((row) => row.table);
    expect(copied).toEqual(expect.arrayContaining(['subscribers', 'suppressions', 'secrets', 'issues', 'renditions', 'send_stalls', 'deliveries', 'confirmation_log', 'outgoing_mail']));
    expect(copied).not.toContain('leases');
    const text = await runCli(['migrate', '--from', SOURCE, '--to', target.url], root);
    expect(text.stdout).toMatch(/^Nothing to copy: the target postgres:\S+ \(PostgreSQL\) already holds all \d+ rows of data\/letterpress\.db \(SQLite\); nothing was changed\./);

    // The half-sent issue finishes on PostgreSQL: the orphans come back once, nobody gets it twice.
    const before = sink.messages.length;
    const finish = await runCli(['send', HALF_SENT, '--no-build'], root, pgEnv);
    expect(finish.code, finish.stderr).toBe(0);
    expect(finish.stderr).toContain('2 messages left "sending" by an interrupted run (its lease lapsed) go back to the queue');
    expect(sink.messages.length - before).toBe(19);
    const perReader = receivedPerRecipient(sink.messages, HALF_SENT);
    expect([...perReader.keys()].sort()).toEqual(activeRows(29).map((row) => row.email));
    expect([...perReader.values()]).toEqual(Array(29).fill(1));
    expect((await issueStatus(root, HALF_SENT, pgEnv)).counts).toMatchObject({ sent: 29, sending: 0, queued: 0 });

    // A link sent from the SQLite store, before the copy, unsubscribes on PostgreSQL.
    const early = sink.messages.find((message) => slugOf(message) === '2024-18' && message.rcpt[0] === 'reader-0007@example.org')!;
    const token = new URL(unsubscribeUrlOf(early)).searchParams.get('token')!;
    const server = await startServer({ env: { LETTERPRESS_DB: target.url, LETTERPRESS_SECRET: undefined }, build: false });
    try {
      const response = await server.server.inject({ method: 'POST', url: `/unsubscribe?token=${encodeURIComponent(token)}`, headers: FORM, payload: 'List-Unsubscribe=One-Click' });
      expect(response.statusCode, response.body).toBe(200);
      expect((await (await server.app.store()).findSubscriberByEmail('reader-0007@example.org'))?.status).toBe('unsubscribed');
    } finally {
      await server.close();
    }

    // The erased reader's id (30, the highest) is never handed out again.
    expect((await runCli(['subscribers', 'add', 'newcomer@example.org'], root, pgEnv)).code).toBe(0);
    const newcomer = (await listSubscribers(root, pgEnv)).find((subscriber) => subscriber.email === 'newcomer@example.org')!;
    expect(newcomer.id).toBe(31);
  }, 180_000);

  it('refuses a source with a live lease before touching the target; --force copies and says what it went past', async () => {
    const root = await createSendProject(activeRows(3));
    roots.push(root);
    const target = await database();
    await withStore(root, (store) => store.acquireLease('scheduler', 'other-host:77:abcd', new Date(Date.now() + 600_000).toISOString(), new Date().toISOString()));

    const refused = await runCli(['migrate', '--from', SOURCE, '--to', target.url], root);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/data\/letterpress\.db is in use: the scheduler lease is held by other-host:77:abcd until \S+\. Stop what runs on it .* \[E_MIGRATE_IN_USE\]/);
    expect(await tableCount(target.url)).toBe(0);

    const forced = await runCli(['migrate', '--from', SOURCE, '--to', target.url, '--force'], root);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stderr).toMatch(/warning: copied although the scheduler lease is held by other-host:77:abcd .*\(--force\)/);
    expect(forced.stdout).toMatch(/^ {2}subscribers +3 +3 +3$/m);
    // Leases stay with the processes of the source: the target's scheduler lease is free.
    const store = await openStore({ url: target.url, root });
    try {
      expect(await store.getLease('scheduler')).toBeUndefined();
    } finally {
      await store.close();
    }
  }, 60_000);

  it('refuses a target that holds other data, naming the table and the id, and changes nothing', async () => {
    const root = await createSendProject(activeRows(3));
    roots.push(root);
    const target = await database();
    expect((await runCli(['migrate', '--from', SOURCE, '--to', target.url], root)).code).toBe(0);
    const pgEnv = { LETTERPRESS_DB: target.url };

    // Rows the source never had: a target in use on its own. A dry run says so as a real run would.
    expect((await runCli(['subscribers', 'add', 'extra@example.org'], root, pgEnv)).code).toBe(0);
    const extra = await runCli(['migrate', '--from', SOURCE, '--to', target.url, '--dry-run'], root);
    expect(extra.code).toBe(1);
    expect(extra.stderr).toContain("the target's table subscribers holds 1 row the source does not have (such as id 4): it is not a copy of this source.");

    // The same id with other values: refused before anything is written.
    expect((await runCli(['subscribers', 'add', 'reader-0002@example.org', '--name', 'Someone Else'], root, pgEnv)).code).toBe(0);
    const changed = await runCli(['migrate', '--from', SOURCE, '--to', target.url], root);
    expect(changed.code).toBe(1);
    expect(changed.stderr).toContain('the target holds other data for subscribers id 2: name is "Someone Else" there, "Reader 2" on the source.');
    expect(changed.stderr).toContain('[E_MIGRATE_CONFLICT]');
    const subscribers = await listSubscribers(root, pgEnv);
    expect(subscribers.map((subscriber) => [subscriber.email, subscriber.name])).toEqual([
      ['reader-0001@example.org', 'Reader 1'],
      ['reader-0002@example.org', 'Someone Else'],
      ['reader-0003@example.org', 'Reader 3'],
      ['extra@example.org', null],
    ]);
  }, 60_000);

  it('explains its options and refuses bad input with clear errors, never showing a password', async () => {
    const root = await createSendProject([]);
    roots.push(root);
    const help = await runCli(['migrate', '--help'], root);
    expect(help.code).toBe(0);
    for (const words of ['--from <store>', '--to <store>', '--dry-run', '--force', 'Named leases, sender heartbeats and rate-limit slots', 'Running it again copies only what is missing']) {
      expect(help.stdout).toContain(words);
    }

    const missing = await runCli(['migrate', '--from', SOURCE], root);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('migrate needs both --from and --to');

    const same = await runCli(['migrate', '--from', SOURCE, '--to', 'data/letterpress.db'], root);
    expect(same.code).toBe(2);
    expect(same.stderr).toContain('--from and --to name the same store (data/letterpress.db)');

    const noSource = await runCli(['migrate', '--from', 'sqlite:data/nothing.db', '--to', 'sqlite:data/copy.db'], root);
    expect(noSource.code).toBe(1);
    expect(noSource.stderr).toContain('data/nothing.db: no SQLite store there [E_STORE]');

    const gone = 'postgres://postgres:hunter2@127.0.0.1:5432/letterpress_migrate_no_such_database';
    const absent = await runCli(['migrate', '--from', SOURCE, '--to', gone], root);
    expect(absent.code).toBe(1);
    expect(absent.stderr).toContain('PostgreSQL store 127.0.0.1:5432/letterpress_migrate_no_such_database: the database does not exist; create it first');
    const dryAbsent = await runCli(['migrate', '--from', SOURCE, '--to', gone, '--dry-run'], root);
    expect(dryAbsent.code).toBe(1);
    for (const run of [absent, dryAbsent]) expect(run.stdout + run.stderr).not.toContain('hunter2');
  }, 60_000);
});
