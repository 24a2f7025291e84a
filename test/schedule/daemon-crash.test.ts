import type { ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { readDaemonStatus } from '../../src/schedule/daemon-status.ts';
import { digestIssue, dropIssue, type DaemonChild } from '../helpers/daemon-child.ts';
import { createDaemonWorld, eventually, logText, waitForFirstPass, type DaemonWorld } from '../helpers/daemon-project.ts';
import { activeRows, deliveryRows } from '../helpers/send-project.ts';
import { countByRecipient, type ReceivedMessage } from '../helpers/smtp-sink.ts';

/**
 * Issue 5: the daemon dies or is stopped in the middle of a send. SIGKILL: a new daemon, once
 * the dead one's row leases lapsed, puts its rows back, finishes the send, loses nothing and
 * duplicates at most the messages in flight (one per pooled connection) and its open batch of
 * marks. SIGTERM: the daemon lets messages in flight
 * finish, leaves nothing `sending`, records `stopped` and exits 0.
 */

const POOL = 5;
const SUBSCRIBERS = 1200;
const LEASE_SECONDS = 2;
const MARK_BATCH = 20;

let world: DaemonWorld | undefined;
/** The SMTP server kills this child (with the signal) once this many messages have arrived. */
let stopAt: { count: number; child: ChildProcess; signal: NodeJS.Signals; at?: number } | undefined;

afterEach(async () => {
  stopAt = undefined;
  await world?.dispose();
  world = undefined;
});

/** A sink whose server takes `delayMs` per message and sends `stopAt`'s signal at its count. */
async function slowWorld(delayMs: number, env: Record<string, string> = {}): Promise<DaemonWorld> {
  return createDaemonWorld(activeRows(SUBSCRIBERS), {
    env: {
      LETTERPRESS_SMTP_POOL_MAXCONNECTIONS: String(POOL),
      LETTERPRESS_DELIVERY_LEASESECONDS: String(LEASE_SECONDS),
      LETTERPRESS_DELIVERY_MARKBATCH_ROWS: String(MARK_BATCH),
      ...env,
    },
    smtp: {
      onData: (stream, session, callback) => {
        world!.sink.collect(stream, session).then((message) => {
          // Recorded before the 250 goes back: the server has the message even if the client
          // dies before it reads the reply (the window that makes duplicates).
          world!.sink.messages.push(message);
          if (stopAt && stopAt.at === undefined && world!.sink.messages.length >= stopAt.count) {
            stopAt.at = Date.now();
            stopAt.child.kill(stopAt.signal);
          }
          setTimeout(() => callback(null), delayMs);
        }, callback);
      },
    },
  });
}

const duplicatesOf = (messages: readonly ReceivedMessage[]) => [...countByRecipient(messages).values()].reduce((sum, n) => sum + n - 1, 0);

/** Starts a daemon, waits for its first pass and arms the kill at `count` messages. */
async function startArmed(count: number, signal: NodeJS.Signals): Promise<DaemonChild> {
  const daemon = world!.start();
  await waitForFirstPass(daemon);
  stopAt = { count, child: daemon.child, signal };
  return daemon;
}

describe('letterpress start: SIGKILL mid-send, then a restart', () => {
  it(`finishes the send to ${SUBSCRIBERS} subscribers with at most ${POOL} + ${MARK_BATCH} duplicates and nothing left sending`, async () => {
    world = await slowWorld(8);
    const slug = '2024-43';
    const first = await startArmed(300, 'SIGKILL');
    await dropIssue(world.root, `${slug}.md`, await digestIssue(43));
    const exit = await first.exited;
    expect(exit.signal, `the daemon was meant to be killed mid-send: ${logText(first.lines)}`).toBe('SIGKILL');
    const atKill = world.sink.messages.length;
    expect(atKill).toBeGreaterThanOrEqual(300);
    expect(atKill).toBeLessThan(SUBSCRIBERS);

    // What the ledger says right after the kill: never more `sent` than the server has.
    const received = new Set(world.sink.messages.map((message) => message.rcpt[0]!));
    const rows = await deliveryRows(world.root, slug);
    expect(rows).toHaveLength(SUBSCRIBERS);
    for (const row of rows.filter((r) => r.state === 'sent')) expect(received.has(row.email), row.email).toBe(true);
    const inFlight = rows.filter((row) => row.state === 'sending' && received.has(row.email)).length;
    expect(inFlight).toBeLessThanOrEqual(POOL + MARK_BATCH);

    // A new daemon, after the dead one's leases lapsed: puts the orphans back, finishes.
    await new Promise((resolve) => setTimeout(resolve, LEASE_SECONDS * 1000 + 200));
    const restarted = Date.now();
    const second = world.start();
    await second.waitFor((line) => line.slug === slug && typeof line.sent === 'number', 20_000, `the summary of ${slug}`);
    expect(Date.now() - restarted).toBeLessThan(20_000);
    expect(second.lines.some((line) => line.slug === slug && typeof line.rows === 'number' && /interrupted run/.test(line.msg)), logText(second.lines)).toBe(true);

    const counts = countByRecipient(world.sink.messages);
    expect([...counts.keys()].sort()).toEqual(activeRows(SUBSCRIBERS).map((row) => row.email).sort());
    const duplicates = duplicatesOf(world.sink.messages);
    expect(duplicates).toBe(inFlight);
    expect(duplicates).toBeLessThanOrEqual(POOL + MARK_BATCH);
    expect(Math.max(...counts.values())).toBeLessThanOrEqual(2);

    const status = await world.status(slug);
    expect(status.counts).toEqual({ queued: 0, sending: 0, sent: SUBSCRIBERS, deferred: 0, failed: 0, bounced: 0, skipped: 0 });
    expect(status.state).toBe('sent');
  }, 60_000);
});

describe('letterpress start: SIGTERM mid-send', () => {
  it('exits 0 within the shutdown timeout, leaves nothing sending, records stopped; a restart sends the rest once', async () => {
    const SHUTDOWN_SECONDS = 10;
    world = await slowWorld(8, { LETTERPRESS_SCHEDULE_SHUTDOWNTIMEOUTSECONDS: String(SHUTDOWN_SECONDS) });
    const slug = '2024-44';
    const first = await startArmed(300, 'SIGTERM');
    await dropIssue(world.root, `${slug}.md`, await digestIssue(44));
    const exit = await first.exited;
    const exitedAt = Date.now();
    expect(stopAt?.at, 'the SIGTERM was sent').toBeDefined();
    expect(exit, logText(first.lines) + first.other.join('')).toEqual({ code: 0, signal: null });
    // Messages take 8 ms each: the ones in flight finish at once, and so does the process; it
    // does not sit out the shutdown timeout (which only bounds a stuck SMTP transaction).
    // (A generous bound: it exited before the timeout could have run out, on any machine.)
    expect(exitedAt - stopAt!.at!).toBeLessThan(SHUTDOWN_SECONDS * 1000);
    expect(first.lines.some((line) => /still in flight/.test(line.msg))).toBe(false);
    // It stopped the send, not finished it.
    const atStop = world.sink.messages.length;
    expect(atStop).toBeLessThan(SUBSCRIBERS);
    expect(first.lines.some((line) => line.signal === 'SIGTERM')).toBe(true);
    expect(first.lines.at(-1)?.msg).toBe('stopped');

    const status = await world.status(slug);
    expect(status.counts.sending).toBe(0);
    expect(status.counts.sent).toBe(atStop);
    expect(status.counts.sent + status.counts.queued).toBe(SUBSCRIBERS);
    const daemonJson = await readDaemonStatus(`${world.root}/data`);
    expect(daemonJson?.state).toBe('stopped');
    expect(daemonJson?.pid).toBe(first.child.pid);

    // Nothing was in flight unconfirmed, so the rest goes out with no duplicate at all.
    stopAt = undefined;
    const second = world.start();
    await second.waitFor((line) => line.slug === slug && typeof line.sent === 'number', 20_000, `the summary of ${slug}`);
    expect(second.lines.some((line) => /interrupted run/.test(line.msg))).toBe(false);
    const counts = countByRecipient(world.sink.messages);
    expect([...counts.keys()].sort()).toEqual(activeRows(SUBSCRIBERS).map((row) => row.email).sort());
    expect(duplicatesOf(world.sink.messages)).toBe(0);
    expect((await world.status(slug)).counts).toEqual({ queued: 0, sending: 0, sent: SUBSCRIBERS, deferred: 0, failed: 0, bounced: 0, skipped: 0 });
    await eventually(async () => (await readDaemonStatus(`${world!.root}/data`))?.pid === second.child.pid, 5000, 'the new daemon writes daemon.json');
    expect((await readDaemonStatus(`${world.root}/data`))?.state).toBe('running');
  }, 60_000);
});

describe('letterpress start: SIGTERM while the SMTP server hangs', () => {
  it('gives up after the shutdown timeout, exits 0, and a restart re-sends at most the hung messages', async () => {
    const SHUTDOWN_SECONDS = 2;
    const count = 50;
    /** Messages the server read but never answered: the client cannot know whether they arrived. */
    const hung: ReceivedMessage[] = [];
    let hang = false;
    let healed = false;
    world = await createDaemonWorld(activeRows(count), {
      env: {
        LETTERPRESS_SMTP_POOL_MAXCONNECTIONS: String(POOL),
        LETTERPRESS_SCHEDULE_SHUTDOWNTIMEOUTSECONDS: String(SHUTDOWN_SECONDS),
        LETTERPRESS_DELIVERY_LEASESECONDS: String(LEASE_SECONDS),
      },
      smtp: {
        onData: (stream, session, callback) => {
          world!.sink.collect(stream, session).then((message) => {
            // From the eleventh message on, the server takes the data and never answers.
            if (!healed && (hang || world!.sink.messages.length >= 10)) {
              hang = true;
              hung.push(message);
              return;
            }
            world!.sink.messages.push(message);
            callback(null);
          }, callback);
        },
      },
    });
    const daemon = world.start();
    await waitForFirstPass(daemon);
    const slug = '2024-45';
    await dropIssue(world.root, `${slug}.md`, await digestIssue(45));
    await eventually(async () => hung.length >= POOL, 10_000, 'every pooled connection hangs');

    const termAt = Date.now();
    daemon.child.kill('SIGTERM');
    // smtp.timeouts.socketMs is 60 s: without the bound the process would live that long.
    // Generous bounds (10× the timeout): what matters is that the stop does not wait for the
    // 60 s socket timeout, and that the log says it gave up after the shutdown timeout.
    const exit = await Promise.race([daemon.exited, new Promise((resolve) => setTimeout(() => resolve('still running'), SHUTDOWN_SECONDS * 10_000))]);
    expect(exit, logText(daemon.lines)).toEqual({ code: 0, signal: null });
    const tookMs = Date.now() - termAt;
    expect(tookMs).toBeGreaterThanOrEqual(SHUTDOWN_SECONDS * 1000 - 100);
    expect(daemon.lines.some((line) => /still in flight after 2 s/.test(line.msg))).toBe(true);
    expect((await readDaemonStatus(`${world.root}/data`))?.state).toBe('stopped');

    // The server works again; once the hung rows' leases lapsed, the next daemon puts them back and finishes.
    healed = true;
    for (const connection of world.sink.connections()) connection._socket.destroy();
    world.sink.messages.splice(0, 0, ...hung.splice(0));
    // From here on, every message counts, the hung ones included (they may have arrived).
    await new Promise((resolve) => setTimeout(resolve, LEASE_SECONDS * 1000 + 200));
    const restart = world.start();
    await restart.waitFor((line) => line.slug === slug && typeof line.sent === 'number', 20_000, `the summary of ${slug}`);
    const counts = countByRecipient(world.sink.messages);
    expect([...counts.keys()].sort()).toEqual(activeRows(count).map((row) => row.email).sort());
    expect(duplicatesOf(world.sink.messages)).toBeLessThanOrEqual(POOL);
    expect((await world.status(slug)).counts).toEqual({ queued: 0, sending: 0, sent: count, deferred: 0, failed: 0, bounced: 0, skipped: 0 });
  }, 60_000);
});
