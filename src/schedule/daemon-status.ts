import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../site/write-output.ts';
import { isLocalHolderAlive } from '../deliver/runner-lease.ts';

/** One pass of the daemon, as `letterpress status` shows it. */
export interface PassSummary {
  /** `due`: the store announced rows to send (PostgreSQL NOTIFY): a send-only pass. */
  reason: 'start' | 'file' | 'tick' | 'window' | 'once' | 'due';
  startedAt: string;
  finishedAt: string;
  published: string[];
  /** Issue files with errors (kept under its first name for readers of older status files). */
  errors: number;
  /** The same count as `errors`. */
  fileErrors?: number;
  /** Sends this pass that a session error stopped (dead relay, login refused…). */
  transportErrors?: number;
  sent: number;
  failed: number;
  deferred: number;
}

/** What a running daemon tells `letterpress status` (kept in `data/daemon.json`). */
export interface DaemonStatus {
  pid: number;
  host: string;
  state: 'running' | 'stopped';
  startedAt: string;
  updatedAt: string;
  url?: string;
  /** What this instance does (`start --role`); absent in files older releases wrote (then `all`). */
  role?: 'all' | 'scheduler';
  /** Whether it holds the scheduler lease now (it runs the watcher, the build and the send window). */
  scheduling?: boolean;
  /** The holder id of the instance that schedules, as this one last saw it. */
  scheduler?: string;
  /** The next cron tick, and the next send window when one is configured. */
  nextTick?: string;
  nextWindow?: string;
  /** Issues not yet due, with when they are. */
  scheduled: { slug: string; publishAt: string }[];
  /** Published issues whose email waits for the send window. */
  waitingForWindow: string[];
  /** The newest passes first, at most ten. */
  lastPasses: PassSummary[];
}

export const DAEMON_STATUS_FILE = 'daemon.json';

/** Writes the status atomically, so `status` never reads half a file. */
export async function writeDaemonStatus(dataDir: string, status: DaemonStatus): Promise<void> {
  await writeFileAtomic(path.join(dataDir, DAEMON_STATUS_FILE), `${JSON.stringify(status, null, 1)}\n`);
}

/** The last status a daemon wrote, or undefined when none ever ran here. */
export async function readDaemonStatus(dataDir: string): Promise<DaemonStatus | undefined> {
  try {
    return JSON.parse(await readFile(path.join(dataDir, DAEMON_STATUS_FILE), 'utf8')) as DaemonStatus;
  } catch {
    return undefined;
  }
}

/** The daemon's last word with whether it still runs (a killed daemon cannot say it stopped). */
export async function readDaemonView(dataDir: string): Promise<(DaemonStatus & { alive: boolean }) | undefined> {
  const status = await readDaemonStatus(dataDir);
  if (!status) return undefined;
  return { ...status, alive: status.state === 'running' && isLocalHolderAlive(`${status.host}:${status.pid}:x`) };
}
