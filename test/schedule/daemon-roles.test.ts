import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readDaemonStatus } from '../../src/schedule/daemon-status.ts';
import { digestIssue, dropIssue, spawnLogging } from '../helpers/daemon-child.ts';
import { createDaemonWorld, eventually, logText, waitForFirstPass, type DaemonWorld } from '../helpers/daemon-project.ts';
import { activeRows } from '../helpers/send-project.ts';
import { countByRecipient } from '../helpers/smtp-sink.ts';

let world: DaemonWorld | undefined;
afterEach(async () => {
  await world?.dispose();
  world = undefined;
});

describe('letterpress start: the scheduler lease', () => {
  it('two instances on one store: one schedules, the other only serves and sends, and takes over when the first dies', async () => {
    const count = 6;
    world = await createDaemonWorld(activeRows(count), { env: { LETTERPRESS_SCHEDULE_LEASESECONDS: '3' } });
    const first = world.start();
    await waitForFirstPass(first);
    await first.waitFor((line) => line.scheduling === true, 5_000, 'the first instance scheduling');
    // Its own data folder (status file, build state), as a second machine would have; one store.
    const second = world.start(undefined, { LETTERPRESS_PATHS_DATA: 'data-second' });
    await second.waitFor((line) => line.scheduling === false && typeof line.scheduler === 'string', 15_000, 'the second instance on standby');
    const secondUrl = await second.url();
    expect((await fetch(new URL('/healthz', secondUrl))).status).toBe(200);
    await eventually(async () => (await readDaemonStatus(path.join(world!.root, 'data-second')))?.lastPasses.length, 15_000, 'a pass of the standby');
    const standby = await readDaemonStatus(path.join(world.root, 'data-second'));
    expect(standby).toMatchObject({ role: 'all', scheduling: false });
    expect(standby?.scheduler).toMatch(new RegExp(`:${first.child.pid}:`));
    // The standby builds nothing: no publishing, no site rebuilt.
    expect(logText(second.lines)).not.toMatch(/site rebuilt|"state":"archived"/);

    await first.kill();
    // On this host a killed holder is seen at the next try (a third of the lease); elsewhere once the lease lapsed.
    await second.waitFor((line) => line.scheduling === true, 10_000, 'the second instance taking over');
    const slug = '2024-42';
    await dropIssue(world.root, `${slug}.md`, await digestIssue(42));
    await eventually(async () => world!.sink.messages.length >= count, 60_000, `${count} messages`);
    await eventually(async () => (await world!.status(slug)).state === 'sent', 30_000, `${slug} sent`);
    expect([...countByRecipient(world.sink.messages).values()].every((n) => n === 1)).toBe(true);
    expect(second.lines.some((line) => line.msg === `published ${slug}`)).toBe(true);
    expect((await readDaemonStatus(path.join(world.root, 'data-second')))?.scheduling).toBe(true);
  }, 180_000);

  it('--role scheduler plans and builds but sends nothing; a worker elsewhere sends; --role web only serves', async () => {
    const count = 5;
    world = await createDaemonWorld(activeRows(count));
    const scheduler = world.start(['--role', 'scheduler']);
    await waitForFirstPass(scheduler);
    expect(scheduler.lines.some((line) => typeof line.url === 'string')).toBe(false);
    const web = world.start(['--role', 'web', '--port', '0'], { LETTERPRESS_PATHS_DATA: 'data-web' });
    const url = await web.url();
    expect((await fetch(new URL('/', url))).status).toBe(200);

    const slug = '2024-42';
    await dropIssue(world.root, `${slug}.md`, await digestIssue(42));
    await eventually(async () => (await world!.status(slug)).state === 'planned', 30_000, `${slug} planned`);
    // Nobody sends yet: the scheduler never does, the web instance neither.
    await scheduler.waitFor((line) => /^published 2024-42/.test(line.msg), 5_000, 'the scheduler publishing');
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(world.sink.messages).toHaveLength(0);
    expect((await fetch(new URL(`/issues/${slug}/`, url))).status).toBe(200);

    const worker = spawnLogging(world.root, { ...world.env, LETTERPRESS_DELIVERY_POLLSECONDS: '0.5' }, ['--root', world.root, 'worker']);
    world.daemons.push(worker);
    await eventually(async () => (await world!.status(slug)).state === 'sent', 60_000, `${slug} sent by the worker`);
    expect(world.sink.messages).toHaveLength(count);
    worker.child.kill('SIGTERM');
    expect((await worker.exited).code).toBe(0);
  }, 180_000);
});
