import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { createApp, type App } from '../../src/cli/app.ts';
import { loadKeyring } from '../../src/deliver/keyring.ts';
import type { SendOutcome } from '../../src/deliver/types.ts';
import { createOutgoingMailSender } from '../../src/deliver/outgoing-mail-sender.ts';
import { createServer } from '../../src/server/create-server.ts';
import { maskEmailsIn } from '../../src/server/redact.ts';
import type { SubscriptionMailer } from '../../src/server/types.ts';
import type { LockWaitTiming } from '../../src/store/sqlite-store.ts';
import type { Subscriber } from '../../src/store/types.ts';
import { createTempProject, REPO_ROOT } from '../helpers/temp-project.ts';

export const SECRET = 'server-test-secret-0123456789abcdefghij';

/** A clock the test moves by hand. */
export interface TestClock {
  now(): Date;
  advance(ms: number): void;
  set(iso: string): void;
}

export function createTestClock(start = '2026-03-01T10:00:00.000Z'): TestClock {
  let current = Date.parse(start);
  return {
    now: () => new Date(current),
    advance: (ms) => void (current += ms),
    set: (iso) => void (current = Date.parse(iso)),
  };
}

/** Every call the server made to the mailer, in order. */
export interface MailCall {
  kind: 'confirmation' | 'welcome';
  subscriber: Subscriber;
}

export interface ServerFixture {
  root: string;
  app: App;
  server: FastifyInstance;
  clock: TestClock;
  calls: MailCall[];
  /** True when the project's own mailer (src/deliver/subscription-mailer.ts) sends, into the outbox. */
  realMailer: boolean;
  /** Sends what the routes queued (the fixture's sender runs only when asked, so tests stay in step). */
  settle(): Promise<number>;
  close(): Promise<void>;
}

const REAL_MAILER = path.join(REPO_ROOT, 'src/deliver/subscription-mailer.ts');

/**
 * A temp project (samples built into out/), its real SQLite store, and the server on top, with
 * a test clock and a mailer that records every call: the project's own mailer behind the
 * recorder when it exists (messages land in data/outbox), else a recorder that sends nothing.
 */
export async function startServer(
  options: {
    env?: Record<string, string | undefined>;
    logger?: boolean | object;
    failingMailer?: boolean;
    build?: boolean;
    /** Times the store's wait for a lock (default: wall time). */
    storeLockWait?: LockWaitTiming;
  } = {},
): Promise<ServerFixture> {
  const root = await createTempProject();
  const clock = createTestClock();
  const env = {
    LETTERPRESS_SECRET: SECRET,
    LETTERPRESS_SERVER_LIMITS_PERIPPERMINUTE: '100000',
    LETTERPRESS_SERVER_LIMITS_MINFILLSECONDS: '2',
    ...options.env,
  };
  const app = await createApp({ root, env, clock, storeLockWait: options.storeLockWait });
  if (options.build ?? true) await app.build();
  const store = await app.store();
  const keyring = await app.keyring();
  const calls: MailCall[] = [];
  let inner: SubscriptionMailer | undefined;
  const realMailer = existsSync(REAL_MAILER) && !options.failingMailer;
  if (realMailer) {
    const { createSubscriptionMailer } = (await import(REAL_MAILER)) as {
      createSubscriptionMailer: (deps: object) => SubscriptionMailer;
    };
    inner = createSubscriptionMailer({ loaded: app.loaded, keyring, transport: app.transport(), clock, store });
  }
  const sent: SendOutcome = { status: 'sent', reply: '250 recorded' };
  const mailer: SubscriptionMailer = {
    async sendConfirmation(subscriber) {
      calls.push({ kind: 'confirmation', subscriber });
      if (options.failingMailer) throw new Error('relay down for reader@example.org');
      return inner ? inner.sendConfirmation(subscriber) : sent;
    },
    async sendWelcome(subscriber) {
      calls.push({ kind: 'welcome', subscriber });
      if (options.failingMailer) throw new Error('relay down');
      return inner ? inner.sendWelcome(subscriber) : sent;
    },
  };
  const mailQueue = createOutgoingMailSender({
    store,
    mailer,
    clock,
    // The server's own logger, once it exists: what the queue logs shows up where requests log.
    log: {
      info: (fields, message) => server.log.info(fields, message),
      warn: (fields, message) => server.log.warn(fields, message),
      error: (fields, message) => server.log.error(fields, message),
    },
    redact: maskEmailsIn,
    policy: { retryBaseMs: 1000, retryMaxMs: 10_000, maxAttempts: 3, leaseMs: 60_000, pollMs: 60_000 },
  });
  const server = await createServer({
    loaded: app.loaded,
    store,
    keyring,
    clock,
    mailer,
    mailQueue,
    logger: options.logger ?? false,
    reloadKeyring: () => loadKeyring({ envSecret: app.loaded.secrets.tokenSecret, store, now: clock.now() }),
  });
  await server.ready();
  return {
    root,
    app,
    server,
    clock,
    calls,
    realMailer,
    settle: () => mailQueue.runOnce(),
    async close() {
      await server.close();
      await app.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** A urlencoded body from fields. */
export function form(fields: Record<string, string>): string {
  return new URLSearchParams(fields).toString();
}

export const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
export const JSON_TYPE = { 'content-type': 'application/json' };
