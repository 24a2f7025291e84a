import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { BIN, childEnv } from '../helpers/daemon-child.ts';
import { activeRows, createSendProject, issueStatus, SLUG } from '../helpers/send-project.ts';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.ts';

/**
 * A reader that goes away (`| head -1`, a dead log shipper) makes every later write fail with
 * EPIPE. That must never change what a command does to the store: it finishes quietly.
 */

const roots: string[] = [];
let sink: SmtpSink | undefined;
afterEach(async () => {
  await sink?.close();
  sink = undefined;
  await Promise.all(roots.splice(0).map((root) => rm(root, { recursive: true, force: true })));
});

/** Runs the CLI with stdout and stderr pipes whose reading ends are closed at once. */
function runWithClosedPipes(args: string[], root: string, env: Record<string, string>): Promise<number | null> {
  const child = spawn(process.execPath, [BIN, '--root', root, ...args], { cwd: root, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.destroy();
  child.stderr!.destroy();
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

/** Runs `sh -c SCRIPT` and returns its exit code and stderr. */
function runShell(script: string, root: string, env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn('sh', ['-c', script], { cwd: root, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => void (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => void (stderr += chunk.toString()));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

describe('a closed output pipe', () => {
  it('send with stdout and stderr closed still sends every row and exits 0', async () => {
    sink = await startSmtpSink();
    const env = { LETTERPRESS_SMTP_URL: sink.url };
    const root = await createSendProject(activeRows(40), env);
    roots.push(root);
    const code = await runWithClosedPipes(['send', SLUG], root, env);
    expect(code).toBe(0);
    const status = await issueStatus(root);
    expect(status.counts.sent).toBe(40);
    expect(status.counts.queued + status.counts.sending).toBe(0);
    expect(sink.messages).toHaveLength(40);
  }, 60_000);

  it('build | head -1 prints one line and no EPIPE stack trace', async () => {
    const root = await createSendProject([]);
    roots.push(root);
    const quoted = [process.execPath, BIN].map((part) => `'${part}'`).join(' ');
    const piped = await runShell(`${quoted} build | head -1`, root, {});
    expect(piped.stdout.trim().split('\n')).toHaveLength(1);
    expect(piped.stderr).toBe('');
  }, 60_000);
});
