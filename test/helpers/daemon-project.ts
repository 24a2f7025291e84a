import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { readDaemonStatus, type PassSummary } from '../../src/schedule/daemon-status.ts';
import { importRows, issueStatus, TEST_SECRET, type IssueStatus, type SubscriberRow } from './send-project.ts';
import { startSmtpSink, type SmtpSink } from './smtp-sink.ts';
import { createTempProject, runCli } from './temp-project.ts';
import { spawnDaemon, type DaemonChild, type LogLine } from './daemon-child.ts';
import type { SMTPServerOptions } from 'smtp-server';

/**
 * A daemon test's world: a fresh project (shipped config, templates and sample issues, never
 * built, so the daemon's first pass archives the samples), the given subscribers imported, an
 * SMTP sink on loopback, and the env that points a child daemon at it with fast settings. The
 * config allows local addresses (the sink and the shipped links are on loopback) unless
 * `allowLocalAddresses: false`.
 */
export interface DaemonWorld {
  root: string;
  sink: SmtpSink;
  env: Record<string, string>;
  daemons: DaemonChild[];
  start(extraArgs?: string[], env?: Record<string, string>): DaemonChild;
  status(slug: string): Promise<IssueStatus>;
  dispose(): Promise<void>;
}

export async function createDaemonWorld(
  rows: readonly SubscriberRow[],
  options: { env?: Record<string, string>; smtp?: SMTPServerOptions; sink?: SmtpSink; allowLocalAddresses?: boolean } = {},
): Promise<DaemonWorld> {
  const sink = options.sink ?? (await startSmtpSink(options.smtp));
  const env: Record<string, string> = {
    LETTERPRESS_SMTP_URL: sink.url,
    LETTERPRESS_SECRET: TEST_SECRET,
    LETTERPRESS_SCHEDULE_TICK: '* * * * * *',
    LETTERPRESS_SCHEDULE_SETTLEMS: '200',
    LETTERPRESS_SERVER_PORT: '0',
    ...options.env,
  };
  const root = await createTempProject({ allowLocalAddresses: options.allowLocalAddresses ?? true });
  await importRows(root, rows, env);
  const daemons: DaemonChild[] = [];
  return {
    root,
    sink,
    env,
    daemons,
    start(extraArgs = ['--port', '0'], extraEnv = {}) {
      const daemon = spawnDaemon(root, { ...env, ...extraEnv }, extraArgs);
      daemons.push(daemon);
      return daemon;
    },
    status: (slug) => issueStatus(root, slug, env),
    async dispose() {
      await Promise.all(daemons.map((daemon) => daemon.kill()));
      if (!options.sink) await sink.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** The first pass is over once both samples are archived (the fresh store's backlog). */
export async function waitForFirstPass(daemon: DaemonChild): Promise<void> {
  await daemon.waitFor((line) => line.slug === '2024-18' && line.state === 'archived', 20_000, 'the sample 2024-18 archived');
  await daemon.waitFor((line) => line.slug === '2024-32' && line.state === 'archived', 20_000, 'the sample 2024-32 archived');
}

/** `status --json` of every issue. */
export async function allStatus(root: string, env: Record<string, string>): Promise<IssueStatus[]> {
  const result = await runCli(['status', '--json'], root, env);
  if (result.code !== 0) throw new Error(`status failed: ${result.stderr}`);
  return JSON.parse(result.stdout) as IssueStatus[];
}

/** Polls `check` until it holds or `timeoutMs` passes (then throws with `what`). */
export async function eventually<T>(check: () => Promise<T | undefined | false>, timeoutMs: number, what: string, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what}${last ? ` (last error: ${String(last)})` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/**
 * Waits until the daemon writing `dataDir/daemon.json` has finished `count` passes that started
 * after `since` (ms since the epoch, e.g. a log line's `time`), and returns them oldest first.
 * Only one daemon may write that file: two daemons on one store need their own `paths.data`.
 */
export async function waitForPassesAfter(dataDir: string, since: number, count: number, timeoutMs = 60_000): Promise<PassSummary[]> {
  return eventually(
    async () => {
      const passes = (await readDaemonStatus(dataDir))?.lastPasses.filter((pass) => Date.parse(pass.startedAt) > since) ?? [];
      return passes.length >= count && passes.reverse();
    },
    timeoutMs,
    `${count} passes of the daemon (${dataDir}/daemon.json) after ${new Date(since).toISOString()}`,
  );
}

export const readText = (file: string) => readFile(file, 'utf8').catch(() => '');
export const outFile = (root: string, ...parts: string[]) => path.join(root, 'out', ...parts);
export const logText = (lines: readonly LogLine[]) => lines.map((line) => JSON.stringify(line)).join('\n');
