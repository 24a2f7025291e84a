import { access } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { digestIssue, dropIssue } from '../helpers/daemon-child.ts';
import { createDaemonWorld, eventually, logText, outFile, waitForFirstPass, type DaemonWorld } from '../helpers/daemon-project.ts';
import { activeRows } from '../helpers/send-project.ts';

/**
 * The daemon with the shipped config and a real relay: it keeps serving and publishing, and
 * refuses to send, saying why in its log; restarted with --allow-local it sends what waited.
 */

let world: DaemonWorld | undefined;

afterEach(async () => {
  await world?.dispose();
  world = undefined;
});

describe('letterpress start with local addresses and an SMTP relay', () => {
  it('serves and publishes, refuses to send with the reason, and sends once started with --allow-local', async () => {
    world = await createDaemonWorld(activeRows(5), { allowLocalAddresses: false });
    const daemon = world.start();
    const url = await daemon.url();
    await waitForFirstPass(daemon);
    // Said at start, before any mail waits.
    expect(daemon.lines.some((line) => line.code === 'E_PREFLIGHT' && /site\.url/.test(line.msg)), logText(daemon.lines)).toBe(true);

    const slug = '2024-40';
    await dropIssue(world.root, `${slug}.md`, await digestIssue(40));
    const refusal = await daemon.waitFor(
      (line) => line.code === 'E_PREFLIGHT' && line.msg.startsWith('not sending'),
      15_000,
      'the refusal in the log',
    );
    expect(refusal.msg).toContain('http://127.0.0.1:8080');
    expect(refusal.msg).toContain('newsletter@localhost');
    expect(refusal.msg).toContain('--allow-local');
    expect(refusal.problems).toEqual(['site-url', 'from']);

    // Published and served all the same; the mail waits in the queue.
    await access(outFile(world.root, 'issues', slug, 'index.html'));
    // Served once the server has picked up the build's stamp.
    await expect.poll(async () => (await fetch(new URL(`/issues/${slug}/`, url))).status, { timeout: 15_000 }).toBe(200);
    const status = await world.status(slug);
    expect(status.state).toBe('planned');
    expect(status.counts.queued).toBe(5);
    expect(world.sink.messages).toHaveLength(0);
    expect(daemon.child.exitCode).toBeNull();

    await daemon.kill();
    const staging = world.start(['--port', '0', '--allow-local']);
    await eventually(async () => world!.sink.messages.length >= 5, 15_000, '5 messages arrive');
    expect((await world.status(slug)).counts.sent).toBe(5);
    expect(staging.lines.some((line) => line.code === 'E_PREFLIGHT'), logText(staging.lines)).toBe(false);
  }, 45_000);
});
