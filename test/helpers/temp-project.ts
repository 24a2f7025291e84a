import { cp, mkdir, mkdtemp, readdir, readFile, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { main } from '../../src/cli/main.ts';

/** The repository root, where the shipped config, templates and sample issues live. */
export const REPO_ROOT = path.resolve(import.meta.dirname, '../..');
export const SHARED_DIR = path.resolve(REPO_ROOT, '../shared');

/**
 * The sample issues the repository ships in issues/, by name: an editor trying the README in a
 * clone drops issues of their own there, and the tests must not pick those up.
 */
export const SAMPLE_ISSUES = ['2024-18.md', '2024-32.md'] as const;

/**
 * A fresh project root in a temp dir with the shipped config, templates and (optionally)
 * sample issues, so each test works on its own copy and never touches the repository.
 */
export async function createTempProject(options: { samples?: boolean; allowLocalAddresses?: boolean } = {}): Promise<string> {
  const root = await mkdtemp(path.join(tmpdir(), 'letterpress-test-'));
  await cp(path.join(REPO_ROOT, 'config'), path.join(root, 'config'), { recursive: true });
  if (options.allowLocalAddresses) {
    // Tests that send through an SMTP server on loopback, with the shipped config's loopback
    // links and From: the preflight would rightly refuse that as a send to real readers.
    const file = path.join(root, 'config', 'letterpress.json');
    const config = JSON.parse(await readFile(file, 'utf8')) as { delivery?: Record<string, unknown> };
    config.delivery = { ...config.delivery, allowLocalAddresses: true };
    await writeFile(file, `${JSON.stringify(config, null, 2)}\n`);
  }
  await cp(path.join(REPO_ROOT, 'templates'), path.join(root, 'templates'), { recursive: true });
  await mkdir(path.join(root, 'issues'));
  if (options.samples ?? true) {
    // Like a fresh clone, where both samples carry one commit date: undated issues then
    // order by issue number, whatever order the copy happened in.
    const sameTime = new Date('2024-08-05T00:00:00Z');
    for (const name of SAMPLE_ISSUES) {
      await cp(path.join(REPO_ROOT, 'issues', name), path.join(root, 'issues', name));
      await utimes(path.join(root, 'issues', name), sameTime, sameTime);
    }
  }
  return root;
}

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI in-process against `root`, capturing its output. */
export async function runCli(
  args: string[],
  root: string,
  env: Record<string, string | undefined> = {},
): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const code = await main(['node', 'letterpress', '--root', root, ...args], {
    stdout: { write: (text) => void (stdout += text) },
    stderr: { write: (text) => void (stderr += text) },
    env,
    cwd: root,
  });
  return { code, stdout, stderr };
}

/** Every file under `dir` with the SHA-256 of its bytes, for byte-for-byte comparisons. */
export async function hashTree(dir: string): Promise<Record<string, string>> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const hashes: Record<string, string> = {};
  for (const entry of entries.filter((e) => e.isFile()).sort((a, b) => a.name.localeCompare(b.name))) {
    const file = path.join(entry.parentPath, entry.name);
    hashes[path.relative(dir, file)] = createHash('sha256').update(await readFile(file)).digest('hex');
  }
  return Object.fromEntries(Object.entries(hashes).sort(([a], [b]) => (a < b ? -1 : 1)));
}
