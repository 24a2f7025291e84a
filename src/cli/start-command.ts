import type { Command } from 'commander';
import { runDaemon } from '../schedule/daemon.ts';
import { createCronScheduler } from '../schedule/scheduler.ts';
import { watchIssueFiles } from '../schedule/watch-issues.ts';
import { createLogger, createLogWriter } from '../util/logger.ts';
import { checkSendPreflight, formatPreflightLine } from '../publish/preflight.ts';
import { abortOnStopSignals, parsePort, type StartRole } from './cli-options.ts';
import { createHolderId } from '../deliver/runner-lease.ts';
import { startSenderPresence } from '../deliver/sender-presence.ts';
import { startSchedulerElection } from '../schedule/scheduler-lease.ts';
import { LetterpressError } from '../util/errors.ts';
import type { Logger } from '../util/logger.ts';
import type { App } from './app.ts';
import type { CommandContext } from './command-context.ts';
import { describeNextSteps, startHttpServer, startMailQueue } from './server-commands.ts';


/**
 * `letterpress start` without `--once`: the daemon, until SIGTERM or SIGINT. Logs go to
 * stdout, one event per line: readable on a terminal, JSON otherwise.
 */
export async function runStartDaemon(
  command: Command,
  context: CommandContext,
  options: { port?: string; host?: string; serve: boolean; role: StartRole },
): Promise<void> {
  const { io } = context;
  const { role } = options;
  if (role === 'web' && !options.serve) throw new LetterpressError('E_USAGE', '--role web serves HTTP and nothing else: it takes no --no-serve');
  // The scheduler builds out/ and plans; the instances with role web (or all) serve what it built.
  const serves = options.serve && (role === 'all' || role === 'web');
  await context.withApp(command, async (app) => {
    const logger = createLogger({ write: (line) => io.stdout.write(line), pretty: io.stdout.isTTY === true });
    const stop = abortOnStopSignals((signal) => logger.info({ signal }, `${signal} received`));
    try {
      // Open the store first: a lost or damaged one stops the daemon here (E_STORE), rather
      // than being reported by every pass of a daemon that serves and sends nothing.
      await app.store();
      const port = parsePort(options.port, app.loaded.config.server.port);
      const host = options.host ?? app.loaded.config.server.host;
      // What to do next, once: plain lines for a person on a terminal, one event for a log.
      const announce = (url: string | undefined) => {
        const lines = describeNextSteps(app, { url, cwd: io.cwd, daemon: true, role });
        if (io.stdout.isTTY === true) io.stdout.write(`${lines.join('\n')}\n`);
        else logger.info({ url, issues: app.loaded.paths.issues, outbox: app.loaded.config.smtp.host ? undefined : app.outboxDir }, lines.map((line) => line.trim()).join('; '));
      };
      if (role === 'web') return await runWebRole(app, logger, stop.signal, { port, host, io, announce });
      if (role === 'worker') {
        const { runWorker } = await import('./worker-command.ts');
        const { finished } = await runWorker(app, { logger, signal: stop.signal, role: 'worker' });
        if (!finished) process.exit(0);
        return;
      }
      if (!serves) announce(undefined);
      if (app.loaded.config.smtp.host && role === 'all') {
        // The kinder refusal: the daemon still serves and publishes; only sending waits (see runPass).
        const problems = checkSendPreflight(app.loaded.config);
        if (problems.length > 0) logger.warn({ code: 'E_PREFLIGHT', problems: problems.map((problem) => problem.check) }, `serving and publishing, but ${formatPreflightLine(problems)}`);
      }
      // Without HTTP this process still sends the queued subscription emails (the server's
      // own sender does it otherwise).
      const mailQueue = serves || role === 'scheduler' ? undefined : await startMailQueue(app, logger);
      const store = await app.store();
      // A sender that runs a while shows in `status` with its heartbeat (the scheduler sends nothing).
      const presence =
        role === 'all'
          ? startSenderPresence({
              store,
              clock: app.clock,
              sleep: app.sleep,
              holder: createHolderId(),
              role,
              stats: () => app.senderStats(),
              beatMs: Math.max(1000, (app.loaded.config.delivery.leaseSeconds * 1000) / 3),
              onError: (error) => logger.warn({ code: (error as { code?: string }).code }, `the heartbeat could not be recorded: ${(error as Error).message}`),
            })
          : undefined;
      let finished: boolean;
      try {
        ({ finished } = await runDaemon({
          app,
          logger,
          role,
          elect: (onChange) =>
            startSchedulerElection({
              store,
              clock: app.clock,
              sleep: app.sleep,
              holder: createHolderId(),
              leaseMs: app.loaded.config.schedule.leaseSeconds * 1000,
              onChange,
              onError: (error) => logger.warn({ code: (error as { code?: string }).code }, `the scheduler lease could not be renewed: ${(error as Error).message}`),
            }),
          signal: stop.signal,
          sleep: app.sleep,
          clock: app.clock,
          scheduler: createCronScheduler(),
          watchIssues: watchIssueFiles,
          startServer: serves
            ? async () => {
                const server = await startHttpServer(app, {
                  port,
                  host,
                  // The subscription routes' own lines (subscribe, confirm, unsubscribe, with a keyed
                  // hash of the address) go to the daemon's log; plain page and feed requests do not.
                  logger: { level: 'info', stream: { write: createLogWriter({ write: (line) => io.stdout.write(line), pretty: io.stdout.isTTY === true }) } },
                  requestLogging: false,
                  warn: (message) => logger.warn(message),
                  expectBuiltSite: false,
                  command: 'start',
                });
                announce(server.url);
                return server;
              }
            : undefined,
        }));
      } finally {
        // Also when the daemon could not start (E_LISTEN): their timers would keep the process up.
        await mailQueue?.stop(app.loaded.config.server.shutdownTimeoutSeconds * 1000);
        await presence?.stop();
      }
      if (!finished) {
        // The shutdown timeout bounds the stop: SMTP transactions that still hang are given up
        // on as a crash would give them up. Closing the app would wait for them (the transport
        // waits for busy connections, up to smtp.timeouts.socketMs), so the process ends here.
        // Their rows stay `sending` under this process's lease, which nobody renews now: once it
        // lapses, any sender puts them back in the queue (at most one duplicate per connection,
        // with the same Message-ID).
        process.exit(0);
      }
    } finally {
      stop.dispose();
    }
  });
}

/**
 * `start --role web`: the HTTP server alone (archive, feeds, subscription routes and their
 * emails), serving the `out/` an instance with role `scheduler` (or `all`) builds.
 */
async function runWebRole(
  app: App,
  logger: Logger,
  signal: AbortSignal,
  options: { port: number; host: string; io: CommandContext['io']; announce: (url: string | undefined) => void },
): Promise<void> {
  const { io } = options;
  const server = await startHttpServer(app, {
    port: options.port,
    host: options.host,
    logger: { level: 'info', stream: { write: createLogWriter({ write: (line) => io.stdout.write(line), pretty: io.stdout.isTTY === true }) } },
    requestLogging: false,
    warn: (message) => logger.warn(message),
    command: 'start',
  });
  logger.info({ url: server.url, role: 'web' }, `archive and subscriptions at ${server.url} (role web: serving only; an instance with role scheduler builds out/)`);
  options.announce(server.url);
  await new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    signal.addEventListener('abort', () => resolve(), { once: true });
  });
  logger.info('stopping: requests in flight finish');
  await server.close();
  logger.info('stopped');
}
