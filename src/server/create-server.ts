import { mkdir } from 'node:fs/promises';
import formbody from '@fastify/formbody';
import rateLimit from '@fastify/rate-limit';
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { siteInfoFromConfig } from '../project/site-info.ts';
import { loadTemplateSources } from '../project/load-templates.ts';
import type { LoadedConfig } from '../config/load-config.ts';
import { createOutgoingMailSender, mailQueuePolicy, type OutgoingMailSender } from '../deliver/outgoing-mail-sender.ts';
import { verifyToken, type Keyring, type TokenPurpose } from '../deliver/tokens.ts';
import { compileTemplates } from '../render/compile-templates.ts';
import { createSubscriptionPageRenderer, type SubscriptionPageKind } from '../render/render-subscription-page.ts';
import type { Store } from '../store/types.ts';
import type { Clock } from '../util/clock.ts';
import { LetterpressError } from '../util/errors.ts';
import { registerConfirmRoutes } from './confirm-route.ts';
import { maskEmailsIn, redactUrl } from './redact.ts';
import { registerSecurityHeaders } from './security-headers.ts';
import { wantsJson, type PageAnswer, type ServerContext } from './server-context.ts';
import { checkSiteUrl } from './site-url-check.ts';
import { createSiteCache, type SiteCache } from './site-cache.ts';
import { registerStaticSite } from './static-site.ts';
import { registerSubscribeRoutes } from './subscribe-route.ts';
import type { SubscriptionMailer } from './types.ts';
import { registerUnsubscribeRoutes } from './unsubscribe-route.ts';

/** Everything the server uses, wired by the caller (`letterpress serve`, tests, benchmarks). */
export interface ServerDependencies {
  loaded: LoadedConfig;
  store: Store;
  keyring: Keyring;
  clock: Clock;
  mailer: SubscriptionMailer;
  /** Fastify's logger option: false (default), true, or pino options (a `stream` for tests). */
  logger?: boolean | object;
  /** Log every request (`serve`); false: only what the routes log themselves (the daemon: subscribe, confirm, unsubscribe). */
  requestLogging?: boolean;
  /**
   * Reads the key ring again; called when a token names a key this process does not know
   * (a `letterpress secret rotate` after the server started), at most every 10 seconds.
   */
  reloadKeyring?: () => Promise<Keyring>;
  /** What serves out/ (default: a cache of out/ that reloads when a build touches its stamp). */
  siteCache?: SiteCache;
  /**
   * The sender of the queued subscription emails that the routes wake. Default: one made here
   * from `mailer`, running while the server is up (the serving process sends). A sender passed
   * in is only woken: its owner starts and stops it. `false`: nobody sends from this process.
   */
  mailQueue?: OutgoingMailSender | false;
}

/** One unsubscribe per mail provider IP is legitimate traffic: that route gets this many times the per-IP limit. */
export const UNSUBSCRIBE_LIMIT_FACTOR = 10;
const KEYRING_RELOAD_MS = 10_000;
/** What a 503 for a locked store tells the client: a writer's lock rarely lasts longer. */
export const STORE_BUSY_RETRY_SECONDS = 5;
/** Confirmation-log rows older than this are never read by a limit (the window is one day). */
const LOG_KEEP_MS = 2 * 24 * 60 * 60 * 1000;
const PRUNE_EVERY_MS = 60 * 60 * 1000;

const KIND_BY_STATUS: Readonly<Record<number, SubscriptionPageKind>> = { 404: 'not-found', 429: 'too-many-requests', 503: 'busy' };
/** How long a visitor is asked to wait when the store is busy. */

/**
 * Builds the HTTP server: the archive and feeds from out/, the subscription routes
 * (`/subscribe`, `/confirm`, `/unsubscribe`, `/resubscribe`), `/healthz` and `/readyz`. Reads no config or
 * env of its own; the caller listens and closes.
 */
