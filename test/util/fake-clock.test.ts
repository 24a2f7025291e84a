import { describe, expect, it } from 'vitest';
import { createFakeClock } from '../helpers/fake-clock.ts';

/**
 * The fake clock the daemon, lease and settle tests stand on: if it fired an event early, late,
 * twice or out of order, those tests would prove nothing. Everything here is in fake time only.
 */

const START = Date.UTC(2024, 4, 6, 0, 0, 0);

describe('fake clock: sleep', () => {
  it('resolves a sleep only once time reaches it, and says so through now()', async () => {
    const time = createFakeClock(START);
    let wokeAt: number | undefined;
    void time.sleep(1000).then(() => (wokeAt = time.now()));
    await time.advance(999);
    expect(wokeAt).toBeUndefined();
    expect(time.pendingSleeps()).toEqual([1]);
    await time.advance(1);
    expect(wokeAt).toBe(START + 1000);
    expect(time.pendingSleeps()).toEqual([]);
    expect(time.clock.now().getTime()).toBe(START + 1000);
  });

  it('wakes sleepers in the order of their due times, each at its own instant, ties in start order', async () => {
    const time = createFakeClock(START);
    const woke: [string, number][] = [];
    const nap = (name: string, ms: number) => void time.sleep(ms).then(() => woke.push([name, time.now() - START]));
    nap('late', 3000);
    nap('early', 1000);
    nap('tie-a', 2000);
    nap('tie-b', 2000);
    await time.advance(10_000);
    expect(woke).toEqual([
      ['early', 1000],
      ['tie-a', 2000],
      ['tie-b', 2000],
      ['late', 3000],
    ]);
    expect(time.now()).toBe(START + 10_000);
  });

  it('fires sleeps started by woken code within the same advance (a loop that sleeps again)', async () => {
    const time = createFakeClock(START);
    const rounds: number[] = [];
    const stop = new AbortController();
    void (async () => {
      while (!stop.signal.aborted) {
        await time.sleep(1000, stop.signal);
        if (!stop.signal.aborted) rounds.push(time.now() - START);
      }
    })();
    await time.advance(5000);
    expect(rounds).toEqual([1000, 2000, 3000, 4000, 5000]);
    stop.abort();
    await time.advance(0);
    expect(time.pendingSleeps()).toEqual([]);
  });

  it('ends an aborted sleep at once without moving time, and a sleep on an aborted signal never waits', async () => {
    const time = createFakeClock(START);
    const stop = new AbortController();
    let woke = false;
    const sleeping = time.sleep(60_000, stop.signal).then(() => (woke = true));
    expect(time.pendingSleeps()).toEqual([60_000]);
    stop.abort();
    await sleeping;
    expect(woke).toBe(true);
    expect(time.now()).toBe(START);
    expect(time.pendingSleeps()).toEqual([]);
    await time.sleep(60_000, stop.signal);
    expect(time.pendingSleeps()).toEqual([]);
  });

  it('treats a negative wait as zero: due now, fired by the next advance', async () => {
    const time = createFakeClock(START);
    let woke = false;
    void time.sleep(-5).then(() => (woke = true));
    expect(time.pendingSleeps()).toEqual([0]);
    await time.advance(0);
    expect(woke).toBe(true);
  });
});

describe('fake clock: scheduler', () => {
  it('fires a cron job once at each matching whole second, interleaved with sleeps in time order', async () => {
    const time = createFakeClock(START);
    const events: string[] = [];
    time.scheduler.schedule('0 * * * * *', 'UTC', () => events.push(`tick ${(time.now() - START) / 1000}`), { name: 'tick' });
    void time.sleep(90_000).then(() => events.push(`sleep ${(time.now() - START) / 1000}`));
    // The start instant itself is not a firing: only instants after it are.
    await time.advance(180_000);
    expect(events).toEqual(['tick 60', 'sleep 90', 'tick 120', 'tick 180']);
    expect(time.job('tick').fired).toBe(3);
    // Advancing again from a firing instant does not fire it a second time.
    await time.advance(0);
    await time.advance(59_999);
    expect(time.job('tick').fired).toBe(3);
    await time.advance(1);
    expect(time.job('tick').fired).toBe(4);
  });

  it('matches in the job\'s timezone and tells its next run; a stopped job never fires', async () => {
    const time = createFakeClock(START);
    let fired = 0;
    // 09:00 in Shanghai (UTC+8) is 01:00 UTC.
    const job = time.scheduler.schedule('0 0 9 * * *', 'Asia/Shanghai', () => (fired += 1), { name: 'window' });
    expect(job.nextRun()?.toISOString()).toBe('2024-05-06T01:00:00.000Z');
    await time.advance(3_600_000 - 1);
    expect(fired).toBe(0);
    await time.advance(1);
    expect(fired).toBe(1);
    expect(job.nextRun()?.toISOString()).toBe('2024-05-07T01:00:00.000Z');
    await job.stop();
    await time.advance(2 * 86_400_000);
    expect(fired).toBe(1);
    expect(time.job('window')).toMatchObject({ fired: 1, stopped: true, timezone: 'Asia/Shanghai' });
  });

  it('advanceToNext goes to the nearest event and reports how far; with none it stays put', async () => {
    const time = createFakeClock(START);
    expect(await time.advanceToNext()).toBe(0);
    expect(time.now()).toBe(START);
    time.scheduler.schedule('30 * * * * *', 'UTC', () => {}, { name: 'half' });
    void time.sleep(10_000);
    expect(await time.advanceToNext()).toBe(10_000);
    expect(await time.advanceToNext()).toBe(20_000);
    expect(time.job('half').fired).toBe(1);
    expect(time.now()).toBe(START + 30_000);
  });

  it('names the jobs it has when asked for one it does not', () => {
    const time = createFakeClock(START);
    time.scheduler.schedule('* * * * * *', 'UTC', () => {}, { name: 'tick' });
    expect(() => time.job('window')).toThrow(/no cron job named window \(have: tick\)/);
  });
});
