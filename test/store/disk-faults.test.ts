import { spawnSync } from 'node:child_process';
import { chmod, copyFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { activeRows, createSendProject, subscriberCsv } from '../helpers/send-project.ts';
import { BIN } from '../helpers/daemon-child.ts';
import { runCli } from '../helpers/temp-project.ts';
import { canMountTmpfs, mountTmpfs } from '../helpers/tmpfs.ts';

/** A full disk and a read-only data/ are named as what they are, with the fix. */

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function sendProject(count: number) {
  const root = await createSendProject(activeRows(count));
  cleanups.push(() => rm(root, { recursive: true, force: true }));
  return root;
}

describe('store disk faults', () => {
  it.runIf(canMountTmpfs)('a full disk is reported as a full disk, naming the folder and the fix (E_DISK_FULL)', async () => {
    const root = await sendProject(3);
    const disk = await mountTmpfs('400k');
    cleanups.push(() => disk.unmount());
    await copyFile(path.join(root, 'data/letterpress.db'), path.join(disk.dir, 'letterpress.db'));
    const env = { LETTERPRESS_DB: path.join(disk.dir, 'letterpress.db') };
    const rows = Array.from({ length: 20_000 }, (_, i) => ({ email: `user${i}@example.org`, name: `A Fairly Long Name ${i}`, status: 'active' }));
    await writeFile(path.join(root, 'big.csv'), subscriberCsv(rows));
    const result = await runCli(['subscribers', 'import', 'big.csv'], root, env);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`the disk holding ${disk.dir} is full`);
    expect(result.stderr).toContain('free space on that disk');
    expect(result.stderr).toContain('[E_DISK_FULL]');
    expect(result.stderr).not.toContain('disk I/O error');
  }, 60_000);

  it('status works when data/ is read-only; a write names the read-only folder', async () => {
    const root = await sendProject(3);
    const data = path.join(root, 'data');
    let env: Record<string, string> = {};
    if (canMountTmpfs) {
      // Root ignores file modes: a read-only mount is the real thing.
      const disk = await mountTmpfs('1m');
      cleanups.push(() => disk.unmount());
      await copyFile(path.join(data, 'letterpress.db'), path.join(disk.dir, 'letterpress.db'));
      disk.remountReadOnly();
      env = { LETTERPRESS_DB: path.join(disk.dir, 'letterpress.db') };
    } else {
      await chmod(data, 0o555);
      cleanups.push(() => chmod(data, 0o755));
    }
    const status = await runCli(['status'], root, env);
    expect(status.stderr).toBe('');
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/^2024-18 {2}archived/m);
    const json = JSON.parse((await runCli(['subscribers', 'list', '--json'], root, env)).stdout) as unknown[];
    expect(json).toHaveLength(3);

    const add = await runCli(['subscribers', 'add', 'new@example.org'], root, env);
    expect(add.code).toBe(1);
    expect(add.stderr).toMatch(/is read-only for this user and this command writes to the store/);
    expect(add.stderr).not.toContain('restore');
  }, 60_000);

  // Root (the same condition as for mounting) can run the CLI as another user.
  it.runIf(canMountTmpfs)('status works for a user who may not write data/ (file modes, not a read-only mount)', async () => {
    const root = await sendProject(3);
    // mkdtemp makes the root private to its owner; the other user must be able to read it.
    await chmod(root, 0o755);
    const run = (args: string[]) => {
      const result = spawnSync('runuser', ['-u', 'nobody', '--', process.execPath, BIN, '--root', root, ...args], {
        env: { PATH: process.env.PATH ?? '', HOME: tmpdir() },
        encoding: 'utf8',
      });
      return { code: result.status, stdout: result.stdout, stderr: result.stderr };
    };
    const status = run(['status']);
    expect(status.stderr).toBe('');
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/^2024-18 {2}archived/m);
    const add = run(['subscribers', 'add', 'new@example.org']);
    expect(add.code).toBe(1);
    expect(add.stderr).toMatch(/data is read-only for this user and this command writes to the store/);
  }, 60_000);
});
