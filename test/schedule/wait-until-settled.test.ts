import { appendFile, mkdtemp, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { waitUntilSettled } from '../../src/schedule/wait-until-settled.ts';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe('waitUntilSettled', () => {
  it('returns at once when nothing changed lately', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'letterpress-settle-'));
    const file = path.join(dir, 'a.md');
    await writeFile(file, '# A\n');
    const old = new Date(Date.now() - 60_000);
    await utimes(file, old, old);
    const started = Date.now();
    expect(await waitUntilSettled({ dir, settleMs: 300, maxWaitMs: 5000, now: Date.now, sleep })).toBe(true);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('waits while a file keeps growing, even if its mtime is set back each time', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'letterpress-settle-'));
    const file = path.join(dir, 'copy.md');
    await writeFile(file, '# Copy\n');
    const old = new Date(Date.now() - 60_000);
    let writes = 0;
    // Like a copy that preserves the original mtime: it grows, and the mtime looks old.
    const writer = (async () => {
      for (; writes < 6; writes += 1) {
        await appendFile(file, 'more text\n');
        await utimes(file, old, old);
        await sleep(100);
      }
    })();
    await sleep(20);
    expect(await waitUntilSettled({ dir, settleMs: 300, maxWaitMs: 5000, now: Date.now, sleep })).toBe(true);
    expect(writes).toBe(6);
    await writer;
  });

  it('gives up after the longest wait when a file never holds still', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'letterpress-settle-'));
    const file = path.join(dir, 'busy.md');
    await writeFile(file, '# Busy\n');
    let stop = false;
    const writer = (async () => {
      while (!stop) {
        await appendFile(file, 'x\n');
        await sleep(50);
      }
    })();
    expect(await waitUntilSettled({ dir, settleMs: 300, maxWaitMs: 800, now: Date.now, sleep })).toBe(false);
    stop = true;
    await writer;
  });
});