export async function createServer(deps: ServerDependencies): Promise<FastifyInstance> {
  const { loaded, store, clock, mailer } = deps;
  const serverConfig = loaded.config.server;
  const site = siteInfoFromConfig(loaded.config);
  const templates = compileTemplates(await loadTemplateSources(loaded.paths.templates));
  const renderPage = createSubscriptionPageRenderer(templates, site);

  const app = Fastify({
    logger: loggerOptions(deps.logger),
    ...(deps.requestLogging === false ? { logController: new LogController({ disableRequestLogging: true }) } : {}),
    bodyLimit: serverConfig.bodyLimit,
    // Trust X-Forwarded-For from exactly this many hops (what fastify does for a number).
    trustProxy: serverConfig.trustProxy > 0 ? (_address: string, hop: number) => hop < serverConfig.trustProxy : false,
    return503OnClosing: true,
    // A client that sends headers and part of a body, or nothing at all, never holds a
    // connection for longer than this (408, or the socket is closed).
    requestTimeout: serverConfig.requestTimeoutMs,
    connectionTimeout: serverConfig.requestTimeoutMs,
    keepAliveTimeout: serverConfig.keepAliveTimeoutMs,
    http: {
      headersTimeout: serverConfig.requestTimeoutMs,
      requestTimeout: serverConfig.requestTimeoutMs,
      // Node checks both timeouts only this often (30 s by default).
      connectionsCheckingInterval: Math.min(30_000, Math.max(250, Math.floor(serverConfig.requestTimeoutMs / 4))),
    },
  });

  const queueConfig = serverConfig.mailQueue;
  const ownMailQueue = deps.mailQueue === undefined;
  const mailQueue: OutgoingMailSender | undefined =
    deps.mailQueue === false
      ? undefined
      : (deps.mailQueue ??
        createOutgoingMailSender({
          store,
          mailer,
          clock,
          log: app.log,
          redact: maskEmailsIn,
          policy: mailQueuePolicy(queueConfig),
        }));

  const siteWarning = checkSiteUrl(loaded.config.site.url);
  if (siteWarning !== undefined) app.log.warn(siteWarning);

  let keyring = deps.keyring;
  let lastReload = 0;

  const context: ServerContext = {
    loaded,
    store,
    clock,
    mailer,
    keyring: () => keyring,
    async verify(token: unknown, purpose: TokenPurpose) {
      if (typeof token !== 'string') return { ok: false, reason: 'malformed' } as const;
      const now = clock.now();
      let verified = verifyToken(keyring, token, { purpose, now });
      if (!verified.ok && verified.reason === 'unknown-key' && deps.reloadKeyring && Date.now() - lastReload > KEYRING_RELOAD_MS) {
        lastReload = Date.now();
        keyring = await deps.reloadKeyring();
        verified = verifyToken(keyring, token, { purpose, now });
      }
      return verified;
    },
    respond(request: FastifyRequest, reply: FastifyReply, status: number, answer: PageAnswer) {
      reply.code(status).header('cache-control', 'no-store').header('x-robots-tag', 'noindex');
      if (wantsJson(request)) {
        return reply.type('application/json; charset=utf-8').send(answer.json ?? { ok: status < 400, error: answer.kind });
      }
      const { json: _json, ...page } = answer;
      const html = renderPage({ ...page, path: request.url.split('?')[0] ?? '/' });
      return reply.type('text/html; charset=utf-8').send(html);
    },
    mailQueue: { wake: () => mailQueue?.wake() },
  };

  registerSecurityHeaders(app);

  app.removeContentTypeParser(['text/plain']);
  await app.register(formbody, { bodyLimit: serverConfig.bodyLimit });
  await app.register(rateLimit, {
    global: false,
    // request.ip honours server.trustProxy: behind N proxies it is the client's address.
    keyGenerator: (request) => request.ip,
    errorResponseBuilder: (_request, limit) => ({
      statusCode: 429,
      code: 'E_RATE_LIMIT',
      message: `too many requests: at most ${limit.max} a minute`,
    }),
  });

  const perIp = { max: serverConfig.limits.perIpPerMinute, timeWindow: 60_000 };
  const perIpUnsubscribe = { max: serverConfig.limits.perIpPerMinute * UNSUBSCRIBE_LIMIT_FACTOR, timeWindow: 60_000 };

  app.setErrorHandler((error: { statusCode?: number; code?: string; message?: string }, request, reply) => {
    const status = clientErrorStatus(error, request) ?? (isTemporary(error) ? 503 : 500);
    // A busy store recorded nothing: mail providers retry a one-click unsubscribe that answers
    // 503 with Retry-After, and the retry records it.
    if (status === 503) {
      const why = error.code === 'E_STORE_BUSY' ? 'the store is locked by another process: answered 503' : 'request refused: busy';
      request.log.warn({ code: error.code, message: maskEmailsIn(String(error.message ?? '')) }, why);
    }
    else if (status >= 500) request.log.error({ err: error }, 'request failed');
    else request.log.info({ code: error.code, statusCode: status }, 'request refused');
    const kind: SubscriptionPageKind = KIND_BY_STATUS[status] ?? (status >= 500 ? 'error' : 'bad-request');
    if (status === 429) reply.header('retry-after', '60');
    if (status === 503) reply.header('retry-after', String(STORE_BUSY_RETRY_SECONDS));
    return context.respond(request, reply, status, { kind, json: { ok: false, error: kind } });
  });

  app.setNotFoundHandler((request, reply) =>
    context.respond(request, reply, 404, { kind: 'not-found', json: { ok: false, error: 'not-found' } }),
  );

  // Liveness only: a store that is merely busy must not get the instance restarted or taken out.
  app.get('/healthz', async (_request, reply) => reply.header('cache-control', 'no-store').send({ ok: true }));

  app.get('/readyz', async (request, reply) => {
    try {
      await store.checkReady();
      return reply.header('cache-control', 'no-store').send({ ok: true, store: 'ready' });
    } catch (error) {
      const code = (error as { code?: string }).code;
      request.log.warn({ code }, 'readyz: the store cannot record changes now');
      return reply
        .code(503)
        .header('cache-control', 'no-store')
        .header('retry-after', String(STORE_BUSY_RETRY_SECONDS))
        .send({ ok: false, store: code === 'E_STORE_BUSY' ? 'busy' : 'error' });
    }
  });

  registerSubscribeRoutes(app, context, perIp);
  registerConfirmRoutes(app, context, perIp);
  await app.register(async (scope) => registerUnsubscribeRoutes(scope, context, { unsubscribe: perIpUnsubscribe, resubscribe: perIp }));
  await mkdir(loaded.paths.out, { recursive: true });
  const siteFiles = deps.siteCache ?? createSiteCache({ outDir: loaded.paths.out });
  await siteFiles.reload();
  // A build (this daemon's pass, or `letterpress build` beside `serve`) touches the stamp last.
  siteFiles.watch((error) => app.log.warn({ message: (error as Error).message ?? String(error) }, 'reloading out/ failed'));
  registerStaticSite(app, siteFiles);

  const prune = () => {
    const before = new Date(clock.now().getTime() - LOG_KEEP_MS).toISOString();
    return Promise.all([store.pruneConfirmationLog(before), store.pruneOutgoingMail(before)]).catch((error: unknown) => {
      app.log.error({ err: error }, 'pruning the confirmation log failed');
      return 0;
    });
  };
  const pruneTimer = setInterval(() => void prune(), PRUNE_EVERY_MS);
  pruneTimer.unref();
  app.addHook('onReady', async () => {
    // Not awaited: a store locked by another process must not hold up listening.
    void prune();
    // What is queued, including what a previous run left (a crash, a restart), goes out now.
    if (ownMailQueue) mailQueue?.start();
  });
  app.addHook('onClose', async () => {
    clearInterval(pruneTimer);
    siteFiles.close();
    // Emails in flight get the shutdown timeout; one still hanging keeps its lease and is sent
    // by the next run once the lease lapses.
    if (ownMailQueue) await mailQueue?.stop(serverConfig.shutdownTimeoutSeconds * 1000);
  });

  return app;
}

