import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OutsideFolderError, resolveInside, resolveInsideSync } from '../../src/util/resolve-inside.ts';

let base: string;
let dir: string;
beforeAll(async () => {
  base = await mkdtemp(path.join(tmpdir(), 'letterpress-inside-'));
  dir = path.join(base, 'issues');
  await mkdir(path.join(dir, 'sub'), { recursive: true });
  await writeFile(path.join(dir, 'a.md'), '# A\n');
  await writeFile(path.join(base, 'secret.txt'), 'secret');
  await symlink('a.md', path.join(dir, 'inside.md'));
  await symlink('/etc/passwd', path.join(dir, 'passwd.md'));
  await symlink('../secret.txt', path.join(dir, 'up.md'));
  await symlink(base, path.join(dir, 'sub', 'escape'));
});
afterAll(() => rm(base, { recursive: true, force: true }));

describe('resolveInside', () => {
  it('follows files and links that stay inside the folder', async () => {
    expect(await resolveInside(dir, 'a.md')).toBe(path.join(dir, 'a.md'));
    expect(await resolveInside(dir, 'inside.md')).toBe(path.join(dir, 'a.md'));
    expect(resolveInsideSync(dir, path.join(dir, 'inside.md'))).toBe(path.join(dir, 'a.md'));
  });

  it('refuses a symlink out of the folder, naming where it leads', async () => {
    await expect(resolveInside(dir, 'passwd.md', { root: base })).rejects.toThrow(
      'passwd.md is a symlink to /etc/passwd, outside issues/: refused',
    );
    expect(() => resolveInsideSync(dir, 'up.md', { root: base })).toThrow(OutsideFolderError);
    await expect(resolveInside(dir, 'up.md')).rejects.toMatchObject({ code: 'E_OUTSIDE', target: path.join(base, 'secret.txt') });
  });

  it('refuses `..` and symlinked folders on the way', async () => {
    await expect(resolveInside(dir, '../secret.txt')).rejects.toThrow(OutsideFolderError);
    await expect(resolveInside(dir, 'sub/escape/secret.txt')).rejects.toThrow(/resolves \(through a symlinked folder\) to .*secret\.txt/);
  });

  it('lets a missing file fail as missing', async () => {
    await expect(resolveInside(dir, 'nope.md')).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
