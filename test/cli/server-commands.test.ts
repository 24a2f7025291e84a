import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { sendHalfRequest } from '../helpers/half-sent-request.ts';
import { createTempProject, REPO_ROOT, runCli } from '../helpers/temp-project.ts';

const roots: string[] = [];
afterEach(async () => {
  for (const root of roots.splice(0)) await rm(root, { recursive: true, force: true });
});

describe('letterpress serve', () => {
  it('prints its URL, answers, and closes cleanly on SIGTERM', async () => {
    const root = await createTempProject();
    roots.push(root);
    expect((await runCli(['build'], root, { LETTERPRESS_SECRET: 'cli-serve-secret-0123456789abcdefghijk' })).code).toBe(0);
    const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin/letterpress.js'), '--root', root, 'serve', '--port', '0', '--host', '127.0.0.1'], {
      env: { ...process.env, LETTERPRESS_SECRET: 'cli-serve-secret-0123456789abcdefghijk', LETTERPRESS_SITE_URL: 'http://news.example.org' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        const match = /at (http:\/\/127\.0\.0\.1:\d+)\//.exec(stdout);
        if (match) resolve(match[1]!);
      });
      child.on('exit', () => reject(new Error(`serve exited early: ${stderr}`)));
    });
    const health = await fetch(`${url}/healthz`);
    expect(await health.json()).toEqual({ ok: true });
    const unsubscribe = await fetch(`${url}/unsubscribe?token=v1.secret.unsub.1.0.x`);
    expect(unsubscribe.status).toBe(400);
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stdout).toContain('Stopped.');
    // The http:// public URL outside loopback is warned about; tokens never reach the log.
    expect(stderr).toMatch(/warning: site\.url is http:\/\/news\.example\.org: .* must use https/);
    expect(stderr).toContain('/unsubscribe?…');
    expect(stderr).not.toContain('v1.secret');
  });

  it('exits 0 within server.shutdownTimeoutSeconds after SIGTERM while a client holds a half-sent request', async () => {
    const root = await createTempProject();
    roots.push(root);
    const env = { LETTERPRESS_SECRET: 'cli-serve-secret-0123456789abcdefghijk', LETTERPRESS_SERVER_SHUTDOWNTIMEOUTSECONDS: '1', LETTERPRESS_SERVER_REQUESTTIMEOUTMS: '600000' };
    expect((await runCli(['build'], root, env)).code).toBe(0);
    const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin/letterpress.js'), '--root', root, 'serve', '--port', '0'], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        const match = /at (http:\/\/127\.0\.0\.1:\d+)\//.exec(stdout);
        if (match) resolve(match[1]!);
      });
      child.on('exit', () => reject(new Error('serve exited early')));
    });
    const { socket, closed } = await sendHalfRequest(url);
    try {
      const signalledAt = Date.now();
      child.kill('SIGTERM');
      // The request timeout (600 s here) is far off: only the 1 s shutdown timeouts end this.
      // The bound is generous (a loaded machine may take many times the second or two this
      // needs) and still far under the request timeout.
      expect(await exited).toBe(0);
      expect(Date.now() - signalledAt).toBeLessThan(60_000);
      // Ended by the shutdown (cut, or a 503 while closing), never by the request timeout's 408.
      expect(await closed).not.toMatch(/^HTTP\/1\.1 408/);
      expect(stdout).toContain('up to 1 s to finish');
      expect(stdout).toContain('Stopped.');
    } finally {
      socket.destroy();
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 120_000);

  it('refuses a bad --port', async () => {
    const root = await createTempProject({ samples: false });
    roots.push(root);
    const result = await runCli(['serve', '--port', 'http'], root);
    // A usage error (E_USAGE): exit status 2, as the table of error codes says.
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--port "http": use a port number from 0 to 65535');
  });
});

describe('letterpress secret rotate', () => {
  it('adds a key and says so', async () => {
    const root = await createTempProject({ samples: false });
    roots.push(root);
    const first = await runCli(['secret', 'rotate'], root);
    const second = await runCli(['secret', 'rotate'], root);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/Added signing key (k[0-9a-f]{8})/);
    expect(second.stdout.match(/key (k[0-9a-f]{8})/)![1]).not.toBe(first.stdout.match(/key (k[0-9a-f]{8})/)![1]);
  });
});
