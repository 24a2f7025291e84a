import { describe, expect, it } from 'vitest';
import { hostname } from 'node:os';
import { writeDaemonStatus, type DaemonStatus } from '../../src/schedule/daemon-status.ts';
import { formatDaemonView } from '../../src/cli/format-status.ts';
import { createTempProject, runCli } from '../helpers/temp-project.ts';
import path from 'node:path';

const status = (overrides: Partial<DaemonStatus>): DaemonStatus => ({
  pid: process.pid,
  host: hostname(),
  state: 'running',
  startedAt: '2026-11-22T09:00:00.000Z',
  updatedAt: '2026-11-22T09:05:00.000Z',
  url: 'http://127.0.0.1:8080/',
  nextTick: '2026-11-22T09:06:00.000Z',
  nextWindow: '2026-11-23T01:00:00.000Z',
  scheduled: [{ slug: '2024-34', publishAt: '2026-11-24T01:00:00.000Z' }],
  waitingForWindow: ['2024-33'],
  lastPasses: [
    { reason: 'file', startedAt: '2026-11-22T09:04:00.000Z', finishedAt: '2026-11-22T09:04:01.000Z', published: ['2024-33'], errors: 1, sent: 0, failed: 0, deferred: 0 },
  ],
  ...overrides,
});

describe('letterpress status: the daemon view', () => {
  it('shows a running daemon with its schedule and last passes, in the configured timezone', () => {
    const lines = formatDaemonView({ ...status({}), alive: true }, { timezone: 'Asia/Shanghai' });
    expect(lines[0]).toBe(`daemon: running (pid ${process.pid} on ${hostname()}, since 2026-11-22 17:00:00), serving http://127.0.0.1:8080/`);
    expect(lines).toContain('  next send window: 2026-11-23 09:00:00');
    expect(lines).toContain('  scheduled: 2024-34 at 2026-11-24 09:00:00');
    expect(lines).toContain('  waiting for the send window: 2024-33');
    expect(lines.at(-1)).toBe('  pass (file) 2026-11-22 17:04:01: published 2024-33, 1 file error');
  });

  it('counts transport errors apart from file errors, and leaves out zeros', () => {
    const pass = { reason: 'tick' as const, startedAt: '2026-11-22T09:06:00.000Z', finishedAt: '2026-11-22T09:06:01.000Z', published: [], errors: 0, fileErrors: 0, transportErrors: 1, sent: 0, failed: 0, deferred: 0 };
    const idle = { ...pass, transportErrors: 0 };
    const lines = formatDaemonView({ ...status({ lastPasses: [pass, idle] }), alive: true }, { timezone: 'UTC' });
    expect(lines).toContain('  pass (tick) 2026-11-22 09:06:01: 1 send stopped by an SMTP session error');
    expect(lines).toContain('  pass (tick) 2026-11-22 09:06:01: nothing published or sent');
  });

  it('tells a daemon that died from one that stopped, and prints {issues, daemon} with --daemon', async () => {
    const root = await createTempProject();
    await runCli(['build'], root);
    // A pid that cannot exist on this host: the daemon was killed without saying so.
    await writeDaemonStatus(path.join(root, 'data'), status({ pid: 2 ** 22 + 7 }));
    const text = await runCli(['status'], root);
    expect(text.stdout).toContain('daemon: not running (last seen 2026-11-22 17:05:00, it did not stop cleanly)');
    const plain = JSON.parse((await runCli(['status', '--json'], root)).stdout) as unknown[];
    expect(Array.isArray(plain)).toBe(true);
    const withDaemon = JSON.parse((await runCli(['status', '--json', '--daemon'], root)).stdout) as {
      issues: unknown[];
      daemon: { alive: boolean; state: string };
    };
    expect(withDaemon.issues).toHaveLength(2);
    // `errors` stays for older readers; the latest pass had one broken file and no relay trouble.
    expect(withDaemon.daemon).toMatchObject({ alive: false, state: 'running', errors: 1, fileErrors: 1, transportErrors: 0 });
  });
});
