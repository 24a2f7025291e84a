import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/temp-project.ts';

const run = promisify(execFile);
const MODULE = pathToFileURL(path.join(REPO_ROOT, 'dist/util/compile-cache.js')).href;
const NATIVE = Number(process.versions.node.split('.')[0]) >= 22;

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

/** A folder with node_modules/dep/index.js holding `source`, and a cache folder beside it. */
async function fixture(source: string): Promise<{ root: string; cache: string; dep: string }> {
  const root = await mkdtemp(path.join(tmpdir(), 'letterpress-cc-'));
  dirs.push(root);
  const dep = path.join(root, 'node_modules/dep/index.js');
  await mkdir(path.dirname(dep), { recursive: true });
  await writeFile(dep, source);
  return { root, cache: path.join(root, 'cache'), dep };
}

/** A fresh Node process: turns the cache on (in `cache`), requires dep, prints what it gave. */
async function requireDep(root: string, cache: string, env: Record<string, string> = {}): Promise<{ dir: string | null; value: unknown }> {
  const script = `
    const { enableCompileCache } = await import(${JSON.stringify(MODULE)});
    const dir = enableCompileCache(process.env) ?? null;
    const { createRequire } = await import('node:module');
    const value = await createRequire(${JSON.stringify(path.join(root, 'x.js'))})('dep');
    console.log(JSON.stringify({ dir, value: await value }));`;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
    env: { PATH: process.env.PATH, NODE_COMPILE_CACHE: cache, ...env },
  });
  return JSON.parse(stdout) as { dir: string | null; value: unknown };
}

async function cachedFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((file) => file.endsWith('.bin')).map((file) => path.join(dir, file));
}

describe.skipIf(NATIVE)('enableCompileCache on Node 20 (CommonJS under node_modules)', () => {
  it('writes the code of a first run and reuses it unchanged in the next', async () => {
    const { root, cache } = await fixture(`module.exports = { answer: [1, 2, 3].map((n) => n * 14).join(','), file: __filename.endsWith('index.js'), dirname: typeof __dirname, self: require.resolve('./index.js') === __filename };`);
    const first = await requireDep(root, cache);
    expect(first.value).toEqual({ answer: '14,28,42', file: true, dirname: 'string', self: true });
    const [written] = await cachedFiles(first.dir!);
    expect(written).toBeDefined();
    const before = await stat(written!);
    const second = await requireDep(root, cache);
    expect(second.value).toEqual(first.value);
    // A hit rewrites nothing; a file V8 had refused would have been written again.
    expect((await stat(written!)).mtimeMs).toBe(before.mtimeMs);
  });

  it('never runs the code of an earlier text of the same file, even of the same length', async () => {
    const { root, cache, dep } = await fixture(`module.exports = 'aaaa';`);
    expect((await requireDep(root, cache)).value).toBe('aaaa');
    await writeFile(dep, `module.exports = 'bbbb';`);
    expect((await requireDep(root, cache)).value).toBe('bbbb');
  });

  it('recompiles and rewrites a cached file that is damaged', async () => {
    const { root, cache } = await fixture(`module.exports = 40 + 2;`);
    const { dir } = await requireDep(root, cache);
    const [written] = await cachedFiles(dir!);
    await writeFile(written!, 'not V8 code');
    expect((await requireDep(root, cache)).value).toBe(42);
    expect((await readFile(written!, 'utf8')).includes('not V8 code')).toBe(false);
  });

  it('leaves a module that uses import() to Node, and it still imports', async () => {
    const { root, cache } = await fixture(`module.exports = import('node:path').then((p) => p.sep);`);
    const { dir, value } = await requireDep(root, cache);
    expect(value).toBe('/');
    expect(await cachedFiles(dir!)).toEqual([]);
  });

  it('is off with NODE_DISABLE_COMPILE_CACHE, and in a folder others may write to', async () => {
    const { root, cache } = await fixture(`module.exports = 1;`);
    expect((await requireDep(root, cache, { NODE_DISABLE_COMPILE_CACHE: '1' })).dir).toBeNull();
    const { dir } = await requireDep(root, cache);
    await chmod(dir!, 0o777);
    expect((await requireDep(root, cache)).dir).toBeNull();
  });
});
