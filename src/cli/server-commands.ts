import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import type { FastifyInstance } from 'fastify';
import { loadKeyring, rotateKeyring } from '../deliver/keyring.ts';
import { createSubscriptionMailer } from '../deliver/subscription-mailer.ts';
import { createServer } from '../server/create-server.ts';
import { checkSiteUrl } from '../server/site-url-check.ts';
import { LetterpressError } from '../util/errors.ts';
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
    warn: (message: string) => void;
    /** Warn when out/ has no archive yet (not for the daemon, whose first pass builds it). */
    expectBuiltSite?: boolean;
  },
): Promise<{ url: string; close(): Promise<void> }> {
  const { loaded, clock } = app;
  const { port, host } = options;
  const store = await app.store();
  const keyring = await app.keyring();
  const transport = app.transport();
  const dkimPrivateKey = await app.dkimPrivateKey();
  const mailer = createSubscriptionMailer({ loaded, keyring, transport, clock, store, dkimPrivateKey });
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
    reloadKeyring: () => loadKeyring({ envSecret: loaded.secrets.tokenSecret, store, now: clock.now() }),
  });
  try {
    await server.listen({ port, host });
  } catch (error) {
    clearInterval(refresh);
    await server.close();
    const code = (error as NodeJS.ErrnoException).code;
    throw new LetterpressError('E_LISTEN', `cannot listen on ${host}:${port}: ${code === 'EADDRINUSE' ? 'the port is in use (try --port)' : (error as Error).message}`, {
      cause: error,
    });
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
        const running = await startHttpServer(app, {
          port,
          host,
          // Request logs go to stderr as JSON lines, with tokens and addresses redacted.
          logger: { level: 'info', stream: { write: (line: string) => io.stderr.write(line) } },
          warn: (message) => io.stderr.write(`letterpress: ${message}\n`),
        });
        io.stdout.write(`Serving ${path.relative(io.cwd, app.loaded.paths.out) || '.'}/ and the subscription routes at ${running.url} (public URL ${app.loaded.config.site.url})\n`);
        io.stdout.write(`  mail goes to ${app.transport().description}; press Ctrl-C to stop\n`);
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
