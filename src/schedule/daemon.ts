import { hostname } from 'node:os';
import path from 'node:path';
import type { BuildReport } from '../site/build-site.ts';
import { loadIssues } from '../project/load-issues.ts';
import type { LoadedConfig } from '../config/load-config.ts';
import type { IssueParser } from '../project/issue-parser.ts';
import type { Store } from '../store/types.ts';
import type { Transport } from '../deliver/types.ts';
import type { SendEvent } from '../deliver/run-send.ts';
import type { SendReport } from '../deliver/send-issue.ts';
import type { Clock } from '../util/clock.ts';
import type { Logger } from '../util/logger.ts';
import type { Sleep } from '../util/sleep.ts';
import { formatLocalTime } from '../util/timezone.ts';
import { checkSendPreflight, formatPreflightLine } from '../publish/preflight.ts';
import { writeDaemonStatus, type DaemonStatus, type PassSummary } from './daemon-status.ts';
import type { ScheduledJob, Scheduler } from './scheduler.ts';
import type { SchedulerElection } from './scheduler-lease.ts';
import { waitUntilSettled } from './wait-until-settled.ts';
import type { IssueWatch, WatchIssues } from './watch-issues.ts';

/**
 * What the daemon needs of the wired application, and nothing more: the config, the clock, a
 * build pass, a send pass, the store and the transport's name, and the issue parser. `cli/app.ts`
 * provides it; tests may provide a smaller fake.
 */
export interface DaemonApp {
  loaded: LoadedConfig;
  clock: Clock;
  build(
    onProgress: undefined,
    options: { archiveNew?: boolean; signal?: AbortSignal },
  ): Promise<BuildReport>;
  send(options: {
    signal?: AbortSignal;
    hold?: ReadonlySet<string>;
    onEvent?: (event: SendEvent) => void;
    nextRetryAt?: () => string | undefined;
  }): Promise<SendReport[]>;
  store(): Promise<Store>;
  transport(): Pick<Transport, 'description'>;
  issueParser: IssueParser;
}

export interface DaemonDependencies {
  app: DaemonApp;
  logger: Logger;
  /** Starts the HTTP server (archive, feeds, subscriptions); the daemon closes it on shutdown. */
  startServer?: () => Promise<{ url: string; close(): Promise<void> }>;
  /** Aborted on SIGTERM/SIGINT: stop picking up, let messages in flight finish, exit. */
  signal: AbortSignal;
  /**
   * Waits `ms`. When `signal` aborts, the wait ends early (resolving or rejecting, either is
   * fine): the shutdown timer must not keep the process alive after a clean stop.
   */
  sleep: Sleep;
  /** The cron ticks and the send window (node-cron in `start`, a fake clock's in tests). */
  scheduler: Scheduler;
  /** Stamps the status file and times the settle wait. */
  clock: Clock;
  /** Watches `issues/` (fs.watch in `start`); without one, only the cron tick picks up changes. */
  watchIssues?: WatchIssues;
  /** Told after each pass (and its status file) is done: for tools and tests that follow the daemon. */
  onPass?: (summary: PassSummary) => void;
  /**
   * `all` (default): schedules when elected, and sends either way; `scheduler`: schedules when
   * elected (ticks, watcher, build, planning, the send window) and never sends issues.
   */
  role?: 'all' | 'scheduler';
  /**
   * Joins the `scheduler` lease election (scheduler-lease.ts); `onChange` is told when this
   * instance starts or stops scheduling. Without it this instance always schedules.
   */
  elect?: (onChange: (leading: boolean, leader: string | undefined) => void) => Promise<SchedulerElection>;
}

type PassReason = PassSummary['reason'];

/**
 * Published issues whose email waits for the send window: planned and not started, and
 * without a `publish_at` of their own (an explicit time wins over the window).
 */
async function issuesWaitingForWindow(app: DaemonApp, signal: AbortSignal | undefined): Promise<Set<string>> {
  const store = await app.store();
  const waiting = new Set<string>();
  for (const record of await store.listIssues()) {
    if (record.state !== 'planned') continue;
    const { issues } = await loadIssues([path.resolve(app.loaded.root, record.sourceFile)], {
      root: app.loaded.root,
      timezone: app.loaded.config.timezone,
      maxBytes: app.loaded.config.limits.maxIssueBytes,
      parser: app.issueParser,
      issuesDir: app.loaded.paths.issues,
      signal,
    });
    if (issues[0] && issues[0].issue.publishAt === undefined) waiting.add(record.slug);
  }
  return waiting;
}

