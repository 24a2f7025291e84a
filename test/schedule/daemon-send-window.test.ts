import { access } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { readDaemonStatus } from '../../src/schedule/daemon-status.ts';
import { digestIssue, dropIssue } from '../helpers/daemon-child.ts';
import { logText, outFile, readText } from '../helpers/daemon-project.ts';
import { startFakeDaemon, type FakeDaemon } from '../helpers/fake-daemon.ts';
import { activeRows } from '../helpers/send-project.ts';
import { countByRecipient } from '../helpers/smtp-sink.ts';

/**
 * Issue 5, "When": with `schedule.sendWindow` set, a new issue without `publish_at` is on the
 * site at once, and its email waits for the window. The daemon runs on a fake clock: its tick
 * (each minute) and the window (minute 10 of the hour) fire when the test moves time on, so
 * the test asserts what happened at each tick, never how fast the machine was.
 */

let daemon: FakeDaemon | undefined;

afterEach(async () => {
  await daemon?.dispose();
  daemon = undefined;
});

describe('letterpress start: schedule.sendWindow', () => {
  it('publishes the page at once and holds the email until the window opens', async () => {
    const count = 20;
    daemon = await startFakeDaemon(activeRows(count), { env: { LETTERPRESS_SCHEDULE_SENDWINDOW: '0 10 * * * *' } });
    const windowAt = daemon.time.now() + 10 * 60_000;
    // The first pass (at start) archives the fresh store's backlog.
    const [first] = await daemon.waitForPasses(1);
    expect(first!.reason).toBe('start');
    const announced = daemon.lines.find((line) => typeof line.nextWindow === 'string');
    expect(Date.parse(String(announced?.nextWindow))).toBe(windowAt);

    const slug = '2024-48';
    await dropIssue(daemon.root, `${slug}.md`, await digestIssue(48));
    // The next tick (whether or not the watcher saw the file first) publishes it.
    await daemon.advance(60_000);
    await daemon.waitForPasses(daemon.passes.length);
    expect(daemon.lines.some((line) => line.slug === slug && /waits for the send window/.test(line.msg)), logText(daemon.lines)).toBe(true);
    // On the site and in the feeds at once…
    await access(outFile(daemon.root, 'issues', slug, 'index.html'));
    expect(await readText(outFile(daemon.root, 'feed.atom'))).toContain(`/issues/${slug}/`);
    // …and data/daemon.json (what `status` shows) lists it as waiting, with the window's time.
    const status = await readDaemonStatus(`${daemon.root}/data`);
    expect(status?.waitingForWindow).toContain(slug);
    expect(Date.parse(status?.nextWindow ?? '')).toBe(windowAt);

    // Every tick before the window looks, and sends nothing.
    const ticksBefore = daemon.time.job('tick').fired;
    while (daemon.time.now() + 60_000 < windowAt) {
      const passes = await daemon.advance(60_000);
      expect(passes.map((pass) => pass.reason)).toEqual(['tick']);
      expect(daemon.sink.messages, `a message at ${new Date(daemon.time.now()).toISOString()}, before the window`).toHaveLength(0);
    }
    expect(daemon.time.job('tick').fired - ticksBefore).toBe(8);
    expect(daemon.time.job('send-window').fired).toBe(0);
    const queued = await (await daemon.app.store()).countDeliveries(slug);
    expect(queued).toMatchObject({ queued: count, sent: 0 });

    // At the window: one pass for the window, and one message each.
    await daemon.time.advance(60_000);
    expect(daemon.time.job('send-window').fired).toBe(1);
    await waitForWindowPass(daemon);
    const counts = countByRecipient(daemon.sink.messages);
    expect([...counts.keys()].sort()).toEqual(activeRows(count).map((row) => row.email).sort());
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    expect(daemon.passes.find((pass) => pass.reason === 'window')?.sent).toBe(count);

    // Later ticks send nothing more.
    await daemon.advance(60_000);
    await daemon.advance(60_000);
    expect(daemon.sink.messages).toHaveLength(count);
    const issue = await (await daemon.app.store()).getIssue(slug);
    expect(issue?.state, logText(daemon.lines)).toBe('sent');
  }, 60_000);
});

async function waitForWindowPass(daemon: FakeDaemon): Promise<void> {
  for (let seen = daemon.passes.length; !daemon.passes.some((pass) => pass.reason === 'window'); seen++) {
    await daemon.waitForPasses(seen + 1);
  }
}
