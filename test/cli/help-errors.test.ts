import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { ERROR_CODES, formatErrorCodes } from '../../src/util/error-codes.ts';
import { BIN } from '../helpers/daemon-child.ts';
import { runInPty } from '../helpers/pty.ts';

const run = promisify(execFile);
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

/** An empty directory: no project at or above it. */
async function emptyDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'letterpress-noproject-'));
  dirs.push(dir);
  return dir;
}

/** Runs the CLI in-process in `cwd` without --root. */
async function cli(args: string[], cwd: string) {
  let stdout = '';
  let stderr = '';
  const code = await main(['node', 'letterpress', ...args], {
    stdout: { write: (text) => void (stdout += text) },
    stderr: { write: (text) => void (stderr += text) },
    env: {},
    cwd,
  });
  return { code, stdout, stderr };
}

describe('letterpress help errors', () => {
  it('prints every code with its exit status and what to do, outside any project, creating nothing', async () => {
    const dir = await emptyDir();
    const result = await cli(['help', 'errors'], dir);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe(formatErrorCodes());
    expect(result.stdout).toMatch(/^\s+75\s+temporary \(relay down, store busy: retry later\)$/m);
    expect(result.stdout).toMatch(/^\s+E_STORE_BUSY\s+75\s+the store is locked by another process$/m);
    for (const code of Object.keys(ERROR_CODES)) expect(result.stdout).toContain(code);
    expect(result.stdout).toContain('W_UNSAFE_LINK');
    expect(await readdir(dir)).toEqual([]);
  });

  it('keeps `help <command>` working, and refuses an unknown topic as a usage error', async () => {
    const dir = await emptyDir();
    const sub = await cli(['help', 'subscribers', 'import'], dir);
    expect(sub.code).toBe(0);
    expect(sub.stdout).toContain('Usage: letterpress subscribers import');
    const top = await cli(['help'], dir);
    expect(top.code).toBe(0);
    expect(top.stdout).toContain('Usage: letterpress');
    expect(top.stdout).toMatch(/help \[options\] \[command\.\.\.\]/);
    const unknown = await cli(['help', 'nope'], dir);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no command "nope"');
    expect(unknown.stderr).toContain('[E_USAGE]');
  });

  it('reads the same from the installed bin on a pipe and on a terminal', async () => {
    const dir = await emptyDir();
    const piped = await run(process.execPath, [BIN, 'help', 'errors'], { cwd: dir });
    expect(piped.stdout).toBe(formatErrorCodes());
    const terminal = runInPty(['help', 'errors'], { cwd: dir, env: {} });
    expect(await terminal.exited).toBe(0);
    expect(terminal.plain()).toContain('E_SMTP_CONNECT');
    expect(terminal.plain()).toContain('→ check smtp.host and smtp.port');
  });
});
