import { access } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { readDaemonStatus } from '../../src/schedule/daemon-status.ts';
import { digestIssue, dropIssue } from '../helpers/daemon-child.ts';
import { createDaemonWorld, eventually, logText, outFile, readText, waitForFirstPass, type DaemonWorld } from '../helpers/daemon-project.ts';
import { activeRows } from '../helpers/send-project.ts';
import { countByRecipient } from '../helpers/smtp-sink.ts';

/**
 * Issue 5, "When": with `schedule.sendWindow` set, a new issue without `publish_at` is on the
 * site at once, and its email waits for the window (a 6-field cron a few seconds ahead here).
 */

let world: DaemonWorld | undefined;

afterEach(async () => {
  await world?.dispose();
  world = undefined;
});

describe('letterpress start: schedule.sendWindow', () => {
  it('publishes the page at once and holds the email until the window opens', async () => {
    const count = 20;
    // The window: the next time the clock shows this second (once a minute), ~10 s from now.
    const windowAt = Math.ceil((Date.now() + 10_000) / 1000) * 1000;
    const sendWindow = `${new Date(windowAt).getUTCSeconds()} * * * * *`;
    world = await createDaemonWorld(activeRows(count), { env: { LETTERPRESS_SCHEDULE_SENDWINDOW: sendWindow } });
    const daemon = world.start();
    await waitForFirstPass(daemon);
    const announced = await daemon.waitFor((line) => typeof line.nextWindow === 'string', 5000, 'the send window announced');
    expect(Date.parse(String(announced.nextWindow))).toBe(windowAt);
    expect(Date.now(), 'the daemon started too slowly for this window').toBeLessThan(windowAt - 3000);

    const slug = '2024-48';
    await dropIssue(world.root, `${slug}.md`, await digestIssue(48));
    const page = outFile(world.root, 'issues', slug, 'index.html');
    // On the site and in the feeds at once (the pass logs the wait after its build)…
    await daemon.waitFor((line) => line.slug === slug && /waits for the send window/.test(line.msg), 5000, `${slug} waits`);
    await access(page);
    expect(await readText(outFile(world.root, 'feed.atom'))).toContain(`/issues/${slug}/`);
    // data/daemon.json (what `status` shows) is written at the end of the pass.
    const status = await eventually(async () => {
      const written = await readDaemonStatus(`${world!.root}/data`);
      return written?.waitingForWindow.includes(slug) ? written : undefined;
    }, 3000, `daemon.json lists ${slug} as waiting for the window`);
    expect(Date.parse(status.nextWindow ?? '')).toBe(windowAt);

    // …but no email before the window, though the 1 s tick looks every second.
    while (Date.now() < windowAt - 300) {
      expect(world.sink.messages, `a message before the window at ${new Date(windowAt).toISOString()}`).toHaveLength(0);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect((await world.status(slug)).counts).toMatchObject({ queued: count, sent: 0 });

    // At the window: one each.
    await eventually(async () => world!.sink.messages.length >= count, 6000, `${count} messages after the window`);
    expect(Date.now() - windowAt).toBeLessThan(5000);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const counts = countByRecipient(world.sink.messages);
    expect([...counts.keys()].sort()).toEqual(activeRows(count).map((row) => row.email).sort());
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    expect(world.sink.messages).toHaveLength(count);
    expect((await world.status(slug)).state, logText(daemon.lines)).toBe('sent');
  }, 30_000);
});
