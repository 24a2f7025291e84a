import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { loadConfig, type LoadedConfig } from '../config/load-config.ts';
import type { BuildProgress, BuildReport } from '../site/build-site.ts';
import { deferTransport, describeSmtpEndpoint } from '../deliver/defer-transport.ts';
import type { IssueParser } from '../project/issue-parser.ts';
import { createWorkerIssueParser } from '../project/worker-issue-parser.ts';
import { createOutboxTransport } from '../deliver/outbox-transport.ts';
import { loadKeyring } from '../deliver/keyring.ts';
import { createHolderId } from '../deliver/runner-lease.ts';
import type { SendEvent } from '../deliver/run-send.ts';
import type { SendReport } from '../deliver/send-issue.ts';
import type { Keyring } from '../deliver/tokens.ts';
import type { Transport } from '../deliver/types.ts';
import { countingTransport, type SenderStats } from '../deliver/sender-presence.ts';
import { createGlobalRateLimiter, rateLimitedTransport } from '../deliver/global-rate-limit.ts';
import { archiveRecordedIssue, registerDueIssues, type ArchiveOutcome, type RegisterReport } from '../store/issue-registry.ts';
import { openStore } from '../store/open-store.ts';
import type { IssueRecord, Store } from '../store/types.ts';
import type { LockWaitTiming } from '../store/sqlite-store.ts';
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
  /**
   * Times the store's wait for another process's lock (default: wall time). Apart from `clock`
   * on purpose: tests that pin the clock must not stop that wait from ever ending.
   */
  storeLockWait?: LockWaitTiming;
  random?: () => number;
  /** Replaces the worker that parses and renders issue files (tests: one that hangs). */
  issueParser?: IssueParser;
  /**
   * The command serves nothing and ends when done: small issue files are parsed on this
   * thread, big ones in the worker process (createOneShotIssueParser). Ignored with `issueParser`.
   */
  oneShotParser?: boolean;
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
   * Archives recorded issues (`letterpress archive <slug>`): site and feeds only. Needs no lease:
   * unplanning is one guarded transaction, refused once a sender moved the issue to `sending`
   * or claimed a row, and a sender that read `planned` before finds it archived and skips it.
   */
  archive(slugs: readonly string[]): Promise<ArchiveOutcome[]>;
  store(): Promise<Store>;
  transport(): Transport;
  keyring(): Promise<Keyring>;
  /** The PEM of `sender.dkim.privateKeyPath`, or undefined when DKIM is off (E_CONFIG names an unreadable file). */
  dkimPrivateKey(): Promise<string | undefined>;
  send(options?: {
    slug?: string;
    /** False: only issues already planned (a worker; planning needs the project tree). */
    plan?: boolean;
    signal?: AbortSignal;
    onEvent?: (event: SendEvent) => void;
    /** Published issues not to start now (waiting for the send window). */
    hold?: ReadonlySet<string>;
    /** When this sender tries again after a session error (the daemon's next pass). */
    nextRetryAt?: () => string | undefined;
  }): Promise<SendReport[]>;
  /** Parses and renders issue files off the event loop, within limits.parseSeconds per file. */
  issueParser: IssueParser;
  /** What this process's transport has carried so far (a sender's heartbeat reports it). */
  senderStats(): SenderStats;
  /** Where the outbox transport writes (shown to the user). */
  outboxDir: string;
  close(): Promise<void>;
}

