import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** True when this process may mount a tmpfs (root on Linux): the real way to fill a disk in a test. */
export const canMountTmpfs = process.platform === 'linux' && process.getuid?.() === 0;

/** A tiny tmpfs of `size` (e.g. `400k`) on a fresh folder; `remountReadOnly` and `unmount` clean it up. */
export async function mountTmpfs(size: string): Promise<{ dir: string; remountReadOnly(): void; unmount(): Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'letterpress-tmpfs-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
  return {
    dir,
    remountReadOnly: () => void execFileSync('mount', ['-o', 'remount,ro', dir]),
    async unmount() {
      // Lazy: a descriptor SQLite left open in this process must not fail the cleanup.
      execFileSync('umount', ['-l', dir]);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
