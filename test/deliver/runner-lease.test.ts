import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { acquireRunnerLease, createHolderId, isLocalHolderAlive } from '../../src/deliver/runner-lease.ts';
import { openSqliteStore } from '../../src/store/sqlite-store.ts';
import type { Store } from '../../src/store/types.ts';

const stores: Store[] = [];
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
});

async function openTwo(): Promise<[Store, Store]> {
  const file = path.join(await mkdtemp(path.join(tmpdir(), 'letterpress-lease-')), 'store.db');
  const a = await openSqliteStore({ file });
  const b = await openSqliteStore({ file });
  stores.push(a, b);
  return [a, b];
}

const clock = { now: () => new Date() };
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe('acquireRunnerLease', () => {
  it('makes a second runner wait until the first releases', async () => {
    const [a, b] = await openTwo();
    const first = await acquireRunnerLease('send', createHolderId(), { store: a, clock, sleep, leaseMs: 5000 });
    const waits: string[] = [];
    let secondHeld = false;
    const second = acquireRunnerLease('send', createHolderId(), {
      store: b,
      clock,
      sleep,
      leaseMs: 5000,
      onWait: (holder) => waits.push(holder),
    }).then((lease) => {
      secondHeld = true;
      return lease;
    });
    await sleep(300);
    expect(secondHeld).toBe(false);
    expect(waits).toEqual([first.holder]);
    await first.release();
    const lease = await second;
    expect(secondHeld).toBe(true);
    await lease.release();
  });

  it('takes over at once from a holder on this host whose process is gone', async () => {
    const [a, b] = await openTwo();
    const deadHolder = `${createHolderId().split(':')[0]}:999999:dead`;
    expect(isLocalHolderAlive(deadHolder)).toBe(false);
    const until = new Date(Date.now() + 3_600_000).toISOString();
    expect(await a.acquireLease('send', deadHolder, until, new Date().toISOString())).toBe(true);
    const started = Date.now();
    const lease = await acquireRunnerLease('send', createHolderId(), { store: b, clock, sleep, leaseMs: 60_000 });
    expect(Date.now() - started).toBeLessThan(5000);
    await lease.release();
  });

  it('keeps renewing the lease while held, so it outlives its first term', async () => {
    const [a, b] = await openTwo();
    const lease = await acquireRunnerLease('send', createHolderId(), { store: a, clock, sleep, leaseMs: 300 });
    await sleep(900);
    const now = new Date();
    expect(await b.acquireLease('send', 'someone-else:1:x', new Date(now.getTime() + 1000).toISOString(), now.toISOString())).toBe(false);
    expect(lease.lost.aborted).toBe(false);
    await lease.release();
  });
});