/** The issue parser commands use: a worker process with limits.parseSeconds per file. */
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
    environment.issueParser ??
    (environment.oneShotParser
      ? // Loaded only here: the in-process parser brings the parser and renderer modules with it.
        (await import('../project/one-shot-issue-parser.ts')).createOneShotIssueParser({ budgetMs: loaded.config.limits.parseSeconds * 1000 })
      : createIssueParserFor(loaded));

  const getStore = () => (store ??= openStore({ url: loaded.config.store.url, root: loaded.root, lockWaitMs: loaded.config.store.lockWaitMs, lockWaitTiming: environment.storeLockWait }));

  let counted: ReturnType<typeof countingTransport> | undefined;
  /**
   * Every message of this process passes here: counted for the sender's heartbeat, and with
   * `delivery.globalRateLimit` each waits for its slot in the store first, whichever path sends
   * it (a send run, a worker, the subscription emails).
   */
  const getTransport = (): Transport => {
    if (counted) return counted.transport;
    const base = environment.transport ?? configuredTransport();
    const limit = loaded.config.delivery.globalRateLimit;
    const limited = limit > 0 ? rateLimitedTransport(base, createGlobalRateLimiter({ store: getStore, clock, sleep, ratePerSecond: limit })) : base;
    counted = countingTransport(limited);
    return counted.transport;
  };

  const configuredTransport = (): Transport => {
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
  const renderIssue = async (record: IssueRecord) =>
    (await import('../deliver/prepare-issue-email.ts')).prepareIssueRendition(record, loaded, { parser: issueParser });
  const sendDeps = (opened: Store) => ({ loaded, store: opened, clock, renderIssue });

  const build: App['build'] = async (onProgress, options = {}) => {
    const opened = await getStore();
    const { buildSite } = await import('../site/build-site.ts');
    let recorded: RegisterReport | undefined;
    const report = await buildSite({
      loaded,
      clock,
      onProgress,
      parser: issueParser,
      signal: options.signal,
      // Recording is compare-and-set (the first process to record a slug wins, states move only
      // by guarded transitions), so any number of processes may build and publish at once.
      register: async (entries) => {
        const registered = await registerDueIssues(opened, entries, {
          now: clock.now(),
          fileExists: (sourceFile) => existsSync(path.resolve(loaded.root, sourceFile)),
          explicit: options.publish,
          archiveNew: options.archiveNew,
          archive: options.archive,
        });
        if (registered.unplan.length > 0) registered.unplanned = await unplanIfNoSendRuns(opened, registered.unplan);
        recorded = registered;
        return registered;
      },
    });
    if (recorded) await planAndRefresh(opened, recorded);
    return report;
  };

  /**
   * After the build rendered them: "planned when published" (the recipients are the subscribers
   * active now, the rendition is stored before the issue reads `planned`), and every issue
   * still waiting to be sent gets the rendition of what the editor wrote now, under its render
   * key (out/ holds it: no second render). An issue being sent keeps its own; one planned before
   * renditions were stored gets one here.
   */
  const planAndRefresh = async (opened: Store, registered: RegisterReport): Promise<void> => {
    const [{ planIssue, renditionDependencies }, { refreshIssueRendition }] = await Promise.all([
      import('../deliver/run-send.ts'),
      import('../publish/issue-rendition.ts'),
    ]);
    const newlyPublished = new Set(registered.added.filter((entry) => entry.state === 'published').map((entry) => entry.slug));
    const renditions = renditionDependencies(sendDeps(opened));
    for (const record of await opened.listIssues()) {
      try {
        if (record.state === 'published' && newlyPublished.has(record.slug)) {
          // With a send window, an issue without its own publish_at waits for it: held in the
          // store before it is planned, so no worker (which has no window of its own) starts it.
          if (loaded.config.schedule.sendWindow !== undefined) {
            const stored = await refreshIssueRendition(renditions, record);
            if (stored && stored.publishAt === null) await opened.holdForSendWindow(record.slug, clock.now().toISOString());
          }
          await planIssue(sendDeps(opened), record);
        }
        else if (record.state === 'planned' || record.state === 'sending') await refreshIssueRendition(renditions, record);
      } catch (error) {
        // A broken issue file is reported by the build's diagnostics; its stored rendition stays.
        if (!(error instanceof LetterpressError) || ['E_INTERNAL', 'E_STORE', 'E_STORE_BUSY'].includes(error.code)) throw error;
      }
    }
  };

  // An issue whose front matter turned `email: false` while it waited to be sent: archived
  // unless a sender already took it (then the outcome says so and `letterpress archive` explains).
  const unplanIfNoSendRuns = async (opened: Store, slugs: readonly string[]): Promise<ArchiveOutcome[]> => {
    const outcomes: ArchiveOutcome[] = [];
    for (const slug of slugs) outcomes.push(await archiveRecordedIssue(opened, slug, clock.now().toISOString()));
    return outcomes;
  };

  const archive: App['archive'] = async (slugs) => unplanIfNoSendRuns(await getStore(), slugs);

  return {
    loaded,
    clock,
    sleep,
    outboxDir,
    issueParser,
    build,
    archive,
    senderStats: () => counted?.stats() ?? { inFlight: 0, sentTotal: 0 },
    store: getStore,
    transport: getTransport,
    keyring: getKeyring,
    dkimPrivateKey: readDkimKey,
    async send(options = {}) {
      const opened = await getStore();
      const { runSend } = await import('../deliver/run-send.ts');
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
          // A send renders only while planning; the worker's isolate (~25 MB) goes before the
          // rows are planned and the messages sent, instead of idling through a long run.
          renderIssue: async (record) => {
            try {
              return await renderIssue(record);
            } finally {
              issueParser.release?.();
            }
          },
          dkimPrivateKey: await readDkimKey(),
          signal: options.signal,
          onEvent: options.onEvent,
          nextRetryAt: options.nextRetryAt,
        },
        options.slug,
        { hold: options.hold, plan: options.plan },
      );
    },
    async close() {
      await issueParser.close();
      if (transport) await transport.close();
      if (store) await (await store).close();
    },
  };
}
