import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activeRows, createSendProject, deliveryRows, issueStatus, SLUG, TEST_SECRET } from '../helpers/send-project.ts';
import { countByRecipient, startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.ts';
import { REPO_ROOT } from '../helpers/temp-project.ts';

/**
 * DESIGN.md §4 "Many senders, one ledger": two `send` processes started at the same moment on
 * the same store and issue share the rows and never send the same ones; every subscriber gets
 * exactly one message.
 */

const ACTIVE = 300;
const BIN = path.join(REPO_ROOT, 'bin/letterpress.js');

let sink: SmtpSink;
let root: string;
let env: Record<string, string>;

/** Each run's pool: with replies held, one run alone never has more than this in flight. */
const CONNECTIONS = 5;
let releaseReplies!: () => void;
/**
 * The relay holds its 250 replies until more messages are in flight than one run's pool can
 * carry, so both runs are sending at once for certain, however late the machine starts the
 * second one (a generous deadline opens it anyway, and the assertions then say what went wrong).
 */
const repliesReleased = new Promise<void>((resolve) => {
  releaseReplies = resolve;
  setTimeout(resolve, 60_000).unref();
});

beforeAll(async () => {
  sink = await startSmtpSink({
    onData: (stream, session, callback) => {
      sink.collect(stream, session).then(async (message) => {
        sink.messages.push(message);
        if (sink.messages.length > CONNECTIONS) releaseReplies();
        await repliesReleased;
        callback(null);
      }, callback);
    },
  });
  env = {
    LETTERPRESS_SMTP_URL: sink.url,
    LETTERPRESS_SECRET: TEST_SECRET,
    LETTERPRESS_SMTP_POOL_MAXCONNECTIONS: String(CONNECTIONS),
    // Small claims, so both senders surely get some of the 300 rows.
    LETTERPRESS_DELIVERY_BATCHSIZE: '10',
  };
  root = await createSendProject(activeRows(ACTIVE), env);
}, 60_000);

afterAll(async () => {
  releaseReplies();
  await sink?.close();
  if (root) await rm(root, { recursive: true, force: true });
});

function runChild(): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, '--root', root, 'send', SLUG], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

describe('two send processes at once', () => {
  it('send every subscriber exactly one message between them', async () => {
    const [first, second] = await Promise.all([runChild(), runChild()]);
    expect(first.code, `first: ${first.stderr}`).toBe(0);
    expect(second.code, `second: ${second.stderr}`).toBe(0);

    expect(sink.messages).toHaveLength(ACTIVE);
    const counts = countByRecipient(sink.messages);
    expect([...counts.keys()].sort()).toEqual(activeRows(ACTIVE).map((row) => row.email).sort());
    expect([...counts.values()].every((n) => n === 1)).toBe(true);

    // Planned once: one row per subscriber, all sent.
    const rows = await deliveryRows(root);
    expect(rows).toHaveLength(ACTIVE);
    expect(rows.every((row) => row.state === 'sent')).toBe(true);
    const status = await issueStatus(root, SLUG, env);
    expect(status.counts).toEqual({ queued: 0, sending: 0, sent: ACTIVE, deferred: 0, failed: 0, bounced: 0, skipped: 0 });
    expect(status.state).toBe('sent');

    // The two summaries add up: whatever one sent the other did not. And they sent at the same
    // time: neither waited for the other, each sent some.
    const sentBy = (stdout: string) => Number(/(\d+) sent/.exec(stdout)?.[1] ?? 0);
    expect(sentBy(first.stdout) + sentBy(second.stdout)).toBe(ACTIVE);
    expect(sentBy(first.stdout), first.stdout).toBeGreaterThan(0);
    expect(sentBy(second.stdout), second.stdout).toBeGreaterThan(0);
    expect(`${first.stderr}${second.stderr}`).not.toMatch(/waiting/);
  }, 180_000);
});
