import { rm } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { displayWidth } from '../../src/util/display-width.ts';
import { spawnDaemon, type DaemonChild } from '../helpers/daemon-child.ts';
import { runInPty, type PtyRun } from '../helpers/pty.ts';
import { activeRows, createSendProject, SLUG, TEST_SECRET } from '../helpers/send-project.ts';
import { createTempProject } from '../helpers/temp-project.ts';

const ENV = { LETTERPRESS_SECRET: TEST_SECRET, LETTERPRESS_SCHEDULE_SETTLEMS: '200' };

const roots: string[] = [];
const runs: PtyRun[] = [];
const daemons: DaemonChild[] = [];
afterEach(async () => {
  await Promise.all([...runs.splice(0).map((run) => run.kill()), ...daemons.splice(0).map((daemon) => daemon.kill())]);
  for (const root of roots.splice(0)) await rm(root, { recursive: true, force: true });
});

async function project(): Promise<string> {
  const root = await createTempProject();
  roots.push(root);
  return root;
}

function pty(args: string[], root: string, env: Record<string, string> = ENV): PtyRun {
  const run = runInPty(['--root', root, ...args], { cwd: root, env });
  runs.push(run);
  return run;
}

/** What a person must never see: a crash, or a log line meant for a machine. */
function expectReadable(text: string): void {
  expect(text).not.toContain('unexpected error');
  expect(text).not.toMatch(/^\s*\{"level"/m);
  expect(text).not.toMatch(/\n\s+at .*\.(ts|js):\d+/);
}

describe('on a terminal (issue 9, point 1)', () => {
  it('`start` serves, says what to do next in plain words, and stops cleanly on Ctrl-C', async () => {
    const root = await project();
    const run = pty(['start', '--port', '0'], root);
    const shown = await run.waitFor(/archived 2024-32/);
    const url = /the archive is at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(shown)?.[1];
    expect(url, shown).toBeDefined();
    expect(shown).toContain('drop a Markdown file into issues/');
    expect(shown).toContain(`subscribe: ${url}subscribe`);
    expect(shown).toContain('messages are written to data/outbox/');
    expect(shown).toContain('stop: Ctrl-C');
    // Coloured: the level of each log line.
    expect(run.output()).toMatch(/\u001b\[32mINFO/);
    // The server picks up the first build from its stamp, a moment after the pass wrote it.
    await expect.poll(async () => (await fetch(url!)).status, { timeout: 15_000 }).toBe(200);
    run.interrupt();
    expect(await run.exited).toBe(0);
    expect(run.plain()).toMatch(/stopped\n/);
    expectReadable(run.plain());
  }, 60_000);

  it('`serve` logs its requests readably (fastify\'s own lines too) and stops on Ctrl-C', async () => {
    const root = await project();
    const run = pty(['serve', '--port', '0'], root);
    const shown = await run.waitFor(/press Ctrl-C|stop: Ctrl-C/);
    const url = /at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(shown)![1]!;
    await fetch(`${url}healthz`);
    await run.waitFor(/GET \/healthz/);
    expect(run.plain()).toMatch(/Server listening at http:\/\/127\.0\.0\.1:\d+/);
    run.interrupt();
    expect(await run.exited).toBe(0);
    expect(run.plain()).toContain('Stopped.');
    expectReadable(run.plain());
  }, 60_000);

  it('`preview` prints its URL and stops on Ctrl-C', async () => {
    const root = await project();
    const run = pty(['preview', 'issues/2024-18.md', '--port', '0'], root);
    const shown = await run.waitFor(/Ctrl\+C to stop/);
    const url = /at (http:\/\/127\.0\.0\.1:\d+)\//.exec(shown)![1]!;
    expect((await fetch(`${url}/`)).status).toBe(200);
    run.interrupt();
    expect(await run.exited).toBe(0);
    expectReadable(run.plain());
  }, 60_000);

  it('`send` draws its progress bar and ends with the summary; `status` fits the terminal', async () => {
    const root = await createSendProject(activeRows(30), ENV);
    roots.push(root);
    const send = pty(['send', SLUG], root);
    expect(await send.exited).toBe(0);
    expect(send.plain()).toMatch(/\[#+\] 30\/30/);
    expect(send.plain()).toMatch(/2024-18: 30 sent/);
    expectReadable(send.plain());

    const status = pty(['status'], root);
    expect(await status.exited).toBe(0);
    expect(status.plain()).toContain('sent 30');
    for (const line of status.plain().split('\n')) expect(displayWidth(line), line).toBeLessThanOrEqual(100);
    expectReadable(status.plain());
  }, 60_000);

  it('a taken port names the running daemon and shows how to pick another, npm included', async () => {
    const root = await project();
    const first = spawnDaemon(root, ENV, ['--port', '0']);
    daemons.push(first);
    const port = new URL(await first.url()).port;
    const second = pty(['start', '--port', port], root);
    expect(await second.exited).toBe(1);
    const shown = second.plain();
    expect(shown).toContain(`the port is in use by the Letterpress daemon already running here (pid ${first.child.pid}, since `);
    expect(shown).toContain(`npm start -- --port ${Number(port) + 1}`);
    expect(shown).toContain('[E_LISTEN]');
    expectReadable(shown);
  }, 60_000);
});
