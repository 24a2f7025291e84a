import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { loadConfig, type LoadedConfig } from '../config/load-config.ts';
import type { BuildProgress, BuildReport } from '../build/build-site.ts';
import { deferTransport, describeSmtpEndpoint } from '../deliver/defer-transport.ts';
import type { IssueParser } from '../build/issue-parser.ts';
import { createWorkerIssueParser } from '../build/worker-issue-parser.ts';
import { createOutboxTransport } from '../deliver/outbox-transport.ts';
import { loadKeyring } from '../deliver/keyring.ts';
import { acquireRunnerLease, createHolderId, SEND_LEASE } from '../deliver/runner-lease.ts';
import type { SendEvent } from '../deliver/run-send.ts';
import type { SendReport } from '../deliver/send-issue.ts';
import type { Keyring } from '../deliver/tokens.ts';
import type { Transport } from '../deliver/types.ts';
import { archiveRecordedIssue, registerDueIssues, type ArchiveOutcome } from '../store/issue-registry.ts';
import { openStore } from '../store/open-store.ts';
import type { Store } from '../store/types.ts';
import { systemClock, type Clock } from '../util/clock.ts';
import { LetterpressError } from '../util/errors.ts';
import { abortableSleep, type Sleep } from '../util/sleep.ts';

/** The process-level facts every command receives instead of reading globals. */
export interface AppEnvironment {
  /** The project root (found by the CLI; relative paths in the config resolve against it). */
  root: string;
  /** The working directory, only for naming files in messages (default: the root). */
  cwd?: string;
  env: Readonly<Record<string, string | undefined>>;
  clock?: Clock;
  /** Replaces the configured transport (tests, benchmarks). */
  transport?: Transport;
  /** Sleeps, for retry waits; injectable so fault tests run in seconds. */
  sleep?: Sleep;
  random?: () => number;
  /** Replaces the worker that parses and renders issue files (tests: one that hangs). */
  issueParser?: IssueParser;
}

/** The wired application: config loaded once, each capability a method. */
export interface App {
  loaded: LoadedConfig;
  clock: Clock;
  /** Every wait of the app (retries, leases, the daemon's settle and shutdown waits). */
  sleep: Sleep;
  /** Builds out/ and records due issues in the store (new ones planned, the backlog archived). */
  build(
    onProgress?: (event: BuildProgress) => void,
    options?: {
      publish?: ReadonlySet<string>;
      archiveNew?: boolean;
      archive?: ReadonlySet<string>;
      /** Stops parsing (E_ABORTED) before anything is recorded: the daemon's shutdown. */
      signal?: AbortSignal;
    },
  ): Promise<BuildReport>;
  /**
   * Archives recorded issues (`letterpress archive <slug>`): site and feeds only. Waits for a
   * running send to finish first, so no sender is between planning and claiming.
   */
  archive(slugs: readonly string[], options?: { signal?: AbortSignal; onWait?: (holder: string, until: string) => void }): Promise<ArchiveOutcome[]>;
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
    /** When this sender tries again after a session error (the daemon's next pass). */
    nextRetryAt?: () => string | undefined;
  }): Promise<SendReport[]>;
  /** Parses and renders issue files off the event loop, within limits.parseSeconds per file. */
  issueParser: IssueParser;
  /** Where the outbox transport writes (shown to the user). */
  outboxDir: string;
  close(): Promise<void>;
}

/** The lease that serialises recording issues in the store (publishing), across processes. */
const PUBLISH_LEASE = 'publish';

/** The issue parser commands use: a worker thread with limits.parseSeconds per file. */
export function createIssueParserFor(loaded: LoadedConfig): IssueParser {
  return createWorkerIssueParser({ budgetMs: loaded.config.limits.parseSeconds * 1000 });
}

