import { access } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readDaemonStatus } from '../../src/schedule/daemon-status.ts';
import { digestIssue, dropIssue, type LogLine } from '../helpers/daemon-child.ts';
import { allStatus, createDaemonWorld, eventually, logText, outFile, readText, waitForFirstPass, waitForPassesAfter, type DaemonWorld } from '../helpers/daemon-project.ts';
import { startFakeDaemon, type FakeDaemon } from '../helpers/fake-daemon.ts';
import { activeRows } from '../helpers/send-project.ts';
import { countByRecipient } from '../helpers/smtp-sink.ts';

/**
 * Issue 5's acceptance, as a new user sees it: `letterpress start` runs as a child process
 * (JSON log lines on its stdout), mail goes to an SMTP server on loopback in this process,
 * and an editor drops issue files into `issues/`. Those cases keep the real watcher and cron
 * and assert on the outcome, with generous waits and no bound on how fast it went. What is
 * about timing and order (`publish_at`) runs the daemon on a fake clock instead.
 */

let world: DaemonWorld | undefined;
let fake: FakeDaemon | undefined;

afterEach(async () => {
  await world?.dispose();
  world = undefined;
  await fake?.dispose();
  fake = undefined;
});

/** The summary line a daemon logs once a send of `slug` is done (its pino `time` orders it). */
const summaryOf = (lines: readonly LogLine[], slug: string) => lines.find((line) => line.slug === slug && typeof line.sent === 'number');

const SUBSCRIBERS = 50;
const emails = (count: number) => activeRows(count).map((row) => row.email).sort();

/** Every address has exactly one message of `slug` (by the Subject the digest title gives). */
function perRecipient(world: DaemonWorld, subjectPart: string): Map<string, number> {
  return countByRecipient(world.sink.messages.filter((message) => subjectOf(message.raw).includes(subjectPart)));
}

/** The decoded Subject header (RFC 2047 base64/Q words joined). */
function subjectOf(raw: Buffer): string {
  const head = raw.toString('latin1', 0, Math.min(raw.length, 8000)).split('\r\n\r\n')[0]!;
  const match = /^Subject:(.*(?:\r\n[ \t].*)*)/im.exec(head);
  if (!match) return '';
  return match[1]!
    .replace(/\r\n[ \t]/g, ' ')
    .replace(/\?=\s+=\?/g, '?==?')
    .replace(/=\?([^?]+)\?([BbQq])\?([^?]*)\?=/g, (_, _charset: string, encoding: string, text: string) =>
      encoding.toUpperCase() === 'B'
        ? Buffer.from(text, 'base64').toString('utf8')
        : Buffer.from(text.replace(/_/g, ' ').replace(/=([0-9A-F]{2})/gi, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16))), 'latin1').toString('utf8'),
    )
    .trim();
}

describe('letterpress start: drop a file', () => {
  it('publishes, builds the page and the three feeds, serves it, and emails each active subscriber once', async () => {
    world = await createDaemonWorld(activeRows(SUBSCRIBERS));
    const daemon = world.start();
    const url = await daemon.url();
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+/);
    await waitForFirstPass(daemon);
    // The samples of a fresh clone are archived: on the site, never emailed.
    expect(world.sink.messages).toHaveLength(0);

    const slug = '2024-40';
    await dropIssue(world.root, `${slug}.md`, await digestIssue(40));

    // Generous waits for the outcome (seconds are expected): how fast it went is not the point.
    const page = outFile(world.root, 'issues', slug, 'index.html');
    await eventually(() => access(page).then(() => true), 60_000, `${page} exists`);
    await eventually(async () => world!.sink.messages.length >= SUBSCRIBERS, 60_000, `${SUBSCRIBERS} messages arrive`);

    expect(await readText(page)).toContain('第四十期');
    // The page is in each feed (by its permalink path).
    for (const feed of ['feed.atom', 'feed.rss', 'feed.json']) {
      const text = await readText(outFile(world.root, feed));
      expect(text, feed).toContain(`/issues/${slug}/`);
      expect(text, feed).toContain('第四十期');
    }

    // The daemon's own HTTP server serves the new page.
    const response = await fetch(new URL(`/issues/${slug}/`, url));
    expect(response.status).toBe(200);
    expect(await response.text()).toContain('第四十期');

    // Every active subscriber: exactly one message, and nobody else got one, also after two
    // more passes (ticks) that could have sent a stray duplicate.
    const summary = await daemon.waitFor((line) => summaryOf([line], slug) !== undefined, 60_000, `the summary of ${slug}`);
    await waitForPassesAfter(path.join(world.root, 'data'), Number(summary.time), 2);
    const counts = perRecipient(world, '第四十期');
    expect([...counts.keys()].sort()).toEqual(emails(SUBSCRIBERS));
    expect([...counts.values()].every((n) => n === 1), JSON.stringify(Object.fromEntries(counts))).toBe(true);
    expect(world.sink.messages).toHaveLength(SUBSCRIBERS);

    const status = await world.status(slug);
    expect(status.state).toBe('sent');
    expect(status.counts).toMatchObject({ queued: 0, sending: 0, sent: SUBSCRIBERS });
    // The log tells the story: published, then a summary line with the count.
    expect(daemon.lines.some((line) => line.slug === slug && line.state === 'published'), logText(daemon.lines)).toBe(true);
    expect(summary.sent, logText(daemon.lines)).toBe(SUBSCRIBERS);
  }, 180_000);
});

