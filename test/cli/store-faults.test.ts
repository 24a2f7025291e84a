import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { holdWriteLock } from '../helpers/store-locker.ts';
import { createTempProject, runCli } from '../helpers/temp-project.ts';

const ENV = { LETTERPRESS_SECRET: 'lost-store-secret-0123456789abcdefghij', LETTERPRESS_SERVER_PORT: '0' };
const roots: string[] = [];
afterEach(async () => {
  for (const root of roots.splice(0)) await rm(root, { recursive: true, force: true });
});

/** A project whose store was used (samples archived, one subscriber), then out/ removed. */
async function usedProject(): Promise<{ root: string; store: string }> {
  const root = await createTempProject();
  roots.push(root);
  expect((await runCli(['subscribers', 'add', 'reader@example.org'], root, ENV)).code).toBe(0);
  expect((await runCli(['build'], root, ENV)).code).toBe(0);
  await rm(path.join(root, 'out'), { recursive: true, force: true });
  return { root, store: path.join(root, 'data', 'letterpress.db') };
}

async function snapshot(dir: string): Promise<Record<string, { hash: string; mtimeMs: number }>> {
  const result: Record<string, { hash: string; mtimeMs: number }> = {};
  for (const name of (await readdir(dir)).sort()) {
    const file = path.join(dir, name);
    if (!(await stat(file)).isFile()) continue;
    result[name] = { hash: createHash('sha256').update(await readFile(file)).digest('hex'), mtimeMs: (await stat(file)).mtimeMs };
  }
  return result;
}

const DAMAGE: Record<string, (store: string) => Promise<void>> = {
  'a zero-length store file': (store) => writeFile(store, ''),
  'a truncated store file': async (store) => truncate(store, Math.floor((await stat(store)).size / 2)),
};

const COMMANDS = [['status'], ['status', '--json'], ['build'], ['send'], ['send', '2024-18'], ['subscribers', 'list'], ['start', '--once'], ['serve'], ['start', '--no-serve'], ['start']];

describe('a lost store', () => {
  for (const [shape, damage] of Object.entries(DAMAGE)) {
    it(`${shape}: every command refuses with E_STORE, leaves it as it was, archives and sends nothing`, async () => {
      const { root, store } = await usedProject();
      await damage(store);
      const data = path.join(root, 'data');
      const before = await snapshot(data);
      for (const args of COMMANDS) {
        const result = await runCli(args, root, ENV);
        expect(result.code, args.join(' ')).toBe(1);
        expect(result.stderr, args.join(' ')).toContain('[E_STORE]');
        expect(result.stderr, args.join(' ')).toContain(`restore ${store} from a backup; to start over on purpose: letterpress init --store`);
      }
      expect(await snapshot(data)).toEqual(before);
      expect(existsSync(path.join(root, 'out'))).toBe(false);
      expect(existsSync(path.join(data, 'outbox'))).toBe(false);
    }, 60_000);
  }
});

/** Runs the CLI with `lines` typed on a terminal (or piped, when `tty` is false). */
async function runTyped(args: string[], root: string, lines: string[], tty: boolean) {
  const stdin = Object.assign(new PassThrough(), { isTTY: tty });
  stdin.end(lines.map((line) => `${line}\n`).join(''));
  let stdout = '';
  let stderr = '';
  const code = await main(['node', 'letterpress', '--root', root, ...args], {
    stdout: { write: (text) => void (stdout += text) },
    stderr: { write: (text) => void (stderr += text) },
    env: ENV,
    cwd: root,
    stdin,
  });
  return { code, stdout, stderr };
}

describe('letterpress init --store', () => {
  it('asks before moving a bad store aside, then creates a new one that works', async () => {
    const { root, store } = await usedProject();
    await writeFile(store, '');

    const piped = await runTyped(['init', '--store'], root, [], false);
    expect(piped.code).toBe(1);
    expect(piped.stderr).toContain('pass --yes');
    const declined = await runTyped(['init', '--store'], root, ['n'], true);
    expect(declined.code).toBe(1);
    expect(declined.stdout).toMatch(/is not a usable store: the file is empty \(0 bytes\)\. Move it to data\/letterpress\.db\.broken-\S+ and create a new, empty store\? \[y\/N\]/);
    expect((await stat(store)).size).toBe(0);

    const accepted = await runTyped(['init', '--store'], root, ['y'], true);
    expect(accepted.code, accepted.stderr).toBe(0);
    expect(accepted.stdout).toContain('Created a new, empty store at data/letterpress.db.');
    const names = await readdir(path.join(root, 'data'));
    const moved = names.filter((name) => name.startsWith('letterpress.db.broken-'));
    expect(moved).toHaveLength(1);
    expect((await stat(path.join(root, 'data', moved[0]!))).size).toBe(0);

    const status = await runCli(['subscribers', 'list', '--json'], root, ENV);
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toEqual([]);
  }, 60_000);

  it('with --yes moves a truncated store aside with its -wal and -shm files', async () => {
    const { root, store } = await usedProject();
    await truncate(store, 4096);
    await writeFile(`${store}-wal`, 'stale');
    const result = await runCli(['init', '--store', '--yes'], root, ENV);
    expect(result.code, result.stderr).toBe(0);
    const names = await readdir(path.join(root, 'data'));
    expect(names.filter((name) => /^letterpress\.db\.broken-[\dTZ-]+(-wal)?$/.test(name))).toHaveLength(2);
    expect(await readFile(`${store}-wal`, 'utf8').catch(() => 'gone')).not.toBe('stale');
    expect((await runCli(['status'], root, ENV)).code).toBe(0);
  }, 60_000);

  it('never replaces a working store without --force', async () => {
    const { root, store } = await usedProject();
    const before = await readFile(store);
    const refused = await runCli(['init', '--store', '--yes'], root, ENV);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('is a working Letterpress store with 1 subscriber; nothing was changed');
    expect((await readFile(store)).equals(before)).toBe(true);

    const forced = await runCli(['init', '--store', '--force'], root, ENV);
    expect(forced.code, forced.stderr).toBe(0);
    expect((await readdir(path.join(root, 'data'))).some((name) => name.startsWith('letterpress.db.replaced-'))).toBe(true);
    const list = await runCli(['subscribers', 'list', '--json'], root, ENV);
    expect(JSON.parse(list.stdout)).toEqual([]);
  }, 60_000);

  it('creates a store where there is none', async () => {
    const root = await createTempProject({ samples: false });
    roots.push(root);
    const result = await runCli(['init', '--store'], root, ENV);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('Created a new, empty store at data/letterpress.db.');
    expect(await readdir(path.join(root, 'data'))).toEqual(['letterpress.db']);
  });
});

describe('a store locked by another process', () => {
  it('makes a command give up after store.lockWaitMs with E_STORE_BUSY, exit 75 (try again), having changed nothing', async () => {
    const { root, store } = await usedProject();
    const lock = await holdWriteLock(store);
    try {
      const result = await runCli(['subscribers', 'add', 'late@example.org'], root, { ...ENV, LETTERPRESS_STORE_LOCKWAITMS: '200' });
      expect(result.code).toBe(75);
      expect(result.stderr).toContain('the database stayed locked by another process for 200 ms; try again in a moment [E_STORE_BUSY]');
    } finally {
      await lock.release();
    }
    const list = await runCli(['subscribers', 'list', '--json'], root, ENV);
    expect((JSON.parse(list.stdout) as { email: string }[]).map((row) => row.email)).toEqual(['reader@example.org']);
  }, 60_000);
});