/** The one place where configuration and implementations are put together. */
export async function createApp(environment: AppEnvironment): Promise<App> {
  const loaded = await loadConfig({ root: environment.root, env: environment.env, cwd: environment.cwd });
  const clock = environment.clock ?? systemClock;
  const sleep = environment.sleep ?? abortableSleep;
  const random = environment.random ?? Math.random;
  const outboxDir = path.join(loaded.paths.data, 'outbox');
  let store: Promise<Store> | undefined;
  let transport: Transport | undefined;
  const issueParser =
    environment.issueParser ?? createIssueParserFor(loaded);

  const getStore = () => (store ??= openStore({ url: loaded.config.store.url, root: loaded.root, lockWaitMs: loaded.config.store.lockWaitMs }));

  const getTransport = (): Transport => {
    if (environment.transport) return environment.transport;
    if (transport) return transport;
    const smtp = loaded.config.smtp;
    if (!smtp.host) {
      transport = createOutboxTransport({ dir: outboxDir, description: `outbox ${path.relative(loaded.root, outboxDir) || outboxDir}` });
    } else {
      const options = {
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
      };
      transport = deferTransport({
        description: describeSmtpEndpoint(options),
        concurrency: options.maxConnections,
        load: () => import('../deliver/smtp-transport.ts').then(({ createSmtpTransport }) => createSmtpTransport(options)),
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

  // Rendering (Handlebars, markdown-it, MJML) and sending load only in the commands that use
  // them, so `status` starts in a fraction of the time.
  const build: App['build'] = async (onProgress, options = {}) => {
    const opened = await getStore();
    const { buildSite } = await import('../build/build-site.ts');
    return buildSite({
      loaded,
      clock,
      onProgress,
      parser: issueParser,
      signal: options.signal,
      register: async (entries) => {
        // Two processes recording issues at once (two daemons, a daemon and a `build`) could
        // otherwise both see a new store and disagree about the backlog: take turns.
        const lease = await acquireRunnerLease(PUBLISH_LEASE, createHolderId(), {
          store: opened,
          clock,
          sleep,
          leaseMs: 30_000,
        });
        try {
          const report = await registerDueIssues(opened, entries, {
            now: clock.now(),
            fileExists: (sourceFile) => existsSync(path.resolve(loaded.root, sourceFile)),
            explicit: options.publish,
            archiveNew: options.archiveNew,
            archive: options.archive,
          });
          // "Planned when published": the recipients are the subscribers active right now.
          for (const { slug, state } of report.added) {
            if (state !== 'published') continue;
            await opened.planDeliveries(slug, clock.now().toISOString());
            await opened.setIssueState(slug, 'planned');
          }
          if (report.unplan.length > 0) report.unplanned = await unplanIfNoSendRuns(opened, report.unplan);
          return report;
        } finally {
          await lease.release();
        }
      },
    });
  };

  // An issue whose front matter turned `email: false` while it waited to be sent. A build must
  // not wait for a long send to end, so it only tries the send lease once.
  const unplanIfNoSendRuns = async (opened: Store, slugs: readonly string[]): Promise<ArchiveOutcome[]> => {
    const holder = createHolderId();
    const now = clock.now();
    const taken = await opened.acquireLease(SEND_LEASE, holder, new Date(now.getTime() + 30_000).toISOString(), now.toISOString());
    if (!taken) {
      return slugs.map((slug) => ({
        slug,
        outcome: 'refused' as const,
        state: undefined,
        reason: `its front matter says \`email: false\` but a send is running; run \`letterpress archive ${slug}\` once it ends`,
      }));
    }
    try {
      const outcomes: ArchiveOutcome[] = [];
      for (const slug of slugs) outcomes.push(await archiveRecordedIssue(opened, slug));
      return outcomes;
    } finally {
      await opened.releaseLease(SEND_LEASE, holder);
    }
  };

  const archive: App['archive'] = async (slugs, options = {}) => {
    const opened = await getStore();
    const lease = await acquireRunnerLease(SEND_LEASE, createHolderId(), {
      store: opened,
      clock,
      sleep,
      leaseMs: loaded.config.delivery.leaseSeconds * 1000,
      onWait: options.onWait,
      signal: options.signal,
    });
    try {
      const outcomes: ArchiveOutcome[] = [];
      for (const slug of slugs) outcomes.push(await archiveRecordedIssue(opened, slug));
      return outcomes;
    } finally {
      await lease.release();
    }
  };

  return {
    loaded,
    clock,
    sleep,
    outboxDir,
    issueParser,
    build,
    archive,
    store: getStore,
    transport: getTransport,
    keyring: getKeyring,
    dkimPrivateKey: readDkimKey,
    async send(options = {}) {
      const opened = await getStore();
      const [{ runSend }, { prepareIssueEmail }] = await Promise.all([
        import('../deliver/run-send.ts'),
        import('../deliver/prepare-issue-email.ts'),
      ]);
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
          renderEmail: (record) => prepareIssueEmail(record, loaded, { parser: issueParser }),
          dkimPrivateKey: await readDkimKey(),
          signal: options.signal,
          onEvent: options.onEvent,
          nextRetryAt: options.nextRetryAt,
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
