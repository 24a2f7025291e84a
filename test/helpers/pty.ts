import { spawn, type ChildProcess } from 'node:child_process';
import { BIN, childEnv } from './daemon-child.ts';

/** A CLI run on a pseudo-terminal, as a person at a terminal sees it. */
export interface PtyRun {
  child: ChildProcess;
  /** Everything the terminal showed so far (`\r\n` turned into `\n`, colours kept). */
  output(): string;
  /** The output with ANSI colour codes removed. */
  plain(): string;
  /** Resolves with the plain output once `pattern` shows, or rejects after `timeoutMs`. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Types Ctrl-C at the terminal (the line discipline turns it into SIGINT). */
  interrupt(): void;
  /** The command's exit code (`script -e` passes it on). */
  exited: Promise<number | null>;
  kill(): Promise<void>;
}

const ANSI = /\u001b\[[0-9;?]*[A-Za-z]/g;

const quote = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`;

/**
 * Runs `letterpress ARGS` under `script -qfec` (util-linux), so stdout and stderr are a TTY;
 * the terminal's output comes back through script's stdout and keystrokes go in by stdin.
 */
export function runInPty(args: readonly string[], options: { cwd: string; env: Record<string, string> }): PtyRun {
  // `exec`: the shell script starts must not stay between the terminal and the CLI, or Ctrl-C
  // kills the shell (exit 130) while the CLI is still shutting down.
  const command = `exec ${[process.execPath, BIN, ...args].map(quote).join(' ')}`;
  const child = spawn('script', ['-qfec', command, '/dev/null'], {
    cwd: options.cwd,
    env: { ...childEnv(options.env), TERM: 'xterm-256color', COLUMNS: '100', LINES: '40' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let text = '';
  const waiters = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    text += chunk.toString('utf8').replace(/\r\n/g, '\n');
    for (const check of [...waiters]) check();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const plain = () => text.replace(ANSI, '');
  return {
    child,
    output: () => text,
    plain,
    waitFor(pattern, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (!pattern.test(plain())) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(plain());
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${pattern}; the terminal showed:\n${plain()}`));
        }, timeoutMs);
        waiters.add(check);
        void exited.then(() => {
          if (!waiters.has(check)) return;
          check();
          if (!waiters.has(check)) return;
          waiters.delete(check);
          clearTimeout(timer);
          reject(new Error(`exited while waiting for ${pattern}; the terminal showed:\n${plain()}`));
        });
        check();
      });
    },
    interrupt: () => void child.stdin!.write('\x03'),
    exited,
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
