import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { createTempProject, REPO_ROOT } from '../helpers/temp-project.ts';

const run = promisify(execFile);
const BIN = path.join(REPO_ROOT, 'bin/letterpress.js');
const RECORDER = path.join(REPO_ROOT, 'test/helpers/record-module-loads.mjs');

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

/** Runs the built CLI with `args` and returns the URL of every module it resolved. */
async function modulesLoadedBy(args: string[], root?: string): Promise<string[]> {
  const logDir = await mkdtemp(path.join(tmpdir(), 'letterpress-loads-'));
  dirs.push(logDir);
  const log = path.join(logDir, 'loads.txt');
  // Through NODE_OPTIONS, so the parser's worker process records what it loads too.
  const nodeOptions = [process.env.NODE_OPTIONS, `--import=${JSON.stringify(RECORDER)}`].filter(Boolean).join(' ');
  await run(process.execPath, [BIN, ...(root ? ['--root', root] : []), ...args], {
    env: { ...process.env, NODE_OPTIONS: nodeOptions, LETTERPRESS_TEST_LOAD_LOG: log },
  });
  const urls = (await readFile(log, 'utf8')).split('\n').filter(Boolean);
  // Guards against a recorder that records nothing, which would pass every "not loaded" check.
  expect(urls.some((url) => url.endsWith('/dist/cli/main.js'))).toBe(true);
  return urls;
}

/** Runs the built CLI with `args` and returns the packages it loaded (by their folder in node_modules, or their bundle). */
async function packagesLoadedBy(args: string[], root?: string): Promise<Set<string>> {
  const urls = await modulesLoadedBy(args, root);
  const packages = new Set<string>();
  for (const url of urls) {
    // A dependency the build bundled is loaded as dist/vendor/<package>.js.
    const match = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url) ?? /\/dist\/vendor\/([^/]+)\.js$/.exec(url);
    if (match) packages.add(match[1]!);
  }
  return packages;
}

describe('each command loads only what it uses', () => {
  it('--version loads no dependency but commander', async () => {
    expect([...(await packagesLoadedBy(['--version']))]).toEqual(['commander']);
  });

  it('status loads neither MJML nor fastify (nor the renderer or nodemailer)', async () => {
    const root = await createTempProject();
    dirs.push(root);
    const loaded = await packagesLoadedBy(['status'], root);
    expect(loaded.has('better-sqlite3')).toBe(true);
    for (const heavy of ['mjml', 'fastify', '@fastify/static', 'handlebars', 'markdown-it', 'nodemailer', 'pino']) {
      expect(loaded.has(heavy), heavy).toBe(false);
    }
  });

  it('send loads no HTTP server', async () => {
    const root = await createTempProject();
    dirs.push(root);
    const loaded = await packagesLoadedBy(['send', '--no-build'], root);
    for (const heavy of ['fastify', '@fastify/static', 'pino']) expect(loaded.has(heavy), heavy).toBe(false);
  });

  it('check on small issue files starts no parser worker (a worker would load its own copy of MJML)', async () => {
    const root = await createTempProject();
    dirs.push(root);
    const urls = await modulesLoadedBy(['check'], root);
    expect(urls.some((url) => url.endsWith('/dist/project/check-issues.js'))).toBe(true);
    expect(urls.filter((url) => url.includes('issue-parser-worker'))).toEqual([]);
  });

  it('build parses small files itself and a big one in the worker process (the recorder sees it)', async () => {
    const root = await createTempProject();
    dirs.push(root);
    const small = await modulesLoadedBy(['build'], root);
    expect(small.filter((url) => url.includes('issue-parser-worker'))).toEqual([]);
    // Past the in-process limit (16 KiB): parsed where it can be stopped at the budget.
    const sample = await readFile(path.join(root, 'issues/2024-18.md'), 'utf8');
    await writeFile(path.join(root, 'issues/2024-19.md'), `${sample.replace('2024-05-06', '2024-05-13')}\n\n${'A long paragraph. '.repeat(1200)}\n`);
    const big = await modulesLoadedBy(['build'], root);
    expect(big.some((url) => url.endsWith('/dist/project/issue-parser-worker.js'))).toBe(true);
  });
});
