import { access } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { digestIssue, dropIssue } from '../helpers/daemon-child.ts';
import { allStatus, createDaemonWorld, eventually, logText, outFile, readText, waitForFirstPass, type DaemonWorld } from '../helpers/daemon-project.ts';
import { activeRows } from '../helpers/send-project.ts';
import { countByRecipient } from '../helpers/smtp-sink.ts';

/**
 * Issue 5's acceptance, as a new user sees it: `letterpress start` runs as a child process
 * (JSON log lines on its stdout), mail goes to an SMTP server on loopback in this process,
 * and an editor drops issue files into `issues/`.
 */

let world: DaemonWorld | undefined;

afterEach(async () => {
  await world?.dispose();
  world = undefined;
});

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
    const dropped = Date.now();
    await dropIssue(world.root, `${slug}.md`, await digestIssue(40));

    const page = outFile(world.root, 'issues', slug, 'index.html');
    await eventually(() => access(page).then(() => true), 10_000, `${page} exists`);
    await eventually(async () => world!.sink.messages.length >= SUBSCRIBERS, 15_000, `${SUBSCRIBERS} messages arrive`);
    const latency = Date.now() - dropped;
    expect(latency, 'the drop went out within a few seconds').toBeLessThan(10_000);

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

    // Every active subscriber: exactly one message, and nobody else got one. A little grace
    // for a stray duplicate to show up.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const counts = perRecipient(world, '第四十期');
    expect([...counts.keys()].sort()).toEqual(emails(SUBSCRIBERS));
    expect([...counts.values()].every((n) => n === 1), JSON.stringify(Object.fromEntries(counts))).toBe(true);
    expect(world.sink.messages).toHaveLength(SUBSCRIBERS);

    const status = await world.status(slug);
    expect(status.state).toBe('sent');
    expect(status.counts).toMatchObject({ queued: 0, sending: 0, sent: SUBSCRIBERS });
    // The log tells the story: published, then a summary line with the count.
    expect(daemon.lines.some((line) => line.slug === slug && line.state === 'published'), logText(daemon.lines)).toBe(true);
    expect(daemon.lines.some((line) => line.slug === slug && line.sent === SUBSCRIBERS), logText(daemon.lines)).toBe(true);
  }, 30_000);
});

describe('letterpress start: publish_at in the future', () => {
  it('sends nothing and publishes no page before the instant, then exactly one message each, once', async () => {
    const count = 20;
    world = await createDaemonWorld(activeRows(count));
    const daemon = world.start();
    await waitForFirstPass(daemon);

    // A whole second ~5 s ahead, written with an explicit offset (the config's zone is Asia/Shanghai; use another).
    const due = Math.ceil((Date.now() + 5000) / 1000) * 1000;
    const publishAt = `${new Date(due - 5 * 3600_000).toISOString().slice(0, 19)}-05:00`;
    const slug = '2024-41';
    await dropIssue(world.root, `${slug}.md`, await digestIssue(41, { publish_at: publishAt }));

    const page = outFile(world.root, 'issues', slug, 'index.html');
    // Before the instant: look at every poll until just before it.
    let looked = 0;
    while (Date.now() < due - 250) {
      expect(world.sink.messages, `a message before ${publishAt}`).toHaveLength(0);
      await expect(access(page), `${page} before ${publishAt}`).rejects.toThrow();
      expect(await readText(outFile(world.root, 'feed.atom'))).not.toContain(`/issues/${slug}/`);
      looked++;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(looked).toBeGreaterThan(20);
    // The daemon saw it and knows when (data/daemon.json, shown by `status`).
    const daemonJson = JSON.parse(await readText(`${world.root}/data/daemon.json`)) as { scheduled: { slug: string; publishAt: string }[] };
    expect(daemonJson.scheduled.map((item) => item.slug)).toContain(slug);
    expect(Date.parse(daemonJson.scheduled.find((item) => item.slug === slug)!.publishAt)).toBe(due);

    // After it: the next 1 s tick publishes and sends.
    await eventually(async () => world!.sink.messages.length >= count, 8000, `${count} messages after ${publishAt}`);
    const firstArrival = Date.now();
    expect(firstArrival - due).toBeLessThan(6000);
    await access(page);
    // A few more ticks: still one each.
    await new Promise((resolve) => setTimeout(resolve, 3500));
    const counts = perRecipient(world, '第四十一期');
    expect([...counts.keys()].sort()).toEqual(emails(count));
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    expect(world.sink.messages).toHaveLength(count);
    expect((await world.status(slug)).state).toBe('sent');
  }, 30_000);
});

describe('letterpress start: two daemons on one store', () => {
  it('started at the same moment, they send each subscriber one message of a dropped issue', async () => {
    const count = 50;
    world = await createDaemonWorld(activeRows(count), {
      // Each message takes a little while, so the two daemons' passes surely overlap.
      smtp: {
        onData: (stream, session, callback) => {
          world!.sink.collect(stream, session).then((message) => {
            world!.sink.messages.push(message);
            setTimeout(() => callback(null), 25);
          }, callback);
        },
      },
    });
    const first = world.start();
    const second = world.start();
    const [firstUrl, secondUrl] = await Promise.all([first.url(), second.url()]);
    expect(firstUrl).not.toBe(secondUrl);
    await Promise.all([first, second].map((daemon) => daemon.waitFor((line) => typeof line.msg === 'string' && line.msg.startsWith('watching'), 15_000, 'watching')));
    await eventually(async () => (await allStatus(world!.root, world!.env)).length === 2, 10_000, 'the samples recorded');
    // Both have finished a pass (their status file is written after each pass).
    await new Promise((resolve) => setTimeout(resolve, 1500));
    // The samples of the fresh store stay archived, whichever daemon got there first.
    expect((await allStatus(world.root, world.env)).map((row) => [row.slug, row.state])).toEqual([
      ['2024-18', 'archived'],
      ['2024-32', 'archived'],
    ].sort());
    expect(world.sink.messages).toHaveLength(0);

    const slug = '2024-42';
    await dropIssue(world.root, `${slug}.md`, await digestIssue(42));
    await eventually(async () => world!.sink.messages.length >= count, 15_000, `${count} messages`);
    await eventually(async () => (await world!.status(slug)).state === 'sent', 10_000, `${slug} sent`);
    // Both daemons saw the file (each pass at least built it); give a stray second send time to show.
    await new Promise((resolve) => setTimeout(resolve, 2000));
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
  }, 40_000);
});