/** "; the next pass retries at …" for a log line (in the configured timezone), when one is scheduled. */
function nextRetryText(nextRetryAt: string | undefined, timezone: string): string {
  return nextRetryAt === undefined ? '' : `; the next pass retries at ${formatLocalTime(nextRetryAt, timezone, { seconds: true })}`;
}

/** One pass: publish what is due (store + out/), then send what may go now; logs each step. */
export async function runPass(
  app: DaemonApp,
  logger: Logger,
  options: {
    reason: PassReason;
    archiveNew?: boolean;
    holdForWindow: boolean;
    signal?: AbortSignal;
    /** Error lines the previous pass already logged. */
    reported?: ReadonlySet<string>;
    /** When the next pass retries a stalled send (recorded for `status`). */
    nextRetryAt?: () => string | undefined;
    /** False: this instance does not schedule now; the pass only sends (no build, no planning). */
    build?: boolean;
    /** False: this instance never sends issues (`--role scheduler`); workers send what it planned. */
    send?: boolean;
    /** The send window opened: lift the store's holds first, so every worker sends too. */
    releaseHolds?: boolean;
  },
): Promise<{ summary: PassSummary; build: BuildReport | undefined; sends: SendReport[]; waiting: Set<string>; errors: Set<string> }> {
  const startedAt = new Date(app.clock.now()).toISOString();
  const build = options.build === false ? undefined : await app.build(undefined, { archiveNew: options.archiveNew, signal: options.signal });
  const errors = new Set<string>();
  for (const d of build?.diagnostics ?? []) {
    if (d.severity !== 'error') continue;
    const line = `${d.file}:${d.line}:${d.column}: ${d.message}`;
    errors.add(line);
    // One line per problem, with file:line:column, so an editor can find it; a file that stays
    // broken is reported again only after it changed (not at every tick).
    if (!options.reported?.has(line)) logger.error({ file: d.file, line: d.line, column: d.column, code: d.code }, line);
  }
  const published = (build?.registered?.added ?? []).filter((entry) => entry.state === 'published').map((entry) => entry.slug);
  for (const entry of build?.registered?.added ?? []) {
    logger.info({ slug: entry.slug, state: entry.state }, entry.state === 'archived' ? `archived ${entry.slug} (on the site, not emailed)` : `published ${entry.slug}`);
  }
  if (build?.registered?.backlog) {
    logger.info('these issues were there before the store: they stay on the site and are never emailed; to email one: letterpress send <slug>');
  }
  if (build && build.rendered.length > 0) logger.info({ rendered: build.rendered }, `site rebuilt: ${build.rendered.join(', ')}`);

  const store = await app.store();
  if (options.releaseHolds) {
    const released = await store.releaseSendHolds();
    if (released.length > 0) logger.info({ released }, `the send window opened for ${released.join(', ')}`);
  }
  const waiting = options.holdForWindow ? await issuesWaitingForWindow(app, options.signal) : new Set<string>();
  // Held in the store by the scheduling instance (which may be another one) until its window.
  if (options.holdForWindow) for (const slug of await store.listSendHolds()) waiting.add(slug);
  // Said by the instance that schedules; another one only leaves them alone.
  if (options.build !== false) for (const slug of waiting) logger.info({ slug }, `${slug} waits for the send window`);
  const onEvent = (event: SendEvent) => {
    if (event.kind === 'start') logger.info({ slug: event.slug, total: event.total }, `sending ${event.slug} to ${event.total} subscribers`);
    if (event.kind === 'requeued-orphans') logger.warn({ slug: event.slug, rows: event.rows }, `${event.rows} messages of an interrupted run go back to the queue`);
  };
  let sends: SendReport[] = [];
  try {
    if (options.send !== false) sends = await app.send({ signal: options.signal, hold: waiting, onEvent, nextRetryAt: options.nextRetryAt });
  } catch (error) {
    if ((error as { code?: string }).code !== 'E_PREFLIGHT') throw error;
    // Refused before anything was claimed: the site and feeds are published, the mail waits
    // (still queued) until the config is fixed; said once per pass while mail is waiting.
    const problems = checkSendPreflight(app.loaded.config);
    logger.error(
      { code: 'E_PREFLIGHT', problems: problems.map((problem) => problem.check) },
      formatPreflightLine(problems),
    );
  }
  for (const report of sends) {
    const fields = { slug: report.slug, sent: report.sent, failed: report.failed, bounced: report.bounced, skipped: report.skipped, deferred: report.remainingDeferred, seconds: Math.round(report.durationMs) / 1000 };
    if (report.stoppedBy) {
      const retry = report.stoppedBy.code === 'E_ABORTED' ? '' : nextRetryText(options.nextRetryAt?.(), app.loaded.config.timezone);
      logger.error({ ...fields, code: report.stoppedBy.code }, `sending ${report.slug} stopped: ${report.stoppedBy.message} [${report.stoppedBy.code}]; every unsent message stays queued${retry}`);
    }
    else if (report.sent + report.failed + report.bounced + report.skipped + report.deferred > 0) logger.info(fields, `${report.slug}: ${report.sent} sent, ${report.failed + report.bounced} failed, ${report.remainingDeferred} deferred`);
  }
  const fileErrors = (build?.diagnostics ?? []).filter((d) => d.severity === 'error').length;
  const summary: PassSummary = {
    reason: options.reason,
    startedAt,
    finishedAt: new Date(app.clock.now()).toISOString(),
    published,
    errors: fileErrors,
    fileErrors,
    transportErrors: sends.filter((r) => r.stoppedBy !== undefined && r.stoppedBy.code !== 'E_ABORTED').length,
    sent: sends.reduce((sum, r) => sum + r.sent, 0),
    failed: sends.reduce((sum, r) => sum + r.failed + r.bounced, 0),
    deferred: sends.reduce((sum, r) => sum + r.remainingDeferred, 0),
  };
  return { summary, build, sends, waiting, errors };
}

