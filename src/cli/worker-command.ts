import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { createHolderId } from '../deliver/runner-lease.ts';
import { startSenderPresence } from '../deliver/sender-presence.ts';
import { runWorkerLoop } from '../deliver/worker-loop.ts';
import type { WorkerRole } from '../store/types.ts';
import { LetterpressError } from '../util/errors.ts';
import { createLogger, type Logger } from '../util/logger.ts';
import { resolveStoreLocation } from '../store/store-location.ts';
import type { App } from './app.ts';
import { abortOnStopSignals } from './cli-options.ts';
import type { CommandContext } from './command-context.ts';
import { startMailQueue } from './server-commands.ts';

/** The variables that name a store (load-config.ts decides which wins). */
const STORE_VARIABLES = ['LETTERPRESS_DB', 'LETTERPRESS_STORE_URL', 'DATABASE_URL'] as const;

/** The first wait of an idle worker; it doubles up to `delivery.pollSeconds` while nothing comes. */
const FIRST_POLL_MS = 250;

/**
 * A worker sends from a store that exists: it never creates one (a typo in LETTERPRESS_DB
 * would otherwise start an empty store and a worker that waits forever for nothing).
 */
function assertStoreExists(app: App, named: boolean): void {
  if (!named && app.loaded.configFile === undefined) {
    throw new LetterpressError(
      'E_USAGE',
      'letterpress worker needs the store to send from: pass --store PATH|URL, or set LETTERPRESS_DB or DATABASE_URL (or run it in a project whose config names store.url)',
    );
  }
  const location = resolveStoreLocation({ url: app.loaded.config.store.url, root: app.loaded.root });
  const file = location.driver === 'sqlite' ? location.file : undefined;
  if (file !== undefined && !existsSync(file)) {
    throw new LetterpressError(
      'E_STORE',
      `no store at ${file}: a worker sends what a store already holds and creates none; check --store / LETTERPRESS_DB (the store \`letterpress build\` or \`start\` made)`,
    );
  }
}

/**
 * Runs the worker loop in an app until `signal` aborts: the sender registered with its
 * heartbeat, the queued subscription emails sent too when this process has the templates (a
 * confirmation is rendered from them; without them they are left to an instance that has the
 * project tree), planned rows of every issue sent as they come. Shared by `letterpress worker`
 * and `letterpress start --role worker`.
 */
export async function runWorker(app: App, options: { logger: Logger; signal: AbortSignal; role: WorkerRole }): Promise<{ finished: boolean }> {
  const { logger, signal } = options;
  const { config, paths } = app.loaded;
  // Opened here, so a lost or damaged store stops the worker at once (E_STORE).
  const store = await app.store();
  const holder = createHolderId();
  const presence = startSenderPresence({
    store,
    clock: app.clock,
    sleep: app.sleep,
    holder,
    role: options.role,
    stats: () => app.senderStats(),
    beatMs: Math.max(1000, (config.delivery.leaseSeconds * 1000) / 3),
    onError: (error) => logger.warn({ code: (error as { code?: string }).code }, `the heartbeat could not be recorded: ${(error as Error).message}`),
  });
  const hasTemplates = existsSync(paths.templates) && existsSync(paths.issues);
  const mailQueue = hasTemplates ? await startMailQueue(app, logger) : undefined;
  logger.info(
    { holder, role: options.role, transport: app.transport().description, globalRateLimit: config.delivery.globalRateLimit || undefined },
    `worker ${holder} sends planned issues via ${app.transport().description}` +
      (config.delivery.globalRateLimit > 0 ? `, at most ${config.delivery.globalRateLimit} messages/s with every other sender` : '') +
      (hasTemplates ? '' : '; confirmation emails are left to an instance with the templates (no templates/ here)'),
  );
  const looping = runWorkerLoop({
    send: (run) => app.send({ ...run, plan: false }),
    holds: () => store.listSendHolds(),
    sleep: app.sleep,
    signal,
    log: logger,
    pollMs: { min: Math.min(FIRST_POLL_MS, config.delivery.pollSeconds * 1000), max: config.delivery.pollSeconds * 1000 },
    // PostgreSQL's LISTEN / NOTIFY: a newly planned issue wakes an idle worker at once.
    watchDue: store.watchDue ? (listener) => store.watchDue!(listener) : undefined,
  });
  await new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    signal.addEventListener('abort', () => resolve(), { once: true });
  });
  logger.info('stopping: no new rows are claimed; messages in flight finish');
  const timeout = new AbortController();
  const finished = await Promise.race([
    looping.then(() => true),
    app.sleep(config.schedule.shutdownTimeoutSeconds * 1000, timeout.signal).then(() => false),
  ]);
  timeout.abort();
  if (!finished) logger.warn(`messages still in flight after ${config.schedule.shutdownTimeoutSeconds} s; they are re-sent by the next sender once their lease lapses`);
  await mailQueue?.stop(config.server.shutdownTimeoutSeconds * 1000);
  await presence.stop();
  logger.info({ sent: app.senderStats().sentTotal }, `stopped (${app.senderStats().sentTotal} messages sent)`);
  return { finished };
}

/** `letterpress worker`: the action, loaded only when the command runs. */
export async function runWorkerCommand(command: Command, context: CommandContext, options: { store?: string }): Promise<void> {
  const { io } = context;
  const env: Record<string, string> = options.store !== undefined ? { LETTERPRESS_DB: options.store } : {};
  await context.withApp(
    command,
    async (app) => {
      assertStoreExists(app, options.store !== undefined || STORE_VARIABLES.some((name) => (io.env[name] ?? '') !== ''));
      const logger = createLogger({ write: (line) => io.stdout.write(line), pretty: io.stdout.isTTY === true });
      const stop = abortOnStopSignals((signal) => logger.info({ signal }, `${signal} received`));
      try {
        const { finished } = await runWorker(app, { logger, signal: stop.signal, role: 'worker' });
        // As the daemon: SMTP transactions that still hang are given up as a crash would; their
        // rows come back to the queue once their lease lapses.
        if (!finished) process.exit(0);
      } finally {
        stop.dispose();
      }
    },
    { env },
  );
}
