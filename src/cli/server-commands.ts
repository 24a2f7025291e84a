import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import type { FastifyInstance } from 'fastify';
import { loadKeyring, rotateKeyring } from '../deliver/keyring.ts';
import { checkSiteUrl } from '../server/site-url-check.ts';
import { LetterpressError } from '../util/errors.ts';
import { formatLocalTime } from '../util/timezone.ts';
import { readDaemonView, type DaemonStatus } from '../schedule/daemon-status.ts';
import type { OutgoingMailLog } from '../deliver/outgoing-mail-sender.ts';
import type { App } from './app.ts';
import { parsePort, waitForStopSignal } from './cli-options.ts';
import type { CommandContext } from './command-context.ts';

/** How often a running server re-reads the signing keys (after `secret rotate`). */
const KEYRING_REFRESH_MS = 60_000;

/**
 * Wires and starts the HTTP server of an app (archive, feeds, subscription routes) on
 * `host:port`: shared by `letterpress serve` and the daemon of `letterpress start`.
 */
export async function startHttpServer(
  app: App,
  options: {
    port: number;
    host: string;
    logger: boolean | object;
    /** Log every request; false: only the subscription routes' own lines. Default true. */
    requestLogging?: boolean;
    warn: (message: string) => void;
    /** Warn when out/ has no archive yet (not for the daemon, whose first pass builds it). */
    expectBuiltSite?: boolean;
    /** The command being run, for the "pick another port" hint. */
    command: 'serve' | 'start';
  },
): Promise<{ url: string; close(): Promise<void> }> {
  const { loaded, clock } = app;
  const { port, host } = options;
  // fastify and the confirmation email's renderer load here, with the server, so that the
  // commands which register next to `serve` (status, send, …) start without them.
  const [{ createServer }, { createSubscriptionMailer }] = await Promise.all([
    import('../server/create-server.ts'),
    import('../deliver/subscription-mailer.ts'),
  ]);
  const store = await app.store();
  const keyring = await app.keyring();
  const transport = app.transport();
  const dkimPrivateKey = await app.dkimPrivateKey();
  const mailer = createSubscriptionMailer({ loaded, keyring, transport, clock, store, dkimPrivateKey, issueParser: app.issueParser });
  // The mailer and the routes hold this one key ring: refreshing it in place makes a key added
  // by `letterpress secret rotate` sign new links within a minute, with no restart.
  const refresh = setInterval(() => {
    loadKeyring({ envSecret: loaded.secrets.tokenSecret, store, now: clock.now() }).then(
      (fresh) => Object.assign(keyring, fresh),
      () => {
        // The store is busy or gone; the current keys stay in use and the next refresh retries.
      },
    );
  }, KEYRING_REFRESH_MS);
  refresh.unref();
  const warning = checkSiteUrl(loaded.config.site.url);
  if (warning !== undefined) options.warn(`warning: ${warning}`);
  if (options.expectBuiltSite !== false && !existsSync(path.join(loaded.paths.out, 'index.html'))) {
    options.warn(`${loaded.paths.out} has no index.html yet: run \`letterpress build\` to publish the archive`);
  }
  const server = await createServer({
    loaded,
    store,
    keyring,
    clock,
    mailer,
    logger: options.logger,
    requestLogging: options.requestLogging,
    reloadKeyring: () => loadKeyring({ envSecret: loaded.secrets.tokenSecret, store, now: clock.now() }),
  });
  try {
    await server.listen({ port, host });
  } catch (error) {
    clearInterval(refresh);
    await server.close();
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      code === 'EADDRINUSE'
        ? describePortInUse({ port, command: options.command, daemon: await readDaemonView(loaded.paths.data), timezone: loaded.config.timezone })
        : (error as Error).message;
    throw new LetterpressError('E_LISTEN', `cannot listen on ${host}:${port}: ${reason}`, { cause: error });
  }
  const address = server.server.address();
  const actualPort = typeof address === 'object' && address !== null ? address.port : port;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shownHost}:${actualPort}/`,
    close: async () => {
      clearInterval(refresh);
      await closeWithin(server, loaded.config.server.shutdownTimeoutSeconds * 1000);
    },
  };
}

/**
 * Runs the sender of queued subscription emails on its own, for a process that sends without
 * serving HTTP (`letterpress start --no-serve`): confirmations queued by a `serve` elsewhere, or
 * left by a run that stopped, still go out. A serving process needs none: its server runs one.
 */
export async function startMailQueue(app: App, log: OutgoingMailLog): Promise<{ stop(timeoutMs: number): Promise<void> }> {
  const { loaded, clock } = app;
  const [{ createOutgoingMailSender, mailQueuePolicy }, { createSubscriptionMailer }, { maskEmailsIn }] = await Promise.all([
    import('../deliver/outgoing-mail-sender.ts'),
    import('../deliver/subscription-mailer.ts'),
    import('../server/redact.ts'),
  ]);
  const store = await app.store();
  const keyring = await app.keyring();
  const mailer = createSubscriptionMailer({ loaded, keyring, transport: app.transport(), clock, store, dkimPrivateKey: await app.dkimPrivateKey(), issueParser: app.issueParser });
  const sender = createOutgoingMailSender({
    store,
    mailer,
    clock,
    log,
    redact: maskEmailsIn,
    policy: mailQueuePolicy(loaded.config.server.mailQueue),
  });
  sender.start();
  return { stop: (timeoutMs) => sender.stop(timeoutMs) };
}

/**
 * Why a port is taken and what to do, in plain words: our own daemon (from data/daemon.json)
 * is named with its pid and start time; the hint shows the flag and the npm form, since
 * `npm start --port N` would hand the flag to npm, not to Letterpress.
 */
export function describePortInUse(options: {
  port: number;
  command: 'serve' | 'start';
  daemon: (DaemonStatus & { alive: boolean }) | undefined;
  timezone: string;
}): string {
  const { port, daemon } = options;
  const other = port >= 65535 ? port - 1 : port + 1;
  const daemonPort = daemon?.url ? Number(new URL(daemon.url).port || 80) : undefined;
  const holder =
    daemon?.alive === true && daemonPort === port
      ? `the port is in use by the Letterpress daemon already running here (pid ${daemon.pid}, since ${formatLocalTime(daemon.startedAt, options.timezone, { seconds: true })}${daemon.url ? `, serving ${daemon.url}` : ''})\n  stop it first (Ctrl-C in its terminal, or kill ${daemon.pid}), or`
      : 'the port is in use by another program\n ';
  const npm = options.command === 'start' ? ` (with npm: npm start -- --port ${other})` : '';
  return `${holder} pick another port: letterpress ${options.command} --port ${other}${npm},\n  or set server.port in config/letterpress.json`;
}

/**
 * What to do next, in plain words, once the server listens: where issues go, the URL, how to
 * subscribe and where mail goes. Shown by `start` and `serve` on a terminal.
 */
export function describeNextSteps(
  app: App,
  options: { url?: string; cwd: string; daemon: boolean; role?: 'all' | 'web' | 'scheduler' | 'worker' },
): string[] {
  const { loaded } = app;
  const role = options.role ?? 'all';
  const relative = (dir: string) => `${path.relative(options.cwd, dir) || '.'}/`;
  const lines: string[] = [];
  if (options.url) lines.push(`Letterpress is running${role === 'all' ? '' : ` (role ${role})`}: the archive is at ${options.url}`);
  else lines.push(`Letterpress is running (${role === 'all' ? 'not serving HTTP: --no-serve' : `role ${role}, not serving HTTP`}).`);
  // Only the roles that watch issues/ and plan (all, scheduler) take new issue files.
  if (options.daemon && role !== 'web' && role !== 'worker') {
    lines.push(`  new issue: drop a Markdown file into ${relative(loaded.paths.issues)}; it goes on the site and out by email when due`);
    lines.push('  try one first: npx letterpress preview issues/FILE.md (drafts too)');
  }
  if (options.url) lines.push(`  subscribe: ${new URL('subscribe', options.url)} or npx letterpress subscribers add you@example.org`);
  if (role === 'scheduler' || role === 'web') lines.push(`  mail: sent by the instances with role all or worker (this one, role ${role}, sends no issue)`);
  else
    lines.push(
      loaded.config.smtp.host
        ? `  mail goes to ${app.transport().description}`
        : `  mail: no SMTP server set, so messages are written to ${relative(app.outboxDir)} (set LETTERPRESS_SMTP_URL to send)`,
    );
  lines.push(`  ${options.daemon ? 'what happened: npx letterpress status; ' : ''}stop: Ctrl-C`);
  return lines;
}

/**
 * Closes the server: no new connections, idle ones closed at once, requests in flight given up
 * to `timeoutMs` to finish; then every connection still open (a client that stopped halfway
 * through its request) is cut, so a stop never waits on a client.
 */
export async function closeWithin(server: FastifyInstance, timeoutMs: number): Promise<void> {
  const cut = setTimeout(() => server.server.closeAllConnections(), timeoutMs);
  try {
    await server.close();
  } finally {
    clearTimeout(cut);
  }
}

/** `letterpress serve` (the subscription server, archive and feeds) and `letterpress secret rotate`. */
export function registerServerCommands(program: Command, context: CommandContext): void {
  const { io } = context;

  program
    .command('serve')
    .description('serve the archive and feeds from out/, and subscribe, confirm and unsubscribe (RFC 8058) over HTTP')
    .option('--port <port>', 'port to listen on (default: server.port, 8080; 0 picks a free one)')
    .option('--host <host>', 'address to listen on (default: server.host, 127.0.0.1)')
    .action(async (options: { port?: string; host?: string }, command: Command) => {
      await context.withApp(command, async (app) => {
        const port = parsePort(options.port, app.loaded.config.server.port);
        const host = options.host ?? app.loaded.config.server.host;
        const stopped = waitForStopSignal();
        const { createLogWriter } = await import('../util/logger.ts');
        const running = await startHttpServer(app, {
          port,
          host,
          // Request logs go to stderr, tokens and addresses redacted: JSON lines through a pipe,
          // readable lines on a terminal (fastify's own lines included).
          logger: { level: 'info', stream: { write: createLogWriter({ write: (line) => io.stderr.write(line), pretty: io.stderr.isTTY === true }) } },
          warn: (message) => io.stderr.write(`letterpress: ${message}\n`),
          command: 'serve',
        });
        io.stdout.write(`Serving ${path.relative(io.cwd, app.loaded.paths.out) || '.'}/ and the subscription routes at ${running.url} (public URL ${app.loaded.config.site.url})\n`);
        for (const line of describeNextSteps(app, { url: running.url, cwd: io.cwd, daemon: false }).slice(1)) io.stdout.write(`${line}\n`);
        const signal = await stopped;
        io.stdout.write(`${signal}: closing (requests and emails in flight get up to ${app.loaded.config.server.shutdownTimeoutSeconds} s to finish)…\n`);
        await running.close();
        io.stdout.write('Stopped.\n');
      });
    });

  const secret = program.command('secret').description('the keys that sign unsubscribe and confirmation links');

  secret
    .command('rotate')
    .description('add a new signing key; links signed with older keys keep working')
    .action(async (_options: unknown, command: Command) => {
      await context.withApp(command, async (app) => {
        const store = await app.store();
        const kid = await rotateKeyring({ store, now: app.clock.now() });
        io.stdout.write(`Added signing key ${kid}: new links are signed with it; every older key still verifies.\n`);
        if (app.loaded.secrets.tokenSecret !== undefined) {
          io.stdout.write('  note: LETTERPRESS_SECRET is set, so it keeps signing new links; unset it to sign with the stored keys.\n');
        }
        io.stdout.write('  a running `letterpress serve` or daemon signs with it within a minute, by itself.\n');
      });
    });
}
