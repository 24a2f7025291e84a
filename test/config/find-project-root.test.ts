import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { findProjectRoot } from '../../src/config/find-project-root.ts';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'letterpress-find-'));
  dirs.push(dir);
  return dir;
}
async function project(): Promise<string> {
  const root = await tempDir();
  await mkdir(path.join(root, 'config'));
  await writeFile(path.join(root, 'config/letterpress.json'), '{}\n');
  return root;
}

describe('findProjectRoot', () => {
  it('walks up from the working directory to the nearest config/letterpress.json', async () => {
    const root = await project();
    const deep = path.join(root, 'issues/2024/drafts');
    await mkdir(deep, { recursive: true });
    expect(await findProjectRoot({ cwd: deep })).toBe(root);
    expect(await findProjectRoot({ cwd: root })).toBe(root);
  });

  it('takes the nearest project when projects are nested', async () => {
    const outer = await project();
    const inner = path.join(outer, 'sites/other');
    await mkdir(path.join(inner, 'config'), { recursive: true });
    await writeFile(path.join(inner, 'config/letterpress.json'), '{}\n');
    await mkdir(path.join(inner, 'issues'));
    expect(await findProjectRoot({ cwd: path.join(inner, 'issues') })).toBe(inner);
  });

  it('outside a project: E_NO_PROJECT naming the directory, and nothing is created', async () => {
    const empty = await tempDir();
    await expect(findProjectRoot({ cwd: empty })).rejects.toMatchObject({
      code: 'E_NO_PROJECT',
      message: `not a Letterpress project (no config/letterpress.json here or in any parent directory of ${empty}): run \`letterpress init\` or pass --root`,
    });
    expect(await readdir(empty)).toEqual([]);
  });

  it('--root wins over the search, relative to the working directory, and must hold the config', async () => {
    const root = await project();
    const elsewhere = await tempDir();
    expect(await findProjectRoot({ cwd: elsewhere, root })).toBe(root);
    expect(await findProjectRoot({ cwd: path.dirname(root), root: path.basename(root) })).toBe(root);
    // A --root without a config is the same error, even inside another project.
    await mkdir(path.join(root, 'issues'));
    await expect(findProjectRoot({ cwd: root, root: 'issues' })).rejects.toMatchObject({
      code: 'E_NO_PROJECT',
      message: expect.stringContaining(`no config/letterpress.json in --root ${path.join(root, 'issues')}`),
    });
  });

  it('a config/letterpress.json that is a folder does not make a project', async () => {
    const dir = await tempDir();
    await mkdir(path.join(dir, 'config/letterpress.json'), { recursive: true });
    await expect(findProjectRoot({ cwd: dir })).rejects.toMatchObject({ code: 'E_NO_PROJECT' });
  });
});