/**
 * `letterpress start`: the long-lived process. It serves HTTP, watches `issues/` (a change is
 * picked up once the files have settled) and also looks at every cron tick in case the watcher
 * missed something; each look is a pass (publish, build, send). Passes never overlap. Of several
 * instances on one store, the one holding the `scheduler` lease schedules (the watcher, the
 * ticks' build and planning, the send window); the others (role `all`) only send at each tick
 * (and, on PostgreSQL, as soon as the store announces rows to send: a `due` pass), each
 * claiming its own rows from the ledger, and one takes over when the scheduling instance
 * dies. On shutdown it stops picking up, lets messages in flight finish (bounded), and leaves
 * nothing `sending`.
 */
export async function runDaemon(deps: DaemonDependencies): Promise<{ finished: boolean }> {
  const { app, logger } = deps;
  const { config, paths } = app.loaded;
  const role = deps.role ?? 'all';
  const sends = role === 'all';
  const now = () => deps.clock.now().getTime();
  const startedAt = new Date(now()).toISOString();
  const sendAbort = new AbortController();
  const passes: PassSummary[] = [];
  let scheduled: { slug: string; publishAt: string }[] = [];
  let waitingForWindow: string[] = [];
  let url: string | undefined;
  let tick: ScheduledJob | undefined;
  let windowTask: ScheduledJob | undefined;
  let watcher: IssueWatch | undefined;
  let election: SchedulerElection | undefined;
  const leading = () => election?.isLeader() ?? true;

  const writeStatus = (state: DaemonStatus['state']) =>
    writeDaemonStatus(paths.data, {
      pid: process.pid,
      host: hostname(),
      state,
      startedAt,
      updatedAt: new Date(now()).toISOString(),
      url,
      role,
      scheduling: leading(),
      scheduler: election?.leader(),
      nextTick: tick?.nextRun()?.toISOString(),
      nextWindow: leading() ? windowTask?.nextRun()?.toISOString() : undefined,
      scheduled,
      waitingForWindow,
      lastPasses: passes.slice(0, 10),
    }).catch((error: unknown) => logger.warn({ err: error }, 'cannot write data/daemon.json'));

  let pending: PassReason | undefined;
  let windowOpen = false;
  // skipMissed: what became due while no instance ran. A takeover follows a live scheduler, so
  // only the first pass of an instance that scheduled from its start archives.
  let archiveMissed = config.schedule.skipMissed;
  let reported = new Set<string>();
  let running: Promise<void> | undefined;

  const loop = async () => {
    while (pending !== undefined && !deps.signal.aborted) {
      const reason = pending;
      pending = undefined;
      const window = windowOpen;
      windowOpen = false;
      // A pass the store's notification asked for only sends: the scheduling instance planned
      // what it announces (or another sender handed rows back), nothing in issues/ changed.
      const schedules = leading() && (reason !== 'due' || window);
      // A standby scheduler has nothing to do until it is elected.
      if (!schedules && !sends) continue;
      let summary: PassSummary | undefined;
      try {
        if (schedules) {
          const settled = await waitUntilSettled({
            dir: paths.issues,
            settleMs: config.schedule.settleMs,
            maxWaitMs: Math.max(10 * config.schedule.settleMs, 10_000),
            now,
            sleep: deps.sleep,
          });
          if (!settled) logger.warn('issue files keep changing; building what is there now');
        }
        if (deps.signal.aborted) break;
        const result = await runPass(app, logger, {
          reason: window ? 'window' : reason,
          archiveNew: schedules && archiveMissed,
          // Only the scheduling instance knows when the window opens; the others wait for it.
          holdForWindow: config.schedule.sendWindow !== undefined && !(window && schedules),
          releaseHolds: window && schedules,
          build: schedules,
          send: sends,
          signal: sendAbort.signal,
          reported,
          nextRetryAt: () => tick?.nextRun()?.toISOString(),
        });
        if (schedules) {
          archiveMissed = false;
          reported = result.errors;
          scheduled = result.build?.scheduled ?? scheduled;
          waitingForWindow = [...result.waiting];
        }
        if (sends) sendStalled = (result.summary.transportErrors ?? 0) > 0;
        passes.unshift(result.summary);
        passes.length = Math.min(passes.length, 10);
        summary = result.summary;
      } catch (error) {
        if ((error as { code?: string }).code === 'E_ABORTED' && deps.signal.aborted) {
          logger.info({ code: 'E_ABORTED' }, `the pass in progress stopped unfinished (${(error as Error).message}); the next start does it again`);
          break;
        }
        // A pass that fails (a store or template problem) is logged; the daemon stays up and
        // the next change or tick tries again.
        logger.error({ err: error, code: (error as { code?: string }).code }, `pass failed: ${(error as Error).message}`);
      }
      await writeStatus('running');
      if (summary) deps.onPass?.(summary);
    }
    running = undefined;
  };

  // The last pass's send stopped on a session error (relay down, login refused): the rows it
  // handed back announce themselves, so until the next tick a notification starts no pass
  // (instances that all fail would otherwise wake each other in a loop).
  let sendStalled = false;
  const request = (reason: PassReason) => {
    if (deps.signal.aborted) return;
    if (reason === 'due' && sendStalled) return;
    // Any other reason also sends; a `due` pass alone does not build.
    if (pending === undefined || pending === 'due') pending = reason;
    running ??= loop();
  };

  const startWatching = () => {
    if (watcher || !deps.watchIssues) return;
    try {
      watcher = deps.watchIssues(
        paths.issues,
        () => request('file'),
        (error) => logger.warn({ err: error }, 'the file watcher failed; the cron tick still picks up changes'),
      );
    } catch (error) {
      logger.warn({ err: error }, `cannot watch ${paths.issues}; changes are picked up at each cron tick`);
    }
  };
  const stopWatching = () => {
    watcher?.close();
    watcher = undefined;
  };

  if (deps.elect) {
    let electing = true;
    election = await deps.elect((leads, leader) => {
      if (deps.signal.aborted) return;
      if (leads) {
        logger.info({ scheduling: true }, 'this instance schedules now (it holds the scheduler lease): ticks, the issues/ watcher and the send window');
        // At start-up the watcher and the first pass come below, once the server listens.
        if (electing) return;
        startWatching();
        request('start');
      } else {
        logger.info({ scheduling: false, scheduler: leader }, `another instance schedules${leader ? ` (${leader})` : ''}; this one ${sends ? 'sends and serves' : 'waits to take over'}`);
        stopWatching();
      }
      if (!electing) void writeStatus('running');
    });
    electing = false;
    // Said only when someone else schedules: taking the lease at once is logged by onChange.
    if (!election.isLeader()) {
      archiveMissed = false;
      logger.info({ scheduling: false, scheduler: election.leader() }, `another instance schedules${election.leader() ? ` (${election.leader()})` : ''}; this one ${sends ? 'sends and serves' : 'waits to take over'}`);
    }
  }

  let server: Awaited<ReturnType<NonNullable<DaemonDependencies['startServer']>>> | undefined;
  // The first pass parses at once: its worker is started before the server takes requests.
  if (election?.isLeader() ?? true) app.issueParser.prepare?.();
  try {
    server = deps.startServer ? await deps.startServer() : undefined;
  } catch (error) {
    // Not listening (the port is taken, say): give the lease back at once, so its renewal timer
    // does not keep the process alive and another instance may schedule without waiting.
    await election?.stop();
    throw error;
  }
  if (server) {
    url = server.url;
    logger.info({ url }, `archive and subscriptions at ${url}`);
  }
  // Said at once, not after the first pass: a second `start` on the same port can then name
  // this daemon, and `status` shows it running.
  await writeStatus('running');
  logger.info(
    { issues: paths.issues, transport: app.transport().description, role },
    `${
      leading()
        ? `watching ${path.relative(process.cwd(), paths.issues) || paths.issues}/ for issue files`
        : 'on standby for scheduling (the instance with the scheduler lease watches issues/)'
    }; ${sends ? `mail goes to ${app.transport().description}` : 'workers send the mail (role scheduler)'}`,
  );

  if (leading()) startWatching();
  tick = deps.scheduler.schedule(config.schedule.tick, config.timezone, () => request('tick'), { name: 'tick' });
  if (config.schedule.sendWindow) {
    windowTask = deps.scheduler.schedule(
      config.schedule.sendWindow,
      config.timezone,
      () => {
        // The window is the scheduling instance's: it lifts the holds for every sender.
        if (!leading()) return;
        windowOpen = true;
        request('window');
      },
      { name: 'send-window' },
    );
    logger.info({ nextWindow: windowTask.nextRun()?.toISOString() }, `new issues are emailed at the send window (${config.schedule.sendWindow}, ${config.timezone})`);
  }
  request('start');
  // PostgreSQL's LISTEN / NOTIFY: rows planned (by this instance or the scheduling one), handed
  // back or requeued start a send pass at once, not at the next tick.
  const store = await app.store();
  const stopWatchingDue = sends && store.watchDue ? store.watchDue(() => request('due')) : undefined;

  await new Promise<void>((resolve) => {
    if (deps.signal.aborted) return resolve();
    deps.signal.addEventListener('abort', () => resolve(), { once: true });
  });

  logger.info('stopping: no new work is picked up; messages in flight finish');
  // The server closes beside the drain, within its own timeout (server.shutdownTimeoutSeconds):
  // a client holding a half-sent request is cut then, whatever the messages still need.
  const serverClosed = server?.close().catch((error: unknown) => logger.warn({ err: error }, 'closing the HTTP server failed'));
  stopWatching();
  stopWatchingDue?.();
  await tick.stop();
  await windowTask?.stop();
  sendAbort.abort();
  // A pass stuck on one file (built to be slow, under a generous limits.parseSeconds) is
  // abandoned rather than waited for: closing the parser ends its worker and fails the pass
  // with E_ABORTED before anything of it is published. Not awaited: a parser that cannot
  // even close is still bounded by the timeout below.
  if (running) {
    app.issueParser.close().catch((error: unknown) => logger.warn({ err: error }, 'closing the issue parser failed'));
  }
  const inFlight = running ?? Promise.resolve();
  const timeoutMs = config.schedule.shutdownTimeoutSeconds * 1000;
  // The timeout's timer is cancelled once the pass is done: left running it would keep the
  // process alive for the whole timeout after a clean stop.
  const timeout = new AbortController();
  const finished = await Promise.race([
    inFlight.then(() => true),
    deps.sleep(timeoutMs, timeout.signal).then(
      () => false,
      () => false,
    ),
  ]);
  timeout.abort();
  if (!finished) logger.warn(`messages still in flight after ${config.schedule.shutdownTimeoutSeconds} s; they are re-sent by the next run if unconfirmed`);
  // Released once the pass is over, so the next scheduler never builds beside a pass of ours.
  await election?.stop();
  await serverClosed;
  await writeStatus('stopped');
  logger.info('stopped');
  // `finished: false`: a pass is still waiting on SMTP after the timeout. The caller must not
  // wait for it (closing the app would: up to smtp.timeouts.socketMs).
  return { finished };
}
