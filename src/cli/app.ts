import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { loadConfig, type LoadedConfig } from '../config/load-config.ts';
import { buildSite, type BuildProgress, type BuildReport } from '../build/build-site.ts';
import type { IssueParser } from '../build/issue-parser.ts';
import { createWorkerIssueParser } from '../build/worker-issue-parser.ts';
import { createOutboxTransport } from '../deliver/outbox-transport.ts';
import { loadKeyring } from '../deliver/keyring.ts';
import { prepareIssueEmail } from '../deliver/prepare-issue-email.ts';
import { acquireRunnerLease, createHolderId } from '../deliver/runner-lease.ts';
import { runSend, type SendEvent } from '../deliver/run-send.ts';
import type { SendReport } from '../deliver/send-issue.ts';
import { createSmtpTransport } from '../deliver/smtp-transport.ts';
import type { Keyring } from '../deliver/tokens.ts';
import type { Transport } from '../deliver/types.ts';
import { registerDueIssues } from '../store/issue-registry.ts';
import { openStore } from '../store/open-store.ts';
import type { Store } from '../store/types.ts';
import { systemClock, type Clock } from '../util/clock.ts';
import { LetterpressError } from '../util/errors.ts';

/** The process-level facts every command receives instead of reading globals. */
export interface AppEnvironment {
  root: string;
  env: Readonly<Record<string, string | undefined>>;
  clock?: Clock;
  /** Replaces the configured transport (tests, benchmarks). */
  transport?: Transport;
  /** Sleeps, for retry waits; injectable so fault tests run in seconds. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  random?: () => number;
  /** Replaces the worker that parses and renders issue files (tests: one that hangs). */
  issueParser?: IssueParser;
}

/** The wired application: config loaded once, each capability a method. */
export interface App {
  loaded: LoadedConfig;
  clock: Clock;
  /** Builds out/ and records due issues in the store (new ones planned, the backlog archived). */
  build(
    onProgress?: (event: BuildProgress) => void,
    options?: { publish?: ReadonlySet<string>; archiveNew?: boolean },
  ): Promise<BuildReport>;
  store(): Promise<Store>;
  transport(): Transport;
  keyring(): Promise<Keyring>;
  /** The PEM of `sender.dkim.privateKeyPath`, or undefined when DKIM is off (E_CONFIG names an unreadable file). */
  dkimPrivateKey(): Promise<string | undefined>;
  send(options?: {
    slug?: string;
    signal?: AbortSignal;
    onEvent?: (event: SendEvent) => void;
    /** Published issues not to start now (waiting for the send window). */
    hold?: ReadonlySet<string>;
  }): Promise<SendReport[]>;
  /** Parses and renders issue files off the event loop, within limits.parseSeconds per file. */
  issueParser: IssueParser;
  /** Where the outbox transport writes (shown to the user). */
  outboxDir: string;
  close(): Promise<void>;
}

/** The lease that serialises recording issues in the store (publishing), across processes. */
const PUBLISH_LEASE = 'publish';

const abortableSleep = async (ms: number, signal?: AbortSignal) => {
  try {
    await delay(ms, undefined, { signal });
  } catch {
    // Aborted: the caller checks its signal.
  }
};

/** The issue parser commands use: a worker thread with limits.parseSeconds per file. */
export function createIssueParserFor(loaded: LoadedConfig): IssueParser {
  return createWorkerIssueParser({ budgetMs: loaded.config.limits.parseSeconds * 1000 });
}

