import { rm } from 'node:fs/promises';
import type { IssueParser } from '../../src/project/issue-parser.ts';
import { createApp, type App } from '../../src/cli/app.ts';
import { startHttpServer } from '../../src/cli/server-commands.ts';
import type { PassSummary } from '../../src/schedule/daemon-status.ts';
import { runDaemon } from '../../src/schedule/daemon.ts';
import { createLogger } from '../../src/util/logger.ts';
import type { LogLine } from './daemon-child.ts';
import { createFakeClock, type FakeClock } from './fake-clock.ts';
import { importRows, TEST_SECRET, type SubscriberRow } from './send-project.ts';
import { startSmtpSink, type SmtpSink } from './smtp-sink.ts';
import { createTempProject } from './temp-project.ts';

/**
 * The daemon in this process on a fake clock: its cron jobs, settle and shutdown waits and the
 * app's retry and lease waits all run on `time`, so a test moves time on and then looks at
 * what each pass did (order and counts), never at how long anything took. The store, the SMTP
 * sink on loopback, the file system and the build are real. The settle wait is 0 (files land
 * whole, by rename) so a pass never waits on the fake clock by itself.
 */
export interface FakeDaemon {
  root: string;
  app: App;
  sink: SmtpSink;
  time: FakeClock;
  lines: LogLine[];
  passes: PassSummary[];
  /** The HTTP server's address, with `serve: true` (a real server on port 0). */
  url?: string;
  /** Resolves once `count` passes have finished (a generous real-time bound only against a hang). */
  waitForPasses(count: number): Promise<PassSummary[]>;
  /** Moves the fake time on by `ms` and waits for every pass that it started. */
  advance(ms: number): Promise<PassSummary[]>;
  /** Stops the daemon (as SIGTERM would) and waits for it to return. */
  stop(): Promise<{ finished: boolean }>;
  dispose(): Promise<void>;
}

/** A whole hour at least an hour ahead of the wall clock, so every file written during the test is older than fake "now". */
export function fakeStartTime(): number {
  return Math.ceil(Date.now() / 3_600_000) * 3_600_000 + 3_600_000;
}

export async function startFakeDaemon(
  rows: readonly SubscriberRow[],
  options: {
    env?: Record<string, string>;
    start?: number;
    /** Replaces the worker parser (a fake that hangs). */
    issueParser?: IssueParser;
    /** Serve HTTP on 127.0.0.1, port 0, as `start` does. */
    serve?: boolean;
  } = {},
): Promise<FakeDaemon> {
  const sink = await startSmtpSink();
  const env: Record<string, string> = {
    LETTERPRESS_SMTP_URL: sink.url,
    LETTERPRESS_SECRET: TEST_SECRET,
    LETTERPRESS_SCHEDULE_TICK: '0 * * * * *',
    LETTERPRESS_SCHEDULE_SETTLEMS: '0',
    ...options.env,
  };
  const root = await createTempProject({ allowLocalAddresses: true });
  await importRows(root, rows, env);
  const time = createFakeClock(options.start ?? fakeStartTime());
  const app = await createApp({ root, env, clock: time.clock, sleep: time.sleep, issueParser: options.issueParser });
  const lines: LogLine[] = [];
  const logger = createLogger({ write: (line) => lines.push(JSON.parse(line) as LogLine), pretty: false });
  const passes: PassSummary[] = [];
  const waiters: (() => void)[] = [];
  const stop = new AbortController();
  let url: string | undefined;
  let listening: () => void = () => undefined;
  const served = new Promise<void>((resolve) => (listening = resolve));
  const done = runDaemon({
    app,
    logger,
    signal: stop.signal,
    sleep: time.sleep,
    clock: time.clock,
    scheduler: time.scheduler,
    startServer: options.serve
      ? async () => {
          const server = await startHttpServer(app, { port: 0, host: '127.0.0.1', logger: false, warn: () => undefined, expectBuiltSite: false, command: 'start' });
          url = server.url;
          listening();
          return server;
        }
      : undefined,
    onPass: (summary) => {
      passes.push(summary);
      for (const wake of waiters.splice(0)) wake();
    },
  });
  let failure: unknown;
  done.catch((error: unknown) => {
    failure = error;
    for (const wake of waiters.splice(0)) wake();
  });
  if (options.serve) await Promise.race([served, done]);

  const waitForPasses = async (count: number) => {
    const deadline = Date.now() + 60_000;
    while (passes.length < count) {
      if (failure) throw failure;
      if (Date.now() > deadline) throw new Error(`the daemon hung: ${passes.length} of ${count} passes after 60 s; log:\n${lines.map((l) => JSON.stringify(l)).join('\n')}`);
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        setTimeout(resolve, 1000).unref();
      });
    }
    return passes.slice(0, count);
  };

  return {
    root,
    app,
    sink,
    time,
    lines,
    passes,
    url,
    waitForPasses,
    async advance(ms) {
      const before = passes.length;
      const ticksBefore = time.jobs.reduce((sum, job) => sum + job.fired, 0);
      await time.advance(ms);
      const fired = time.jobs.reduce((sum, job) => sum + job.fired, 0) - ticksBefore;
      // Each firing asks for a pass; firings while a pass runs fold into the next one, so at
      // least one pass follows when anything fired.
      if (fired > 0) await waitForPasses(before + 1);
      return passes.slice(before);
    },
    async stop() {
      stop.abort();
      return done;
    },
    async dispose() {
      if (!stop.signal.aborted) {
        stop.abort();
        await done.catch(() => undefined);
      }
      await app.close();
      await sink.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}