/**
 * The 4xx status an error stands for, or undefined for a server fault. Busboy reports a broken
 * multipart body (no boundary, cut short) as a plain Error while parsing it, before any route
 * code runs: that is the client's doing too.
 */
function clientErrorStatus(error: { statusCode?: number }, request: FastifyRequest): number | undefined {
  if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) return error.statusCode;
  const type = String(request.headers['content-type'] ?? '').toLowerCase();
  if (type.startsWith('multipart/') && !(error instanceof LetterpressError) && error.statusCode === undefined) return 400;
  return undefined;
}

/**
 * Whether an error means "try again shortly" rather than a bug: the store stayed locked by
 * another process (a long planning run, a backup) past its busy timeout.
 */
function isTemporary(error: { statusCode?: number }): boolean {
  if (error.statusCode === 503) return true;
  if (error instanceof LetterpressError && error.code === 'E_STORE_BUSY') return true;
  if (!(error instanceof LetterpressError) || error.code !== 'E_STORE') return false;
  const cause = (error.cause ?? {}) as { code?: unknown };
  return typeof cause.code === 'string' && /^SQLITE_(BUSY|LOCKED)/.test(cause.code);
}

/** Fastify's logger option with serializers that never show a token, an address or a cookie. */
function loggerOptions(logger: boolean | object | undefined): false | object {
  if (logger === undefined || logger === false) return false;
  const base = logger === true ? {} : logger;
  return {
    level: 'info',
    ...base,
    serializers: {
      req(request: { method: string; url: string; ip?: string }) {
        return { method: request.method, url: redactUrl(request.url), remoteAddress: request.ip };
      },
      res(reply: { statusCode: number }) {
        return { statusCode: reply.statusCode };
      },
    },
  };
}
