import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { digestIssue, dropIssue } from '../helpers/daemon-child.ts';
import { allStatus, createDaemonWorld, eventually, logText, waitForFirstPass, waitForPassesAfter, type DaemonWorld } from '../helpers/daemon-project.ts';
import { activeRows } from '../helpers/send-project.ts';
import { countByRecipient } from '../helpers/smtp-sink.ts';
import { REPO_ROOT } from '../helpers/temp-project.ts';

/**
 * Issue 5: a broken issue file dropped into `issues/` is reported on one log line with
 * file:line (for the editor to jump to), the daemon stays up, and the next good file goes out.
 */

let world: DaemonWorld | undefined;

afterEach(async () => {
  await world?.dispose();
  world = undefined;
});

describe('letterpress start: a broken issue file', () => {
  it('logs file:line once, keeps serving, and sends the next good file to everyone', async () => {
    const count = 30;
    world = await createDaemonWorld(activeRows(count));
    const daemon = world.start();
    const url = await daemon.url();
    await waitForFirstPass(daemon);

    // YAML front matter with an unquoted colon in the title, on line 3.
    const broken = await readFile(path.join(REPO_ROOT, 'test/fixtures/issues/broken-front-matter.md'), 'utf8');
    await dropIssue(world.root, '2024-46.md', broken);
    const error = await daemon.waitFor((line) => line.level === 50 && typeof line.file === 'string', 60_000, 'the error line');
    expect(String(error.file)).toMatch(/issues[\\/]2024-46\.md$/);
    expect(error.line).toBe(3);
    expect(typeof error.column).toBe('number');
    // The message itself carries file:line:column, as an editor or a terminal link wants it.
    expect(error.msg).toMatch(new RegExp(`2024-46\\.md:3:${String(error.column)}: \\S`));

    // Still up and serving.
    const health = await fetch(new URL('/healthz', url));
    expect(health.status).toBe(200);
    expect(daemon.child.exitCode).toBeNull();

    // Three more passes (ticks, one a second) later, the same problem is not logged again and again.
    const later = await waitForPassesAfter(path.join(world.root, 'data'), Number(error.time), 3);
    expect(later.every((pass) => pass.fileErrors === 1), JSON.stringify(later)).toBe(true);
    const errorLines = daemon.lines.filter((line) => line.level === 50 && typeof line.file === 'string' && /2024-46\.md$/.test(String(line.file)));
    expect(errorLines, logText(daemon.lines)).toHaveLength(1);
    expect(daemon.lines.filter((line) => /pass failed/.test(line.msg))).toEqual([]);

    // The next good file goes out, the broken one still sitting there.
    const slug = '2024-47';
    await dropIssue(world.root, `${slug}.md`, await digestIssue(47));
    await eventually(async () => world!.sink.messages.length >= count, 60_000, `${count} messages`);
    await eventually(async () => (await world!.status(slug)).state === 'sent', 60_000, `${slug} sent`);
    const counts = countByRecipient(world.sink.messages);
    expect([...counts.keys()].sort()).toEqual(activeRows(count).map((row) => row.email).sort());
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    expect(world.sink.messages).toHaveLength(count);
    // The broken file never became an issue.
    expect((await allStatus(world.root, world.env)).map((row) => row.slug).sort()).toEqual(['2024-18', '2024-32', slug]);
    expect((await fetch(new URL(`/issues/${slug}/`, url))).status).toBe(200);
  }, 180_000);
});