/** The one place where configuration and implementations are put together. */
export async function createApp(environment: AppEnvironment): Promise<App> {
  const loaded = await loadConfig({ root: environment.root, env: environment.env });
  const clock = environment.clock ?? systemClock;
  const sleep = environment.sleep ?? abortableSleep;
  const random = environment.random ?? Math.random;
  const outboxDir = path.join(loaded.paths.data, 'outbox');
  let store: Promise<Store> | undefined;
  let transport: Transport | undefined;
  const issueParser =
    environment.issueParser ?? createIssueParserFor(loaded);

  const getStore = () => (store ??= openStore({ url: loaded.config.store.url, root: loaded.root }));

  const getTransport = (): Transport => {
    if (environment.transport) return environment.transport;
    if (transport) return transport;
    const smtp = loaded.config.smtp;
    if (!smtp.host) {
      transport = createOutboxTransport({ dir: outboxDir, description: `outbox ${path.relative(loaded.root, outboxDir) || outboxDir}` });
    } else {
      transport = createSmtpTransport({
        host: smtp.host,
        port: smtp.port,
        secure: smtp.secure,
        requireTLS: smtp.requireTLS,
        tlsRejectUnauthorized: smtp.tlsRejectUnauthorized,
        user: smtp.user,
        pass: loaded.secrets.smtpPass,
        clientName: smtp.clientName ?? new URL(loaded.config.site.url).hostname,
        maxConnections: smtp.pool.maxConnections,
        maxMessages: smtp.pool.maxMessages,
        rateLimit: smtp.pool.rateLimit,
        timeouts: smtp.timeouts,
      });
    }
    return transport;
  };

  // Read afresh each time (one small query): after `letterpress secret rotate`, the next send
  // run of a long-lived daemon signs with the new key.
  const getKeyring = () =>
    getStore().then((opened) => loadKeyring({ envSecret: loaded.secrets.tokenSecret, store: opened, now: clock.now() }));

  const readDkimKey = async (): Promise<string | undefined> => {
    const dkim = loaded.config.sender.dkim;
    if (!dkim) return undefined;
    const file = path.resolve(loaded.root, dkim.privateKeyPath);
    try {
      return await readFile(file, 'utf8');
    } catch (error) {
      throw new LetterpressError('E_CONFIG', `sender.dkim.privateKeyPath: cannot read ${file}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  };

  const build: App['build'] = async (onProgress, options = {}) => {
    const opened = await getStore();
    return buildSite({
      loaded,
      clock,
      onProgress,
      parser: issueParser,
      register: async (entries) => {
        // Two processes recording issues at once (two daemons, a daemon and a `build`) could
        // otherwise both see a new store and disagree about the backlog: take turns.
        const lease = await acquireRunnerLease(PUBLISH_LEASE, createHolderId(), {
          store: opened,
          clock,
          sleep: (ms) => sleep(ms),
          leaseMs: 30_000,
        });
        try {
          const report = await registerDueIssues(opened, entries, {
            now: clock.now(),
            fileExists: (sourceFile) => existsSync(path.resolve(loaded.root, sourceFile)),
            explicit: options.publish,
            archiveNew: options.archiveNew,
          });
          // "Planned when published": the recipients are the subscribers active right now.
          for (const { slug, state } of report.added) {
            if (state !== 'published') continue;
            await opened.planDeliveries(slug, clock.now().toISOString());
            await opened.setIssueState(slug, 'planned');
          }
          return report;
        } finally {
          await lease.release();
        }
      },
    });
  };

  return {
    loaded,
    clock,
    outboxDir,
    issueParser,
    build,
    store: getStore,
    transport: getTransport,
    keyring: getKeyring,
    dkimPrivateKey: readDkimKey,
    async send(options = {}) {
      const opened = await getStore();
      return runSend(
        {
          loaded,
          store: opened,
          transport: getTransport(),
          clock,
          sleep,
          random,
          keyring: await getKeyring(),
          holder: createHolderId(),
          renderEmail: (record) => prepareIssueEmail(record, loaded),
          dkimPrivateKey: await readDkimKey(),
          signal: options.signal,
          onEvent: options.onEvent,
        },
        options.slug,
        { hold: options.hold },
      );
    },
    async close() {
      await issueParser.close();
      if (transport) await transport.close();
      if (store) await (await store).close();
    },
  };
}
