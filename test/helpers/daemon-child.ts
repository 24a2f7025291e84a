import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, writeFile, rename } from 'node:fs/promises';
import path from 'node:path';
import { REPO_ROOT } from './temp-project.ts';

export const BIN = path.join(REPO_ROOT, 'bin/letterpress.js');

/** One JSON log line of the daemon (pino: `level`, `time`, `msg`, plus the event's fields). */
export interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

export interface DaemonChild {
  child: ChildProcess;
  /** Every JSON line the daemon wrote to stdout so far, parsed. */
  lines: LogLine[];
  /** stdout lines that were not JSON, and all of stderr. */
  other: string[];
  /** Resolves with the first log line (past or future) that matches, or rejects after `timeoutMs`. */
  waitFor(predicate: (line: LogLine) => boolean, timeoutMs?: number, what?: string): Promise<LogLine>;
  /** The HTTP URL the daemon logged (waits for it). */
  url(): Promise<string>;
  /** Resolves with the exit code and signal once the process is gone. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILLs the process if still alive and waits for it to be gone. */
  kill(): Promise<void>;
}

/** The environment a child CLI gets: only PATH and HOME from ours, plus `env`. */
export function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env };
}

/** Starts `letterpress --root ROOT start --port 0 …` as a child process with stdout piped (not a TTY, so JSON logs). */
export function spawnDaemon(root: string, env: Record<string, string>, extraArgs: string[] = ['--port', '0']): DaemonChild {
  return spawnLogging(root, env, ['--root', root, 'start', ...extraArgs]);
}

/** Starts `letterpress ARGS…` in `cwd` with stdout piped, following its JSON log lines (a worker, a daemon). */
export function spawnLogging(cwd: string, env: Record<string, string>, args: string[]): DaemonChild {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd,
    env: childEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: LogLine[] = [];
  const other: string[] = [];
  const waiters: { predicate: (line: LogLine) => boolean; resolve: (line: LogLine) => void }[] = [];
  let pending = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    pending += chunk.toString('utf8');
    const parts = pending.split('\n');
    pending = parts.pop() ?? '';
    for (const text of parts) {
      if (!text.trim()) continue;
      let line: LogLine;
      try {
        line = JSON.parse(text) as LogLine;
      } catch {
        other.push(text);
        continue;
      }
      lines.push(line);
      for (const waiter of [...waiters]) {
        if (waiter.predicate(line)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(line);
        }
      }
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => other.push(chunk.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );

  const waitFor: DaemonChild['waitFor'] = (predicate, timeoutMs = 15_000, what = 'a matching log line') => {
    const seen = lines.find(predicate);
    if (seen) return Promise.resolve(seen);
    return new Promise<LogLine>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(waiter), 1);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; log:\n${lines.map((l) => JSON.stringify(l)).join('\n')}\n${other.join('')}`));
      }, timeoutMs);
      const waiter = {
        predicate,
        resolve: (line: LogLine) => {
          clearTimeout(timer);
          resolve(line);
        },
      };
      waiters.push(waiter);
      void exited.then(({ code, signal }) => {
        if (!waiters.includes(waiter)) return;
        waiters.splice(waiters.indexOf(waiter), 1);
        clearTimeout(timer);
        reject(new Error(`the daemon exited (${code ?? signal}) while waiting for ${what}; log:\n${lines.map((l) => JSON.stringify(l)).join('\n')}\n${other.join('')}`));
      });
    });
  };

  return {
    child,
    lines,
    other,
    waitFor,
    exited,
    url: async () => (await waitFor((line) => typeof line.url === 'string', 15_000, 'the HTTP URL')).url as string,
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/**
 * Writes an issue file the way an editor's "save" lands: whole, in one step (written next to
 * `issues/` under a dotfile name the watcher ignores, then renamed in).
 */
export async function dropIssue(root: string, name: string, text: string): Promise<void> {
  const temp = path.join(root, 'issues', `.${name}.tmp`);
  await writeFile(temp, text);
  await rename(temp, path.join(root, 'issues', name));
}

const CHINESE_NUMBERS = ['', '一', '二', '三', '四', '五', '六', '七', '八', '九'];

/** 1–99 in Chinese numerals as the digest titles write them (十八, 三十二, 四十). */
function chineseNumber(n: number): string {
  const tens = Math.floor(n / 10);
  const ones = n % 10;
  return `${tens === 0 ? '' : tens === 1 ? '十' : `${CHINESE_NUMBERS[tens]}十`}${CHINESE_NUMBERS[ones]}`;
}

/**
 * A new digest-dialect issue, built from the shipped sample `2024-18.md` with its title
 * renumbered to `number` (and `frontMatter` put on top when given), so its content is new.
 */
export async function digestIssue(number: number, frontMatter?: Record<string, string>): Promise<string> {
  const sample = await readFile(path.join(REPO_ROOT, 'issues/2024-18.md'), 'utf8');
  const body = sample.replace(/^# 云计算技术动态 2024 年第十八期$/m, `# 云计算技术动态 2024 年第${chineseNumber(number)}期`);
  if (body === sample) throw new Error('the sample 2024-18.md no longer has the expected title');
  if (!frontMatter) return body;
  return `---\n${Object.entries(frontMatter).map(([key, value]) => `${key}: ${value}`).join('\n')}\n---\n\n${body}`;
}
