import { describe, expect, it } from 'vitest';
import type { DaemonStatus } from '../../src/schedule/daemon-status.ts';
import { describePortInUse } from '../../src/cli/server-commands.ts';

const daemon = (url: string): DaemonStatus & { alive: boolean } => ({
  pid: 4242,
  host: 'here',
  state: 'running',
  startedAt: '2026-12-01T01:00:00.000Z',
  updatedAt: '2026-12-01T01:00:00.000Z',
  url,
  scheduled: [],
  waitingForWindow: [],
  lastPasses: [],
  alive: true,
});

describe('the port-in-use message', () => {
  it('names our own daemon when it is the one serving that port', () => {
    const text = describePortInUse({ port: 8080, command: 'start', daemon: daemon('http://127.0.0.1:8080/'), timezone: 'UTC' });
    expect(text).toContain('Letterpress daemon already running here (pid 4242');
    expect(text).toContain('kill 4242');
    expect(text).toContain('npm start -- --port 8081');
  });

  it('blames another program when our daemon serves a different port', () => {
    const text = describePortInUse({ port: 45080, command: 'start', daemon: daemon('http://127.0.0.1:8080/'), timezone: 'UTC' });
    expect(text).toContain('in use by another program');
    expect(text).not.toContain('kill 4242');
    expect(text).toContain('npm start -- --port 45081');
  });

  it('blames another program when no daemon runs', () => {
    const text = describePortInUse({ port: 8080, command: 'serve', daemon: undefined, timezone: 'UTC' });
    expect(text).toContain('in use by another program');
    expect(text).toContain('letterpress serve --port 8081');
    expect(text).not.toContain('npm start');
  });
});
