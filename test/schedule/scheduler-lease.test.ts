import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SCHEDULER_LEASE, startSchedulerElection, type SchedulerElection } from '../../src/schedule/scheduler-lease.ts';
import { openSqliteStore } from '../../src/store/sqlite-store.ts';
import type { Store } from '../../src/store/types.ts';
import type { Sleep } from '../../src/util/sleep.ts';
import { createFakeClock, type FakeClock } from '../helpers/fake-clock.ts';

const LEASE_MS = 30_000;
let dir: string;
let store: Store;
let fake: FakeClock;
const elections: SchedulerElection[] = [];

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'letterpress-election-'));
  store = await openSqliteStore({ file: path.join(dir, 'letterpress.db') });
  fake = createFakeClock(Date.UTC(2026, 2, 1, 9));
});

afterEach(async () => {
  for (const election of elections.splice(0)) await election.stop();
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

/** Lets SQLite calls and their continuations run before time moves again. */
async function settle(): Promise<void> {
  for (let turn = 0; turn < 50; turn += 1) await new Promise((resolve) => setImmediate(resolve));
}

async function advance(ms: number): Promise<void> {
  await settle();
  await fake.advance(ms);
  await settle();
}

async function elect(holder: string, options: { sleep?: Sleep; isHolderAlive?: (holder: string) => boolean } = {}) {
  const changes: { leading: boolean; leader: string | undefined }[] = [];
  const election = await startSchedulerElection({
    store,
    clock: fake.clock,
    sleep: options.sleep ?? fake.sleep,
    holder,
    leaseMs: LEASE_MS,
    onChange: (leading, leader) => changes.push({ leading, leader }),
    // Holders on "other machines": only a lapsed lease frees the post.
    isHolderAlive: options.isHolderAlive ?? (() => true),
  });
  elections.push(election);
  return { election, changes };
}

describe('the scheduler lease', () => {
  it('elects one instance; the other waits, and takes over within a lease once the first stops renewing', async () => {
    // The first instance freezes after its first try (a killed process on another machine: it never renews).
    const frozen: Sleep = () => new Promise<void>(() => undefined);
    const first = await elect('mail-1:100:a', { sleep: frozen });
    const second = await elect('mail-2:200:b');
    expect(first.election.isLeader()).toBe(true);
    expect(first.changes).toEqual([{ leading: true, leader: 'mail-1:100:a' }]);
    expect(second.election.isLeader()).toBe(false);
    expect(second.election.leader()).toBe('mail-1:100:a');
    expect(second.changes).toEqual([]);

    // Still the first one's while its lease runs, though it renews nothing.
    await advance(LEASE_MS - 1);
    expect(second.election.isLeader()).toBe(false);
    // Within a lease period (and one try) of the last renewal, the second schedules.
    await advance(LEASE_MS / 3 + 1);
    expect(second.election.isLeader()).toBe(true);
    expect(second.changes).toEqual([{ leading: true, leader: 'mail-2:200:b' }]);
    expect((await store.getLease(SCHEDULER_LEASE))?.holder).toBe('mail-2:200:b');
    elections.splice(elections.indexOf(first.election), 1);
  });

  it('keeps the lease while the leader renews it, and hands it over at the next try once the leader stops', async () => {
    const first = await elect('mail-1:100:a');
    const second = await elect('mail-2:200:b');
    await advance(5 * LEASE_MS);
    expect(first.election.isLeader()).toBe(true);
    expect(second.election.isLeader()).toBe(false);
    await first.election.stop();
    elections.splice(elections.indexOf(first.election), 1);
    expect(await store.getLease(SCHEDULER_LEASE)).toBeUndefined();
    await advance(LEASE_MS / 3 + 1);
    expect(second.election.isLeader()).toBe(true);
  });

  it('takes over at once from a process on this host that is gone', async () => {
    await store.acquireLease(SCHEDULER_LEASE, 'here:999999:dead', new Date(fake.now() + LEASE_MS).toISOString(), new Date(fake.now()).toISOString());
    const next = await elect('here:200:b', { isHolderAlive: (holder) => holder !== 'here:999999:dead' });
    expect(next.election.isLeader()).toBe(true);
  });

  it('steps down when another instance holds the lease at its renewal (it stalled past its lease)', async () => {
    const first = await elect('mail-1:100:a');
    // Someone else took the lease meanwhile (as after a stall longer than the lease).
    await store.releaseLease(SCHEDULER_LEASE, 'mail-1:100:a');
    await store.acquireLease(SCHEDULER_LEASE, 'mail-2:200:b', new Date(fake.now() + LEASE_MS).toISOString(), new Date(fake.now()).toISOString());
    await advance(LEASE_MS / 3 + 1);
    expect(first.election.isLeader()).toBe(false);
    expect(first.changes.at(-1)).toEqual({ leading: false, leader: 'mail-2:200:b' });
  });
});
