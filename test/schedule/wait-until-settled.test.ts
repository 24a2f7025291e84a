import { appendFile, mkdtemp, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { waitUntilSettled } from '../../src/schedule/wait-until-settled.ts';
import { createFakeClock, type FakeClock } from '../helpers/fake-clock.ts';

/**
 * The settle wait on a fake clock: the test plays the writer between the waits (one step of
 * the copy per wait) and counts what happened, instead of racing a real writer.
 */

/** Runs `wait` to its end, moving fake time to each of its sleeps in turn; `between` runs before each step. */
async function drive<T>(time: FakeClock, wait: Promise<T>, between: (step: number) => Promise<void> = async () => {}): Promise<{ value: T; steps: number }> {
  let done = false;
  let value: T;
  void wait.then((result) => {
    done = true;
    value = result;
  });
  let steps = 0;
  for (;;) {
    await new Promise((resolve) => setImmediate(resolve));
    if (done) return { value: value!, steps };
    if (time.pendingSleeps().length === 0) {
      // The wait is between file system calls: give it real turns of the event loop.
      await new Promise((resolve) => setTimeout(resolve, 1));
      continue;
    }
    await between(steps);
    steps += 1;
    await time.advanceToNext();
  }
}

async function tempFile(name: string, text: string): Promise<{ dir: string; file: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'letterpress-settle-'));
  const file = path.join(dir, name);
  await writeFile(file, text);
  return { dir, file };
}

describe('waitUntilSettled', () => {
  it('returns after one short look when nothing changed lately', async () => {
    const time = createFakeClock();
    const { dir, file } = await tempFile('a.md', '# A\n');
    const old = new Date(time.now() - 60_000);
    await utimes(file, old, old);
    const started = time.now();
    const { value, steps } = await drive(time, waitUntilSettled({ dir, settleMs: 300, maxWaitMs: 5000, now: () => time.now(), sleep: time.sleep }));
    expect(value).toBe(true);
    expect(steps).toBe(1);
    expect(time.now() - started).toBe(250);
  });

  it('waits while a file keeps growing, even if its mtime is set back each time', async () => {
    const time = createFakeClock();
    const { dir, file } = await tempFile('copy.md', '# Copy\n');
    const old = new Date(time.now() - 60_000);
    await utimes(file, old, old);
    let writes = 0;
    // Like a copy that preserves the original mtime: it grows during each of the first six waits.
    const { value, steps } = await drive(time, waitUntilSettled({ dir, settleMs: 300, maxWaitMs: 5000, now: () => time.now(), sleep: time.sleep }), async () => {
      if (writes >= 6) return;
      writes += 1;
      await appendFile(file, 'more text\n');
      await utimes(file, old, old);
    });
    expect(value).toBe(true);
    expect(writes).toBe(6);
    // Six looks that saw it grow, then one that saw it hold still.
    expect(steps).toBe(7);
  });

  it('gives up after the longest wait when a file never holds still', async () => {
    const time = createFakeClock();
    const { dir, file } = await tempFile('busy.md', '# Busy\n');
    const started = time.now();
    const { value } = await drive(time, waitUntilSettled({ dir, settleMs: 300, maxWaitMs: 800, now: () => time.now(), sleep: time.sleep }), async () => {
      await appendFile(file, 'x\n');
      const now = new Date(time.now());
      await utimes(file, now, now);
    });
    expect(value).toBe(false);
    expect(time.now() - started).toBeGreaterThanOrEqual(800);
  });
});
