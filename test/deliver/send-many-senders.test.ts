import { spawn, type ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { activeRows, createSendProject, deliveryRows, issueStatus, SLUG, TEST_SECRET } from '../helpers/send-project.ts';
import { startSmtpSink, type ReceivedMessage, type SmtpSink } from '../helpers/smtp-sink.ts';
import { REPO_ROOT, runCli } from '../helpers/temp-project.ts';

/**
 * Issue 14, acceptance: three `letterpress send <slug>` processes started at once on one SQLite
 * store share the rows (each sends some) and every subscriber gets one message; with one of
 * them SIGKILLed mid-run nothing is lost, duplicates stay within the ledger's bound (the killed
 * sender's messages on the wire plus its one open batch of marks), and once its leases lapsed a
 * fourth run leaves no row `sending`. The server counts Message-IDs. 2,000 subscribers here;
 * LETTERPRESS_ACCEPTANCE_SUBSCRIBERS=20000 runs the full-size version by hand.
 */

const ACTIVE = Number(process.env.LETTERPRESS_ACCEPTANCE_SUBSCRIBERS ?? 2000);
const POOL = 3;
const MARK_BATCH = 20;
const LEASE_SECONDS = 2;
const BIN = path.join(REPO_ROOT, 'bin/letterpress.js');
const TIMEOUT = Math.max(120_000, ACTIVE * 30);

let sink: SmtpSink;
let env: Record<string, string>;
let root: string | undefined;
/** The server SIGKILLs this child once this many messages have arrived. */
let killAt: { count: number; child: ChildProcess } | undefined;
const children: ChildProcess[] = [];

const messageIdOf = (message: ReceivedMessage) => /^Message-ID: (<[^>]+>)\r$/m.exec(message.raw.toString('latin1', 0, 4000))?.[1];

beforeEach(async () => {
  sink = await startSmtpSink({
    onData: (stream, session, callback) => {
      sink.collect(stream, session).then((message) => {
        // Recorded before the 250: the server has the message even if its sender dies now.
        sink.messages.push(message);
        if (killAt && sink.messages.length >= killAt.count && killAt.child.exitCode === null && !killAt.child.killed) {
          killAt.child.kill('SIGKILL');
        }
        callback(null);
      }, callback);
    },
  });
  env = {
    LETTERPRESS_SMTP_URL: sink.url,
    LETTERPRESS_SECRET: TEST_SECRET,
    LETTERPRESS_SMTP_POOL_MAXCONNECTIONS: String(POOL),
    // Claims small enough that three senders surely share the rows.
    LETTERPRESS_DELIVERY_BATCHSIZE: '25',
    LETTERPRESS_DELIVERY_LEASESECONDS: String(LEASE_SECONDS),
    LETTERPRESS_DELIVERY_MARKBATCH_ROWS: String(MARK_BATCH),
  };
  root = await createSendProject(activeRows(ACTIVE), env);
}, TIMEOUT);

afterEach(async () => {
  killAt = undefined;
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await sink?.close();
  if (root) await rm(root, { recursive: true, force: true });
  root = undefined;
});

interface Run {
  child: ChildProcess;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
}

function startSend(): Run {
  const child = spawn(process.execPath, [BIN, '--root', root!, 'send', SLUG], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return { child, done };
}

const sentBy = (stdout: string) => Number(/(\d+) sent/.exec(stdout)?.[1] ?? 0);

/** Recipient → the Message-IDs it received (a duplicate keeps its Message-ID). */
function messageIds(): Map<string, string[]> {
  const ids = new Map<string, string[]>();
  for (const message of sink.messages) {
    const list = ids.get(message.rcpt[0]!) ?? [];
    list.push(messageIdOf(message) ?? '?');
    ids.set(message.rcpt[0]!, list);
  }
  return ids;
}

describe(`three senders on one SQLite store, ${ACTIVE} subscribers`, () => {
  it('share the rows and send every subscriber exactly one message', async () => {
    const started = performance.now();
    const runs = [startSend(), startSend(), startSend()];
    const results = await Promise.all(runs.map((run) => run.done));
    const seconds = (performance.now() - started) / 1000;
    for (const result of results) expect(result.code, result.stderr).toBe(0);
    // Each sent some, and together exactly the list: no row went to two of them.
    const shares = results.map((result) => sentBy(result.stdout));
    for (const share of shares) expect(share, results.map((r) => r.stdout).join('\n')).toBeGreaterThan(0);
    expect(shares.reduce((sum, n) => sum + n, 0)).toBe(ACTIVE);

    const ids = messageIds();
    expect(ids.size).toBe(ACTIVE);
    expect([...ids.values()].every((list) => list.length === 1)).toBe(true);
    expect(new Set([...ids.values()].flat()).size).toBe(ACTIVE);
    const status = await issueStatus(root!, SLUG, env);
    expect(status.counts).toEqual({ queued: 0, sending: 0, sent: ACTIVE, deferred: 0, failed: 0, bounced: 0, skipped: 0 });
    expect(status.state).toBe('sent');
    process.stdout.write(`three senders, ${ACTIVE} messages: ${seconds.toFixed(1)} s, ${(ACTIVE / seconds).toFixed(0)} msg/s; shares ${shares.join(' / ')}\n`);
  }, TIMEOUT);

  it('with one SIGKILLed mid-run: nothing lost, duplicates within the bound, nothing sending once its leases lapsed', async () => {
    const runs = [startSend(), startSend(), startSend()];
    killAt = { count: Math.floor(ACTIVE / 3), child: runs[0]!.child };
    const [killed, ...others] = await Promise.all(runs.map((run) => run.done));
    expect(killed!.signal, `the first sender was meant to be killed: ${killed!.stderr}`).toBe('SIGKILL');
    for (const result of others) expect(result.code, result.stderr).toBe(0);

    // Right after: the ledger never says `sent` for a message the server does not have; what
    // the killed sender had on the wire or in its open batch of marks is still `sending` (under
    // a lease nobody renews), unless a survivor already found it lapsed and re-sent it.
    const received = new Set(sink.messages.map((message) => message.rcpt[0]!));
    const rows = await deliveryRows(root!);
    for (const row of rows.filter((r) => r.state === 'sent')) expect(received.has(row.email), row.email).toBe(true);
    const inFlightReceived = rows.filter((row) => row.state === 'sending' && received.has(row.email)).length;
    expect(inFlightReceived).toBeLessThanOrEqual(POOL + MARK_BATCH);

    // After the lease time the killed sender's rows are orphans: a survivor that ran out of rows
    // after that put them back and sent them, or else a fourth run does now.
    await new Promise((resolve) => setTimeout(resolve, LEASE_SECONDS * 1000 + 200));
    const fourth = await runCli(['send', SLUG], root!, env);
    expect(fourth.code, fourth.stderr).toBe(0);
    const requeued = [...others.map((result) => result.stderr), fourth.stderr].join('\n');
    expect(requeued).toMatch(/left "sending" by an interrupted run \(its lease lapsed\) go back to the queue/);

    const ids = messageIds();
    expect([...ids.keys()].sort()).toEqual(activeRows(ACTIVE).map((row) => row.email).sort());
    const duplicates = [...ids.values()].reduce((sum, list) => sum + list.length - 1, 0);
    // The rows still `sending` and received above each came twice, and survivors may have
    // re-sent some of the killed sender's rows already: all of them within the one bound.
    expect(duplicates).toBeGreaterThanOrEqual(inFlightReceived);
    expect(duplicates).toBeLessThanOrEqual(POOL + MARK_BATCH);
    expect(Math.max(...[...ids.values()].map((list) => list.length))).toBeLessThanOrEqual(2);
    // A duplicate carries the same Message-ID, so the receiver can drop it.
    for (const [rcpt, list] of ids) expect(new Set(list).size, rcpt).toBe(1);
    const status = await issueStatus(root!, SLUG, env);
    expect(status.counts).toEqual({ queued: 0, sending: 0, sent: ACTIVE, deferred: 0, failed: 0, bounced: 0, skipped: 0 });
    expect(status.state).toBe('sent');
    process.stdout.write(`three senders, one killed after ${killAt.count} messages: ${duplicates} duplicates (bound ${POOL + MARK_BATCH})\n`);
  }, TIMEOUT);
});
