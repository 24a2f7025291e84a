/**
 * Postfix's `smtp-sink` and `smtp-source` for the send benchmarks: a sink on a free loopback
 * port that counts what it accepted, and the baseline sender timed as one whole process.
 * Both come from Debian's postfix package (in /usr/sbin; the daemon need not run).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { userInfo } from 'node:os';
import path from 'node:path';

/** smtp-sink and smtp-source live in /usr/sbin, often not on a normal user's PATH. */
export function postfixTool(name: string): string {
  for (const dir of ['/usr/sbin', '/usr/local/sbin', ...(process.env.PATH ?? '').split(':')]) {
    const file = path.join(dir, name);
    if (existsSync(file)) return file;
  }
  throw new Error(`${name} not found: install Debian's postfix package (see bench/README.md)`);
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export async function waitForListener(port: number, sink: ChildProcess): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (sink.exitCode !== null) throw new Error(`smtp-sink exited with code ${sink.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`smtp-sink did not listen on 127.0.0.1:${port}`);
}

/** Starts smtp-sink; `-c` counters let the bench read how many messages the sink accepted. */
export function startSink(port: number): { process: ChildProcess; messages: () => number } {
  // smtp-sink refuses to run as root without dropping privileges to a named user.
  const user = userInfo().username;
  const sink = spawn(postfixTool('smtp-sink'), ['-c', '-u', user, `127.0.0.1:${port}`, '1000'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let tail = '';
  let stderr = '';
  sink.stdout!.setEncoding('latin1').on('data', (chunk: string) => {
    tail = (tail + chunk).slice(-400);
  });
  sink.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  sink.once('exit', (code) => {
    if (code && stderr) process.stderr.write(`smtp-sink: ${stderr}`);
  });
  return {
    process: sink,
    messages: () => {
      const all = [...tail.matchAll(/mesg=(\d+)/g)];
      return all.length ? Number(all[all.length - 1]![1]) : 0;
    },
  };
}

/** Times one whole smtp-source process: M messages of `bytes` payload over `sessions` reused sessions. */
export async function runSmtpSource(port: number, messages: number, bytes: number, sessions: number): Promise<number> {
  const started = performance.now();
  const source = spawn(
    postfixTool('smtp-source'),
    ['-d', '-s', String(sessions), '-m', String(messages), '-l', String(bytes), '-f', 'newsletter@localhost', '-t', 'reader@example.org', `127.0.0.1:${port}`],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  source.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const code = await new Promise<number | null>((resolve) => source.once('exit', resolve));
  if (code !== 0) throw new Error(`smtp-source exited with ${code}: ${stderr}`);
  return performance.now() - started;
}
