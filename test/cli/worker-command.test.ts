import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { spawnLogging, digestIssue, type DaemonChild } from '../helpers/daemon-child.ts';
import { eventually } from '../helpers/daemon-project.ts';
import { activeRows, createSendProject, issueStatus, TEST_SECRET } from '../helpers/send-project.ts';
import { countByRecipient, startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.ts';
import { runCli } from '../helpers/temp-project.ts';

const SLUG = '2024-42';
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A project whose store has issue 2024-42 planned for `count` subscribers (built once, never sent). */
async function plannedProject(count: number): Promise<{ root: string; store: string }> {
  const root = await createSendProject(activeRows(count));
  cleanups.push(() => rm(root, { recursive: true, force: true }));
  await writeFile(path.join(root, 'issues', `${SLUG}.md`), await digestIssue(42));
  const built = await runCli(['build'], root);
  expect(built.code, built.stderr).toBe(0);
  expect((await issueStatus(root, SLUG)).state).toBe('planned');
  return { root, store: path.join(root, 'data', 'letterpress.db') };
}

/** An empty directory: no config, no issues, no templates. */
async function emptyDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'letterpress-worker-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** What a worker needs besides the store: SMTP, the secret, the facts every message must carry. */
function workerEnv(sink: SmtpSink, extra: Record<string, string> = {}): Record<string, string> {
  return {
    LETTERPRESS_SMTP_URL: sink.url,
    LETTERPRESS_SECRET: TEST_SECRET,
    LETTERPRESS_SITE_POSTALADDRESS: '1 Test Street, Testville',
    // The stored rendition links to the test project's loopback site.
    LETTERPRESS_DELIVERY_ALLOWLOCALADDRESSES: 'true',
    LETTERPRESS_DELIVERY_POLLSECONDS: '0.5',
    // Heartbeats every second, so status sees a sender's totals soon.
    LETTERPRESS_DELIVERY_LEASESECONDS: '3',
    ...extra,
  };
}

function startWorker(cwd: string, env: Record<string, string>, args: string[] = []): DaemonChild {
  const worker = spawnLogging(cwd, env, ['worker', ...args]);
  cleanups.push(() => worker.kill());
  return worker;
}

async function sink(options: Parameters<typeof startSmtpSink>[0] = {}): Promise<SmtpSink> {
  const started = await startSmtpSink(options);
  cleanups.push(() => started.close());
  return started;
}

describe('letterpress worker', () => {
  it('in an empty directory, with only the environment, sends a planned issue, shows in status, and stops on SIGTERM with 0', async () => {
    const count = 12;
    const { root, store } = await plannedProject(count);
    const relay = await sink();
    const dir = await emptyDir();
    const worker = startWorker(dir, workerEnv(relay, { LETTERPRESS_DB: store }));
    await eventually(async () => relay.messages.length >= count, 60_000, `${count} messages`);
    await eventually(async () => (await issueStatus(root, SLUG)).state === 'sent', 30_000, `${SLUG} sent`);
    expect([...countByRecipient(relay.messages).values()].every((n) => n === 1)).toBe(true);
    expect(relay.messages).toHaveLength(count);
    // The message is the stored rendition: the issue's title, the project's links.
    expect(relay.messages[0]!.raw.toString('utf8')).toMatch(/List-Unsubscribe: <http:\/\/127\.0\.0\.1:8080\/unsubscribe\?token=/);

    // While it runs, `status` (in the project) lists it with its heartbeat and what it sent.
    const shown = await eventually(async () => {
      const result = await runCli(['status', '--json', '--daemon'], root);
      const parsed = JSON.parse(result.stdout) as { daemon: { workers: { pid: number; role: string; sentTotal: number; inFlight: number }[] } | null };
      const mine = parsed.daemon?.workers.find((entry) => entry.pid === worker.child.pid);
      return mine && mine.sentTotal === count ? mine : undefined;
    }, 30_000, 'the worker in status --json --daemon with its total');
    expect(shown).toMatchObject({ role: 'worker', inFlight: 0, sentTotal: count });
    const human = await runCli(['status'], root);
    expect(human.stdout).toContain('senders: 1 live');
    expect(human.stdout).toMatch(new RegExp(`worker pid ${worker.child.pid} on .*: heartbeat .*, 0 in flight, .* ${count} sent since`));

    worker.child.kill('SIGTERM');
    expect(await worker.exited).toEqual({ code: 0, signal: null });
    // A clean stop takes its row out at once; it created nothing where it ran.
    const after = JSON.parse((await runCli(['status', '--json', '--daemon'], root)).stdout) as { daemon: unknown };
    expect(after.daemon).toBeNull();
    expect(await readdir(dir)).toEqual([]);
    expect(worker.lines.some((line) => /sends planned issues via smtp:\/\/127\.0\.0\.1/.test(line.msg))).toBe(true);
    expect(worker.lines.some((line) => /confirmation emails are left to an instance with the templates/.test(line.msg))).toBe(true);
  }, 180_000);

  it('on SIGTERM lets the messages in flight finish, records them, leaves the rest queued and exits 0', async () => {
    const count = 40;
    const { root, store } = await plannedProject(count);
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const relay = await sink({
      onData: (stream, session, callback) => {
        relay.collect(stream, session).then(async (message) => {
          relay.messages.push(message);
          await released;
          callback(null);
        }, callback);
      },
    });
    const worker = startWorker(await emptyDir(), workerEnv(relay, { LETTERPRESS_DB: store, LETTERPRESS_DELIVERY_MARKBATCH_ROWS: '1' }));
    // Every connection of its pool (5) waits for a reply: messages are in flight.
    await eventually(async () => relay.messages.length >= 5, 60_000, 'five messages in flight');
    worker.child.kill('SIGTERM');
    await worker.waitFor((line) => /^stopping/.test(line.msg), 15_000, 'the stopping line');
    release();
    expect(await worker.exited).toEqual({ code: 0, signal: null });
    const status = await issueStatus(root, SLUG);
    // What the relay accepted is recorded sent; nothing is left `sending`; nothing else went out.
    expect(status.counts.sending).toBe(0);
    expect(status.counts.sent).toBe(relay.messages.length);
    expect(status.counts.queued).toBe(count - relay.messages.length);
    expect(relay.messages.length).toBeLessThan(count);
  }, 180_000);

  it('refuses to run without a store, and never creates one', async () => {
    const dir = await emptyDir();
    const relay = await sink();
    const none = startWorker(dir, workerEnv(relay));
    expect((await none.exited).code).toBe(2);
    expect(none.other.join('')).toMatch(/needs the store to send from: pass --store PATH\|URL, or set LETTERPRESS_DB or DATABASE_URL .*\[E_USAGE\]/);
    const missing = startWorker(dir, workerEnv(relay), ['--store', 'nowhere/letterpress.db']);
    expect((await missing.exited).code).toBe(1);
    expect(missing.other.join('')).toMatch(/no store at .*nowhere\/letterpress\.db: a worker sends what a store already holds .*\[E_STORE\]/);
    expect(existsSync(path.join(dir, 'nowhere'))).toBe(false);
    expect(await readdir(dir)).toEqual([]);
  }, 60_000);
});
