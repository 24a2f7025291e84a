import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createTempProject, runCli } from '../helpers/temp-project.ts';
import { canMountTmpfs, mountTmpfs } from '../helpers/tmpfs.ts';

/** The site writer and the build state on a full disk: the build fails, no temporary file stays. */

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function allFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => entry.name);
}

describe('build on a full disk', () => {
  it.runIf(canMountTmpfs)('out/ on a full tmpfs: the build fails and leaves no *.tmp files', async () => {
    const root = await createTempProject();
    cleanups.push(() => rm(root, { recursive: true, force: true }));
    const disk = await mountTmpfs('48k');
    cleanups.push(() => disk.unmount());
    const result = await runCli(['build'], root, { LETTERPRESS_PATHS_OUT: disk.dir });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`cannot write ${disk.dir}/.*: the disk holding ${disk.dir}.* is full`));
    expect(result.stderr).toContain('[E_DISK_FULL]');
    expect(result.stderr).not.toContain('unexpected error');
    expect((await allFiles(disk.dir)).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  }, 60_000);

  it.runIf(canMountTmpfs)('data/ on a full tmpfs: the build state write leaves no *.tmp files', async () => {
    const root = await createTempProject();
    cleanups.push(() => rm(root, { recursive: true, force: true }));
    const disk = await mountTmpfs('8k');
    cleanups.push(() => disk.unmount());
    const env = { LETTERPRESS_PATHS_DATA: disk.dir, LETTERPRESS_DB: path.join(root, 'letterpress.db') };
    const result = await runCli(['build'], root, env);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${disk.dir} is full`);
    expect((await allFiles(disk.dir)).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  }, 60_000);
});
