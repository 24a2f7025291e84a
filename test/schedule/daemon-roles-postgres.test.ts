import { rm } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readDaemonStatus } from '../../src/schedule/daemon-status.ts';
import { digestIssue, dropIssue, spawnDaemon, type DaemonChild } from '../helpers/daemon-child.ts';
import { eventually, logText, waitForFirstPass } from '../helpers/daemon-project.ts';
import { startCountingRelay, type CountingRelay } from '../helpers/counting-relay.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres-database.ts';
import { activeRows, importRows, issueStatus, TEST_SECRET } from '../helpers/send-project.ts';
import { createTempProject } from '../helpers/temp-project.ts';

/**
 * Two `letterpress start` instances (role all) on one PostgreSQL store, as two machines sharing
 * the project tree and `out/` (one folder here) with a `data/` folder each (status file, build
 * state). The relay tells them apart by the EHLO name each one's smtp.clientName gives.
 */

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const LEASE_SECONDS = 3;

async function world(count: number): Promise<{ root: string; database: TestDatabase; relay: CountingRelay; env: Record<string, string> }> {
  const database = await createTestDatabase('letterpress_daemons');
  cleanups.push(() => database.drop());
  // 400 messages take one instance at least 400 × 40 ms / 5 connections = 3.2 s, so the other
  // has its share to take even when a loaded machine wakes it late.
  const relay = await startCountingRelay({ acceptDelayMs: 40 });
  cleanups.push(() => relay.close());
  const env = {
    LETTERPRESS_DB: database.url,
    LETTERPRESS_SMTP_URL: relay.url,
    LETTERPRESS_SECRET: TEST_SECRET,
    // The default tick (every minute): what the instance that does not schedule sends, it
    // sends because the store's notification woke it, not because a tick came.
    LETTERPRESS_SCHEDULE_SETTLEMS: '200',
    LETTERPRESS_SCHEDULE_LEASESECONDS: String(LEASE_SECONDS),
    LETTERPRESS_DELIVERY_LEASESECONDS: '3',
    // Small claims, so both instances share an issue.
    LETTERPRESS_DELIVERY_BATCHSIZE: '10',
  };
  const root = await createTempProject({ allowLocalAddresses: true });
  cleanups.push(() => rm(root, { recursive: true, force: true }));
  await importRows(root, activeRows(count), env);
  return { root, database, relay, env };
}

function start(root: string, env: Record<string, string>, name: string, data: string): DaemonChild & { ehlo: string } {
  const ehlo = `${name}.letterpress.dev`;
  const daemon = spawnDaemon(root, { ...env, LETTERPRESS_SMTP_CLIENTNAME: ehlo, LETTERPRESS_PATHS_DATA: data }, ['--port', '0']);
  cleanups.push(() => daemon.kill());
  return Object.assign(daemon, { ehlo });
}

/** `wait`, with both instances' logs in its error when it fails. */
async function watching<T>(daemons: readonly DaemonChild[], wait: Promise<T>): Promise<T> {
  try {
    return await wait;
  } catch (error) {
    throw new Error(`${(error as Error).message}\n${daemons.map((daemon, index) => `instance ${index}:\n${logText(daemon.lines)}\n${daemon.other.join('')}`).join('\n')}`, { cause: error });
  }
}

describe('letterpress start: two instances on one PostgreSQL store', () => {
  it('record and plan an issue once, both serve and both send it, one message each; the survivor of a SIGKILL takes scheduling over and publishes the next', async () => {
    const count = 400;
    const { root, relay, env } = await world(count);
    const first = start(root, env, 'first', 'data-first');
    await watching([first], waitForFirstPass(first));
    await first.waitFor((line) => line.scheduling === true, 10_000, 'the first instance scheduling');
    const second = start(root, env, 'second', 'data-second');
    await watching([first, second], second.waitFor((line) => line.scheduling === false && typeof line.scheduler === 'string', 15_000, 'the second instance on standby'));
    const urls = [await first.url(), await second.url()];
    expect(new Set(urls).size).toBe(2);
    for (const url of urls) {
      expect((await fetch(new URL('/healthz', url))).status).toBe(200);
      expect((await fetch(new URL('/', url))).status).toBe(200);
    }

    const slug = '2024-42';
    await dropIssue(root, `${slug}.md`, await digestIssue(42));
    await watching([first, second], eventually(async () => relay.byRecipient.size === count, 120_000, `${count} recipients`, 100));
    const status = await eventually(async () => {
      const current = await issueStatus(root, slug, env);
      return current.state === 'sent' && current;
    }, 30_000, `${slug} sent`);
    // Planned once: one row per subscriber; recorded by the scheduling instance alone.
    expect(status.counts).toMatchObject({ sent: count, queued: 0, sending: 0 });
    expect(first.lines.filter((line) => line.msg === `published ${slug}`)).toHaveLength(1);
    expect(second.lines.some((line) => line.msg === `published ${slug}`)).toBe(false);
    expect(relay.total()).toBe(count);
    expect([...relay.byRecipient.values()].every((n) => n === 1)).toBe(true);
    // Both sent a share; the second between ticks, woken by the store.
    expect(relay.bySender.get(first.ehlo) ?? 0).toBeGreaterThan(0);
    expect(relay.bySender.get(second.ehlo) ?? 0).toBeGreaterThan(0);
    const secondPasses = (await readDaemonStatus(path.join(root, 'data-second')))?.lastPasses ?? [];
    expect(secondPasses.some((pass) => pass.reason === 'due' && pass.sent > 0)).toBe(true);
    // Both serve the page the scheduling instance built into the shared out/.
    for (const url of urls) expect((await fetch(new URL(`/issues/${slug}/`, url))).status).toBe(200);

    const killedAt = Date.now();
    await first.kill();
    const takeover = await watching([second], second.waitFor((line) => line.scheduling === true, LEASE_SECONDS * 1000 + 10_000, 'the second instance taking over'));
    const next = '2024-43';
    await dropIssue(root, `${next}.md`, await digestIssue(43));
    await watching([second], eventually(async () => [...relay.byRecipient.values()].every((n) => n === 2) && relay.byRecipient.size === count, 120_000, `${next} to ${count} recipients`, 100));
    await eventually(async () => (await issueStatus(root, next, env)).state === 'sent', 30_000, `${next} sent`);
    expect(second.lines.filter((line) => line.msg === `published ${next}`)).toHaveLength(1);
    expect(relay.total()).toBe(2 * count);
    expect((await fetch(new URL(`/issues/${next}/`, urls[1]))).status).toBe(200);
    expect((await readDaemonStatus(path.join(root, 'data-second')))?.scheduling).toBe(true);
    console.info(JSON.stringify({ takeoverMs: Number(takeover.time) - killedAt, perInstance: Object.fromEntries(relay.bySender) }));
  }, 300_000);
});
