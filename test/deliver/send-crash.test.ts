import { spawn, type ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activeRows, createSendProject, deliveryRows, issueStatus, SLUG, TEST_SECRET } from '../helpers/send-project.ts';
import { countByRecipient, startSmtpSink, type ReceivedMessage, type SmtpSink } from '../helpers/smtp-sink.ts';
import { REPO_ROOT, runCli } from '../helpers/temp-project.ts';

/**
 * DESIGN.md §4: a row is `sending` before its SMTP transaction and `sent` after the 250, so a
 * crash re-sends at most the messages in flight, each with the same Message-ID, and loses
 * nothing. A real CLI process sends 2,000 messages and is SIGKILLed after K of them have
 * arrived, three times in a row (each new run goes on with the queued rows; the dead one's rows
 * come back once their lease lapsed); a last run, after the lease time, finishes.
 * With marks batched, the messages "in flight" at a kill are those on the wire plus the one
 * open batch of outcomes not yet written.
 */

const ACTIVE = 2000;
const POOL = 5;
const LEASE_SECONDS = 2;
const MARK_BATCH = 50;
const KILL_AFTER = [50, 700, 1500];
const BIN = path.join(REPO_ROOT, 'bin/letterpress.js');

let sink: SmtpSink;
let root: string;
let env: Record<string, string>;
/** Set while a child runs: the server kills it when this many messages have arrived in total. */
let killAt: { count: number; child: ChildProcess } | undefined;

/** A message counts as received once its DATA is complete: the final MIME boundary is there. */
const isComplete = (message: ReceivedMessage) => /--=_lp_[0-9a-f]+--\r\n$/.test(message.raw.toString('latin1', Math.max(0, message.raw.length - 100)));
const messageIdOf = (message: ReceivedMessage) => /^Message-ID: (<[^>]+>)\r$/m.exec(message.raw.toString('latin1', 0, 4000))?.[1];

beforeAll(async () => {
  sink = await startSmtpSink({
    onData: (stream, session, callback) => {
      sink.collect(stream, session).then((message) => {
        if (!isComplete(message)) return callback(Object.assign(new Error('incomplete message'), { responseCode: 451 }));
        // Recorded before the 250 goes back: the server has the message even if the client
        // dies before it reads the reply, which is the window that produces duplicates.
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
    LETTERPRESS_DELIVERY_LEASESECONDS: String(LEASE_SECONDS),
    LETTERPRESS_DELIVERY_MARKBATCH_ROWS: String(MARK_BATCH),
  };
  root = await createSendProject(activeRows(ACTIVE), env);
}, 60_000);

afterAll(async () => {
  if (killAt?.child.exitCode === null) killAt.child.kill('SIGKILL');
  await sink?.close();
  if (root) await rm(root, { recursive: true, force: true });
});

/** Runs `letterpress send` as a child process and SIGKILLs it once `count` messages have arrived. */
async function sendAndKill(count: number): Promise<{ signal: NodeJS.Signals | null; code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [BIN, '--root', root, 'send', SLUG], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout!.resume();
  killAt = { count, child };
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.once('exit', (exitCode, exitSignal) => resolve([exitCode, exitSignal])),
  );
  killAt = undefined;
  return { signal, code, stderr };
}

describe(`SIGKILL during a send to ${ACTIVE} subscribers`, () => {
  it('loses nothing and duplicates at most the messages in flight at each kill', async () => {
    /** Rows that were `sending` at a kill while the server already had their message: these come twice. */
    const twice = new Set<string>();

    for (const count of KILL_AFTER) {
      const run = await sendAndKill(count);
      expect(run.signal, `the run was meant to be killed after ${count} messages, it exited: ${run.stderr}`).toBe('SIGKILL');
      expect(sink.messages.length).toBeGreaterThanOrEqual(count);
      expect(sink.messages.length).toBeLessThan(ACTIVE);

      const received = new Set(sink.messages.map((message) => message.rcpt[0]!));
      const rows = await deliveryRows(root);
      expect(rows).toHaveLength(ACTIVE);
      const sent = rows.filter((row) => row.state === 'sent');
      const sending = rows.filter((row) => row.state === 'sending');
      // `sent` only after the server's 250: the ledger never claims more than the server has.
      for (const row of sent) expect(received.has(row.email), row.email).toBe(true);
      // Everything the server has was at least claimed: the rest is still queued and goes out once.
      for (const row of rows.filter((r) => received.has(r.email))) expect(['sent', 'sending'], row.email).toContain(row.state);
      // In flight at the kill: claimed, received, not yet marked (on a connection, or in the
      // open batch of marks). A run killed earlier may still have its rows `sending` here.
      const inFlight = sending.filter((row) => received.has(row.email) && !twice.has(row.email));
      expect(inFlight.length).toBeLessThanOrEqual(POOL + MARK_BATCH);
      for (const row of inFlight) twice.add(row.email);
    }
    const expectedDuplicates = twice.size;

    // After the lease time every row the killed runs left `sending` is an orphan: the last run
    // puts them back and finishes.
    await new Promise((resolve) => setTimeout(resolve, LEASE_SECONDS * 1000 + 200));
    const final = await runCli(['send', SLUG], root, env);
    expect(final.code, final.stderr).toBe(0);
    expect(final.stderr).toMatch(/messages left "sending" by an interrupted run \(its lease lapsed\) go back to the queue/);

    const counts = countByRecipient(sink.messages);
    const expected = activeRows(ACTIVE).map((row) => row.email);
    expect([...counts.keys()].sort()).toEqual(expected.sort());
    const duplicates = [...counts.values()].reduce((sum, n) => sum + n - 1, 0);
    expect(duplicates).toBe(expectedDuplicates);
    expect(duplicates).toBeLessThanOrEqual((POOL + MARK_BATCH) * KILL_AFTER.length);
    expect(Math.max(...counts.values())).toBeLessThanOrEqual(2);

    // A duplicate carries the same Message-ID, so the receiver can drop it.
    const ids = new Map<string, Set<string>>();
    for (const message of sink.messages) {
      const id = messageIdOf(message);
      expect(id).toBeDefined();
      const set = ids.get(message.rcpt[0]!) ?? new Set();
      set.add(id!);
      ids.set(message.rcpt[0]!, set);
    }
    for (const [rcpt, set] of ids) expect(set.size, rcpt).toBe(1);

    const rows = await deliveryRows(root);
    expect(rows.filter((row) => row.state !== 'sent')).toEqual([]);
    const status = await issueStatus(root, SLUG, env);
    expect(status.counts).toEqual({ queued: 0, sending: 0, sent: ACTIVE, deferred: 0, failed: 0, bounced: 0, skipped: 0 });
    expect(status.state).toBe('sent');
  }, 90_000);
});