describe('letterpress start: publish_at in the future', () => {
  it('sends nothing and publishes no page at the ticks before the instant, then one message each at the tick of the instant, once', async () => {
    const count = 20;
    // On a fake clock: the tick fires at each whole minute, only when the test moves time on,
    // and no file watcher runs, so each pass below is exactly one tick.
    fake = await startFakeDaemon(activeRows(count));
    const [first] = await fake.waitForPasses(1);
    expect(first!.reason).toBe('start');

    // Five ticks ahead, to the millisecond, written with an explicit offset (the config's zone
    // is Asia/Shanghai; use another). "Not before this instant": the tick at it publishes.
    const due = fake.time.now() + 5 * 60_000;
    const publishAt = `${new Date(due - 5 * 3600_000).toISOString().slice(0, 19)}-05:00`;
    const slug = '2024-41';
    await dropIssue(fake.root, `${slug}.md`, await digestIssue(41, { publish_at: publishAt }));

    const page = outFile(fake.root, 'issues', slug, 'index.html');
    for (let tick = 1; tick <= 4; tick++) {
      const passes = await fake.advance(60_000);
      const at = new Date(fake.time.now()).toISOString();
      expect(passes.map((pass) => [pass.reason, pass.published, pass.sent]), `the tick at ${at}`).toEqual([['tick', [], 0]]);
      expect(fake.sink.messages, `a message at ${at}, before ${publishAt}`).toHaveLength(0);
      await expect(access(page), `${page} at ${at}, before ${publishAt}`).rejects.toThrow();
      expect(await readText(outFile(fake.root, 'feed.atom'))).not.toContain(`/issues/${slug}/`);
      // The daemon saw it and knows when (data/daemon.json, shown by `status`).
      const status = await readDaemonStatus(path.join(fake.root, 'data'));
      expect(status?.scheduled.map((item) => item.slug)).toEqual([slug]);
      expect(Date.parse(status!.scheduled[0]!.publishAt)).toBe(due);
    }
    expect(await (await fake.app.store()).getIssue(slug)).toBeUndefined();

    // The tick at the instant publishes and sends.
    const [atDue, ...more] = await fake.advance(60_000);
    expect(more).toEqual([]);
    expect(Date.parse(atDue!.startedAt)).toBe(due);
    expect(atDue, logText(fake.lines)).toMatchObject({ reason: 'tick', published: [slug], sent: count, failed: 0, deferred: 0 });
    await access(page);
    expect(await readText(outFile(fake.root, 'feed.atom'))).toContain(`/issues/${slug}/`);
    expect((await readDaemonStatus(path.join(fake.root, 'data')))?.scheduled).toEqual([]);

    // A few more ticks: nothing more, still one each.
    for (let tick = 1; tick <= 3; tick++) {
      const passes = await fake.advance(60_000);
      expect(passes.map((pass) => [pass.reason, pass.published, pass.sent])).toEqual([['tick', [], 0]]);
    }
    const counts = countByRecipient(fake.sink.messages);
    expect([...counts.keys()].sort()).toEqual(emails(count));
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    expect(fake.sink.messages).toHaveLength(count);
    expect((await (await fake.app.store()).getIssue(slug))?.state).toBe('sent');
  }, 60_000);
});

