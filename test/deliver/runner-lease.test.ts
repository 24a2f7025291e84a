import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { acquireRunnerLease, createHolderId, isLocalHolderAlive } from '../../src/deliver/runner-lease.ts';
import { openSqliteStore } from '../../src/store/sqlite-store.ts';
import type { Store } from '../../src/store/types.ts';
import { createFakeClock } from '../helpers/fake-clock.ts';

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

/**
 * The lease's waits and renewals run on a fake clock: the tests move time on and look at who
 * holds the lease, never at how long a wait took.
 */
describe('acquireRunnerLease', () => {
  it('makes a second runner wait until the first releases', async () => {
    const [a, b] = await openTwo();
    const time = createFakeClock();
    const { clock, sleep } = time;
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
    // Ten polls' worth of time (the first keeps renewing meanwhile): the second still waits, and said so once.
    for (let i = 0; i < 10; i++) await time.advance(1000);
    expect(secondHeld).toBe(false);
    expect(waits).toEqual([first.holder]);
    await first.release();
    await time.advance(1000);
    const lease = await second;
    expect(secondHeld).toBe(true);
    await lease.release();
    expect(time.pendingSleeps()).toEqual([]);
  });

  it('takes over at once from a holder on this host whose process is gone', async () => {
    const [a, b] = await openTwo();
    const time = createFakeClock();
    const deadHolder = `${createHolderId().split(':')[0]}:999999:dead`;
    expect(isLocalHolderAlive(deadHolder)).toBe(false);
    const until = new Date(time.now() + 3_600_000).toISOString();
    expect(await a.acquireLease('send', deadHolder, until, time.clock.now().toISOString())).toBe(true);
    // No time passes: it never waits for the dead holder's hour.
    const lease = await acquireRunnerLease('send', createHolderId(), { store: b, clock: time.clock, sleep: time.sleep, leaseMs: 60_000 });
    expect(time.now()).toBe(Date.UTC(2024, 4, 6));
    await lease.release();
  });

  it('keeps renewing the lease while held, so it outlives its first term', async () => {
    const [a, b] = await openTwo();
    const time = createFakeClock();
    const lease = await acquireRunnerLease('send', createHolderId(), { store: a, clock: time.clock, sleep: time.sleep, leaseMs: 300 });
    // Three terms later (renewed every 100 ms of fake time), it is still held.
    for (let i = 0; i < 9; i++) await time.advance(100);
    const now = time.clock.now();
    expect(await b.acquireLease('send', 'someone-else:1:x', new Date(now.getTime() + 1000).toISOString(), now.toISOString())).toBe(false);
    expect(lease.lost.aborted).toBe(false);
    // Released: no renewal is left waiting.
    await lease.release();
    expect(time.pendingSleeps()).toEqual([]);
    expect(await b.acquireLease('send', 'someone-else:1:x', new Date(now.getTime() + 1000).toISOString(), now.toISOString())).toBe(true);
  });

  it('reports the lease lost when a renewal finds another holder', async () => {
    const [a, b] = await openTwo();
    const time = createFakeClock();
    const lease = await acquireRunnerLease('send', createHolderId(), { store: a, clock: time.clock, sleep: time.sleep, leaseMs: 300 });
    // Stalled past its term (no renewal ran), another runner takes over.
    const later = new Date(time.now() + 1000);
    expect(await b.acquireLease('send', 'other:1:x', new Date(later.getTime() + 60_000).toISOString(), later.toISOString())).toBe(true);
    await time.advance(100);
    expect(lease.lost.aborted).toBe(true);
    await lease.release();
  });
});