const POOL_CONNECTIONS = 5;

describe('letterpress start: two daemons on one store', () => {
  it('started at the same moment, they send each subscriber one message of a dropped issue', async () => {
    const count = 50;
    // The relay holds its 250 replies until more messages are in flight than one daemon's pool
    // (smtp.pool.maxConnections, 5) can carry: both daemons send at once for certain, however
    // the machine schedules them.
    let releaseReplies!: () => void;
    const repliesReleased = new Promise<void>((resolve) => (releaseReplies = resolve));
    world = await createDaemonWorld(activeRows(count), {
      smtp: {
        onData: (stream, session, callback) => {
          world!.sink.collect(stream, session).then(async (message) => {
            world!.sink.messages.push(message);
            await repliesReleased;
            callback(null);
          }, callback);
        },
      },
    });
    // One store (data/letterpress.db under the root), but each daemon writes its own
    // daemon.json and build state, as two machines would: the test can follow each one's passes.
    const dataDirs = [path.join(world.root, 'data'), path.join(world.root, 'data-second')];
    // Small claims, so the second daemon finds rows left to claim while the first one's wait.
    const claims = { LETTERPRESS_DELIVERY_BATCHSIZE: '5' };
    const first = world.start(undefined, claims);
    const second = world.start(undefined, { ...claims, LETTERPRESS_PATHS_DATA: 'data-second' });
    const daemons = [first, second];
    try {
      const [firstUrl, secondUrl] = await Promise.all([first.url(), second.url()]);
      expect(firstUrl).not.toBe(secondUrl);
      // Both have finished a pass (each writes its status file after each pass).
      await Promise.all(dataDirs.map((dir) => waitForPassesAfter(dir, 0, 1)));
      // The samples of the fresh store stay archived, whichever daemon got there first.
      expect((await allStatus(world.root, world.env)).map((row) => [row.slug, row.state])).toEqual([
        ['2024-18', 'archived'],
        ['2024-32', 'archived'],
      ].sort());
      expect(world.sink.messages).toHaveLength(0);

      const slug = '2024-42';
      await dropIssue(world.root, `${slug}.md`, await digestIssue(42));
      // More messages in flight than one daemon's pool carries: both are sending at once.
      await eventually(async () => world!.sink.messages.length > POOL_CONNECTIONS, 60_000, 'both daemons sending');
      releaseReplies();
      await eventually(async () => world!.sink.messages.length >= count, 60_000, `${count} messages`);
      await eventually(async () => (await world!.status(slug)).state === 'sent', 60_000, `${slug} sent`);
      // Both daemons saw the file (each pass at least built it). Give a stray second send its
      // chance: each daemon finishes a pass that started after the send was done.
      // Each sent a share: their summaries add up to the list.
      const summaries = await eventually(async () => {
        const found = daemons.map((daemon) => summaryOf(daemon.lines, slug));
        return found.every((line) => line !== undefined) && found.reduce((sum, line) => sum + Number(line!.sent), 0) === count ? found : undefined;
      }, 60_000, `the summaries of ${slug}`);
      const lastSummary = Math.max(...summaries.map((line) => Number(line!.time)));
      await Promise.all(dataDirs.map((dir) => waitForPassesAfter(dir, lastSummary, 1)));
      const counts = perRecipient(world, '第四十二期');
      expect([...counts.keys()].sort()).toEqual(emails(count));
      expect([...counts.values()].every((n) => n === 1), JSON.stringify(Object.fromEntries(counts))).toBe(true);
      expect(world.sink.messages).toHaveLength(count);
      const status = await world.status(slug);
      expect(status.counts).toMatchObject({ queued: 0, sending: 0, sent: count });
      // Neither waited for the other: there is no send lease, the ledger keeps their rows apart.
      expect(logText([...first.lines, ...second.lines])).not.toMatch(/waiting for the send lease/);
      // Both stayed up and both serve HTTP.
      for (const url of [firstUrl, secondUrl]) expect((await fetch(new URL('/healthz', url))).status).toBe(200);
    } finally {
      releaseReplies();
    }
  }, 240_000);
});
