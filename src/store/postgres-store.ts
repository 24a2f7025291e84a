import { setTimeout as delay } from 'node:timers/promises';
import pg from 'pg';
import { LetterpressError } from '../util/errors.ts';
import { addressKeys } from './address-hashes.ts';
import { toClaimedDelivery, toClaimedMail, type ClaimedDeliveryRow, type ClaimedMailRow } from './claimed-rows.ts';
import { loadMigrations, loadQueries, type Migration } from './load-sql.ts';
import { bindParameters, compileNamedParameters, type CompiledQuery } from './named-parameters.ts';
import { planInChunks } from './plan-in-chunks.ts';
import { describePostgresTarget, maskStoreUrl } from './store-location.ts';
import { duplicateSecretError, markOutcome, requireHolder, toDeliveryCounts, toInstant, toMarkRows, toRowLimit, unknownIssueError } from './store-input.ts';
import { confirmationFacts, mayReserveConfirmation, mayUnplan, planUpsert, shouldActivate, type UpsertInput, type UpsertResult } from './subscriber-rules.ts';
import type {
  ConfirmationFacts,
  ConfirmationRequestResult,
  Delivery,
  DeliveryCounts,
  DeliveryMark,
  DeliveryState,
  IssueRecord,
  IssueState,
  OutgoingMail,
  OutgoingMailState,
  SendStall,
  Store,
  StoredRendition,
  Subscriber,
  SubscriberStatus,
  WorkerRecord,
} from './types.ts';

/**
 * Active subscribers per planning statement. Each chunk is one set-based INSERT … SELECT in its
 * own short transaction; PostgreSQL takes far bigger ones than SQLite's writer lock should.
 */
const PLAN_CHUNK_SIZE = 100_000;

/** Connections per process: a sender, the HTTP server and the heartbeat at once, with room. */
const POOL_SIZE = 10;

/** How long `checkReady` (`/readyz`) waits for an answer. */
const READY_TIMEOUT_MS = 2_000;

/** How long opening waits for a connection before it says the server does not answer. */
const CONNECT_TIMEOUT_MS = 5_000;

/** Default total wait on lock and serialization conflicts before E_STORE_BUSY (config store.lockWaitMs). */
const DEFAULT_LOCK_WAIT_MS = 5_000;
const FIRST_RETRY_MS = 5;
const MAX_RETRY_MS = 100;

/** The NOTIFY channel that wakes senders: its payload is the issue slug with rows to claim. */
export const DUE_CHANNEL = 'letterpress_due';

/** SQLSTATEs of conflicts that a retry of the whole call resolves (serialization, deadlock, lock not available). */
const RETRYABLE = new Set(['40001', '40P01', '55P03']);

const QUERY_FILES = {
  connection: [
    'lock-migrations',
    'unlock-migrations',
    'create-migrations-table',
    'list-migrations',
    'record-migration',
    'lock-address',
    'lock-confirmation-log',
    'lock-ledger-shared',
    'lock-ledger-exclusive',
    'notify-due',
    'ping',
  ],
  subscribers: [
    'get-by-id',
    'get-many-by-id',
    'get-by-key',
    'lock-by-id',
    'insert',
    'update-details',
    'set-status',
    'list-all',
    'list-by-status',
    'count-all',
    'count-by-status',
    'delete-by-id',
    'get-suppression',
    'insert-suppression',
    'delete-suppression',
  ],
  issues: ['get', 'lock', 'find-by-content-hash', 'list', 'record', 'save', 'transition', 'archive-unsent', 'has-any', 'created-at'],
  renditions: ['get', 'save'],
  deliveries: [
    'plan-chunk',
    'claim',
    'mark',
    'renew',
    'release',
    'requeue-orphans',
    'count-in-flight',
    'next-deferred-at',
    'list-all',
    'list-by-state',
    'delete-planned',
    'count-unplannable',
    'delete-by-subscriber',
    'count-by-state',
  ],
  leases: ['acquire', 'release', 'get'],
  secrets: ['list', 'add'],
  'confirmation-log': ['history', 'latest', 'mailbox-count', 'overall-count', 'insert', 'prune'],
  'outgoing-mail': ['insert', 'claim', 'finish', 'next-due', 'list', 'prune'],
  'send-stalls': ['record', 'clear', 'get'],
  workers: ['beat', 'remove', 'prune', 'list-live'],
  'rate-slots': ['reserve'],
  'send-holds': ['hold', 'list', 'release-all'],
} as const;

type QueryFiles = typeof QUERY_FILES;
type Queries = { [File in keyof QueryFiles]: Record<QueryFiles[File][number], CompiledQuery> };

/** Options of a PostgreSQL store; `lockWaitMs` is config `store.lockWaitMs`. */
export interface PostgresStoreOptions {
  /** `postgres://user:password@host:port/database` (node-postgres connection string). */
  url: string;
  /** Total time a call retries lock and serialization conflicts before E_STORE_BUSY. */
  lockWaitMs?: number;
}

/**
 * bigint (int8: ids, counts) as a JavaScript number: ids and counts stay far below 2^53, and
 * every caller expects numbers, as SQLite gives them. Only this store's connections parse so.
 */
const TYPES = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === pg.types.builtins.INT8 ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

/** Something that runs one query: the pool (a statement on its own) or a client inside a transaction. */
interface Queryable {
  query: pg.Pool['query'];
}

/**
 * Opens a PostgreSQL store: a connection pool, and the pending migrations applied (all or none,
 * in one transaction) under an advisory lock, so several processes starting at once migrate once
 * and the others wait and find the schema done. The database itself must exist.
 */
export async function openPostgresStore(options: PostgresStoreOptions): Promise<Store> {
  const target = describePostgresTarget(options.url);
  const queries = await loadAllQueries();
  const migrations = await loadMigrations('postgres');
  const config: pg.PoolConfig = {
    connectionString: options.url,
    max: POOL_SIZE,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    application_name: 'letterpress',
    types: TYPES,
  };
  const pool = new pg.Pool(config);
  // An idle connection that the server drops (a restart) must not crash the process: the
  // next query takes another connection, or reports the failure to its caller.
  pool.on('error', () => undefined);
  try {
    await applyMigrations(pool, queries.connection, migrations);
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw toStoreError(options.url, target, error);
  }
  return new PostgresStore(options.url, target, pool, queries, options.lockWaitMs ?? DEFAULT_LOCK_WAIT_MS);
}

async function loadAllQueries(): Promise<Queries> {
  const entries = await Promise.all(
    Object.entries(QUERY_FILES).map(async ([file, names]) => {
      const sql = await loadQueries('postgres', `${file}.sql`, names);
      const compiled = Object.entries(sql).map(([name, text]) => {
        const query = compileNamedParameters(text as string);
        // Statements with parameters are the ones run again and again (claims, marks, the
        // re-check of a subscriber before each message): each pooled connection prepares them
        // once, so the server parses and plans them once per connection instead of per call.
        // Parameterless ones (locks, the schema-version table) may hold several statements,
        // which a prepared statement cannot.
        return [name, query.names.length > 0 ? { ...query, prepareAs: `letterpress_${file}_${name}` } : query] as const;
      });
      return [file, Object.fromEntries(compiled)] as const;
    }),
  );
  return Object.fromEntries(entries) as Queries;
}

async function run<Row extends pg.QueryResultRow = Record<string, unknown>>(
  db: Queryable,
  query: CompiledQuery,
  params: Readonly<Record<string, unknown>> = {},
): Promise<pg.QueryResult<Row>> {
  return db.query<Row>({ name: query.prepareAs, text: query.text, values: bindParameters(query, params) });
}

/**
 * Applies the migrations the database lacks, in one transaction, holding the migration lock
 * (a session-level advisory lock) meanwhile; an up-to-date database is only read.
 */
async function applyMigrations(pool: pg.Pool, sql: Queries['connection'], migrations: readonly Migration[]): Promise<void> {
  const newest = Math.max(0, ...migrations.map((migration) => migration.version));
  const client = await pool.connect();
  try {
    await run(client, sql['lock-migrations']);
    try {
      await run(client, sql['create-migrations-table']);
      const applied = new Set((await run<{ version: number }>(client, sql['list-migrations'])).rows.map((row) => row.version));
      const unknown = [...applied].filter((version) => version > newest);
      if (unknown.length > 0) {
        throw new LetterpressError('E_STORE', `schema version ${Math.max(...unknown)} is newer than this Letterpress knows (${newest}); upgrade Letterpress`);
      }
      const pending = migrations.filter((migration) => !applied.has(migration.version));
      if (pending.length === 0) return;
      await client.query('BEGIN');
      try {
        for (const migration of pending) {
          await client.query(migration.sql);
          await run(client, sql['record-migration'], { version: migration.version, name: migration.name, appliedAt: new Date().toISOString() });
        }
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      }
    } finally {
      await run(client, sql['unlock-migrations']).catch(() => undefined);
    }
  } finally {
    client.release();
  }
}

/** SQLSTATE / errno of a node-postgres or socket error. */
function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return code;
  // Node reports a refused localhost (::1 and 127.0.0.1 both tried) as an AggregateError.
  const inner = (error as { errors?: unknown[] } | null)?.errors;
  return Array.isArray(inner) ? errorCode(inner[0]) : undefined;
}

/**
 * Errors an operator can cause or fix (the server is down, a wrong password, a database that
 * does not exist) as E_STORE, naming `host:port/database`, never the password, and what to do.
 */
function toStoreError(url: string, target: string, error: unknown): unknown {
  if (error instanceof LetterpressError) return error;
  const code = errorCode(error);
  const message = error instanceof Error ? error.message : String(error);
  const store = (text: string) => new LetterpressError('E_STORE', `PostgreSQL store ${target}: ${text}`, { cause: error });
  const user = safeUser(url);
  switch (code) {
    case 'ECONNREFUSED':
      return store(`the server refused the connection; start PostgreSQL there, or fix the host and port in store.url (${maskStoreUrl(url)})`);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return store(`the host is unknown; fix the host name in store.url (${maskStoreUrl(url)})`);
    case 'ETIMEDOUT':
    case 'ECONNRESET':
      return store(`the server did not answer (${message}); check that it runs and that the network lets this machine reach it`);
    case '28P01':
    case '28000':
      return store(`the server refused to log in${user ? ` as "${user}"` : ''} (${message}); fix the user and password in store.url or LETTERPRESS_DB`);
    case '3D000':
      return store(`the database does not exist; create it first (createdb${hostFlags(url)} ${databaseName(url)}), Letterpress then makes its tables`);
    case '42501':
      return store(`permission denied (${message}); grant this user the right to create tables in the database, or connect as its owner`);
    case '57P01':
    case '57P03':
      return store(`the server is shutting down or starting up (${message}); try again in a moment`);
    default:
      break;
  }
  if (/timeout/i.test(message) && /connect/i.test(message)) {
    return store(`no connection within ${CONNECT_TIMEOUT_MS} ms (${message}); check that the server runs and is reachable`);
  }
  return error;
}

function safeUser(url: string): string | undefined {
  try {
    return decodeURIComponent(new URL(url).username) || undefined;
  } catch {
    return undefined;
  }
}

function databaseName(url: string): string {
  try {
    return decodeURIComponent(new URL(url).pathname.replace(/^\//, '')) || '<database>';
  } catch {
    return '<database>';
  }
}

function hostFlags(url: string): string {
  try {
    const parsed = new URL(url);
    const flags = [parsed.hostname ? ` -h ${parsed.hostname}` : '', parsed.port ? ` -p ${parsed.port}` : '', parsed.username ? ` -U ${decodeURIComponent(parsed.username)}` : ''];
    return flags.join('');
  } catch {
    return '';
  }
}

/** A LISTEN connection's retry pause after it dropped, while someone still listens. */
const RELISTEN_MS = 1_000;

/**
 * The PostgreSQL store. Every call is a statement on the pool or one short transaction on a
 * pooled client; what SQLite gets from its single writer, this gets from row locks (claims
 * with SKIP LOCKED, unplan), compare-and-set statements, and advisory transaction locks where
 * a read decides a write about one address. Conflicts the server resolves by aborting one
 * party (deadlock, serialization) are retried, off the event loop, up to `lockWaitMs`.
 */
class PostgresStore implements Store {
  readonly #url: string;
  readonly #target: string;
  readonly #pool: pg.Pool;
  readonly #sql: Queries;
  readonly #lockWaitMs: number;
  readonly #dueListeners = new Set<(issueSlug: string) => void>();
  #listener: pg.Client | undefined;
  #relisten: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(url: string, target: string, pool: pg.Pool, sql: Queries, lockWaitMs: number) {
    this.#url = url;
    this.#target = target;
    this.#pool = pool;
    this.#sql = sql;
    this.#lockWaitMs = lockWaitMs;
  }

  async checkReady(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new LetterpressError('E_STORE', `PostgreSQL store ${this.#target}: no answer within ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS);
    });
    try {
      const ping = run<{ standby: boolean }>(this.#pool, this.#sql.connection.ping).catch((error: unknown) => {
        throw toStoreError(this.#url, this.#target, error);
      });
      const { rows } = await Promise.race([ping, timeout]);
      if (rows[0]?.standby === true) {
        throw new LetterpressError('E_STORE', `PostgreSQL store ${this.#target} is a read-only standby: nothing could be recorded; point store.url at the primary`);
      }
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#dueListeners.clear();
    this.#stopListening();
    await this.#pool.end();
  }

  /**
   * Calls `listener` with an issue's slug whenever rows of it became claimable (planned,
   * released, requeued), from any process, over LISTEN/NOTIFY. A hint only: a notification can
   * be missed while the connection is down, so callers keep polling, less often.
   */
  watchDue(listener: (issueSlug: string) => void): () => void {
    this.#dueListeners.add(listener);
    void this.#listen();
    return () => {
      this.#dueListeners.delete(listener);
      if (this.#dueListeners.size === 0) this.#stopListening();
    };
  }

  async #listen(): Promise<void> {
    if (this.#listener !== undefined || this.#closed || this.#dueListeners.size === 0) return;
    const client = new pg.Client({ connectionString: this.#url, connectionTimeoutMillis: CONNECT_TIMEOUT_MS, application_name: 'letterpress-listen', types: TYPES });
    this.#listener = client;
    const dropped = () => {
      if (this.#listener !== client) return;
      this.#listener = undefined;
      client.end().catch(() => undefined);
      if (this.#closed || this.#dueListeners.size === 0) return;
      this.#relisten = setTimeout(() => void this.#listen(), RELISTEN_MS);
      this.#relisten.unref();
    };
    client.on('error', dropped);
    client.on('end', dropped);
    client.on('notification', (message) => {
      if (message.channel !== DUE_CHANNEL || message.payload === undefined) return;
      for (const listener of [...this.#dueListeners]) listener(message.payload);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${DUE_CHANNEL}`);
    } catch {
      dropped();
    }
  }

  #stopListening(): void {
    clearTimeout(this.#relisten);
    const client = this.#listener;
    this.#listener = undefined;
    client?.end().catch(() => undefined);
  }

  // Subscribers

  async upsertSubscriber(input: UpsertInput & { at?: string }): Promise<UpsertResult> {
    const at = input.at ?? new Date().toISOString();
    const { emailKey, emailHash } = addressKeys(input.email);
    const sql = this.#sql.subscribers;
    return this.#transaction(async (tx) => {
      await run(tx, this.#sql.connection['lock-address'], { emailKey });
      const existing = (await run<Subscriber>(tx, sql['get-by-key'], { emailKey })).rows[0];
      const suppression = existing === undefined ? (await run<{ createdAt: string }>(tx, sql['get-suppression'], { emailHash })).rows[0] : undefined;
      const plan = planUpsert(input, existing, suppression);
      switch (plan.action) {
        case 'answer':
          return plan.result;
        case 'insert':
          if (plan.liftSuppression) await run(tx, sql['delete-suppression'], { emailHash });
          return { outcome: 'added', subscriber: await this.#insertSubscriber(tx, input, emailKey, at) };
        case 'update': {
          const { rows } = await run<Subscriber>(tx, sql['update-details'], { id: plan.existing.id, name: plan.name, status: plan.status, at });
          return { outcome: 'updated', subscriber: rows[0] };
        }
      }
    });
  }

  async #insertSubscriber(tx: Queryable, input: Pick<UpsertInput, 'email' | 'name' | 'status' | 'source'>, emailKey: string, at: string): Promise<Subscriber> {
    const { rows } = await run<Subscriber>(tx, this.#sql.subscribers.insert, {
      email: input.email,
      emailKey,
      name: input.name ?? null,
      status: input.status,
      source: input.source,
      at,
    });
    return rows[0]!;
  }

  async getSubscriber(id: number): Promise<Subscriber | undefined> {
    return this.#first<Subscriber>(this.#sql.subscribers['get-by-id'], { id });
  }

  async getSubscribers(ids: readonly number[]): Promise<Subscriber[]> {
    if (ids.length === 0) return [];
    return this.#rows<Subscriber>(this.#sql.subscribers['get-many-by-id'], { ids: [...ids] });
  }

  async findSubscriberByEmail(email: string): Promise<Subscriber | undefined> {
    return this.#first<Subscriber>(this.#sql.subscribers['get-by-key'], { emailKey: addressKeys(email).emailKey });
  }

  async listSubscribers(filter: { status?: SubscriberStatus; afterId?: number; limit: number }): Promise<Subscriber[]> {
    const params = { status: filter.status, afterId: filter.afterId ?? 0, limit: toRowLimit(filter.limit) };
    if (filter.status === undefined) return this.#rows<Subscriber>(this.#sql.subscribers['list-all'], { afterId: params.afterId, limit: params.limit });
    return this.#rows<Subscriber>(this.#sql.subscribers['list-by-status'], params);
  }

  async countSubscribers(filter: { status?: SubscriberStatus } = {}): Promise<number> {
    const row =
      filter.status === undefined
        ? await this.#first<{ count: number }>(this.#sql.subscribers['count-all'])
        : await this.#first<{ count: number }>(this.#sql.subscribers['count-by-status'], { status: filter.status });
    return row?.count ?? 0;
  }

  async setSubscriberStatus(id: number, status: SubscriberStatus, at: string): Promise<void> {
    await this.#statement(this.#sql.subscribers['set-status'], { id, status, at });
  }

  async eraseSubscriber(email: string, at?: string): Promise<boolean> {
    const when = at ?? new Date().toISOString();
    const { emailKey, emailHash } = addressKeys(email);
    const sql = this.#sql.subscribers;
    return this.#transaction(async (tx) => {
      await run(tx, this.#sql.connection['lock-address'], { emailKey });
      const existing = (await run<Subscriber>(tx, sql['get-by-key'], { emailKey })).rows[0];
      if (existing === undefined) return false;
      await run(tx, this.#sql.connection['lock-ledger-exclusive']);
      await run(tx, this.#sql.deliveries['delete-by-subscriber'], { subscriberId: existing.id });
      await run(tx, sql['delete-by-id'], { id: existing.id });
      await run(tx, sql['insert-suppression'], { emailHash, at: when });
      return true;
    });
  }

  async confirmationHistory(email: string, since: string): Promise<{ count: number; lastSentAt: string | null }> {
    const { emailHash } = addressKeys(email);
    const log = this.#sql['confirmation-log'];
    const history = await this.#first<{ count: number }>(log.history, { emailHash, since: toInstant(since, 'since') });
    const latest = await this.#first<{ lastSentAt: string | null }>(log.latest, { emailHash });
    return { count: history?.count ?? 0, lastSentAt: latest?.lastSentAt ?? null };
  }

  async reserveConfirmationEmail(input: { email: string; at: string; cooldownSince: string; windowSince: string; maxCount: number }): Promise<boolean> {
    const { emailHash, mailboxHash } = addressKeys(input.email);
    const at = toInstant(input.at, 'at');
    const cooldownSince = toInstant(input.cooldownSince, 'cooldownSince');
    const since = toInstant(input.windowSince, 'windowSince');
    const log = this.#sql['confirmation-log'];
    return this.#transaction(async (tx) => {
      await run(tx, this.#sql.connection['lock-confirmation-log']);
      const { lastSentAt } = (await run<{ lastSentAt: string | null }>(tx, log.latest, { emailHash })).rows[0]!;
      const { count } = (await run<{ count: number }>(tx, log.history, { emailHash, since })).rows[0]!;
      if (!mayReserveConfirmation({ lastSentAt, windowCount: count }, { cooldownSince, maxCount: input.maxCount })) return false;
      await run(tx, log.insert, { emailHash, mailboxHash, at });
      return true;
    });
  }

  async pruneConfirmationLog(before: string): Promise<number> {
    return this.#statement(this.#sql['confirmation-log'].prune, { before: toInstant(before, 'before') });
  }

  // Outgoing mail

  async requestConfirmation<Reason extends string>(input: {
    email: string;
    name: string | null;
    at: string;
    windows: { addressSince: string; mailboxSince: string; overallSince: string };
    decide(facts: ConfirmationFacts): { send: true } | { send: false; reason: Reason };
  }): Promise<ConfirmationRequestResult<Reason>> {
    const { emailKey, emailHash, mailboxHash } = addressKeys(input.email);
    const at = toInstant(input.at, 'at');
    const addressSince = toInstant(input.windows.addressSince, 'addressSince');
    const mailboxSince = toInstant(input.windows.mailboxSince, 'mailboxSince');
    const overallSince = toInstant(input.windows.overallSince, 'overallSince');
    const log = this.#sql['confirmation-log'];
    const subscribers = this.#sql.subscribers;
    return this.#transaction(async (tx): Promise<ConfirmationRequestResult<Reason>> => {
      // The log lock first, then the address's: the one order every transaction takes them in.
      await run(tx, this.#sql.connection['lock-confirmation-log']);
      await run(tx, this.#sql.connection['lock-address'], { emailKey });
      // The same reads for every address, whatever its state (as on SQLite).
      const subscriber = (await run<Subscriber>(tx, subscribers['get-by-key'], { emailKey })).rows[0];
      const suppressed = (await run(tx, subscribers['get-suppression'], { emailHash })).rows.length > 0;
      const { count } = (await run<{ count: number }>(tx, log.history, { emailHash, since: addressSince })).rows[0]!;
      const { lastSentAt } = (await run<{ lastSentAt: string | null }>(tx, log.latest, { emailHash })).rows[0]!;
      const mailboxCount = (await run<{ count: number }>(tx, log['mailbox-count'], { mailboxHash, since: mailboxSince })).rows[0]!.count;
      const overallCount = (await run<{ count: number }>(tx, log['overall-count'], { since: overallSince })).rows[0]!.count;
      const decision = input.decide(confirmationFacts({ subscriber, suppressed, addressCount: count, lastSentAt, mailboxCount, overallCount }));
      if (!decision.send) return { queued: false, reason: decision.reason, subscriberId: subscriber?.id };
      // `decide` refuses an erased address; one it lets through is added as it stands.
      if (subscriber === undefined && suppressed) throw new LetterpressError('E_STORE', 'a confirmation was allowed for an address the store refuses');
      const recipient = subscriber ?? (await this.#insertSubscriber(tx, { email: input.email, name: input.name, status: 'pending', source: 'form' }, emailKey, at));
      await run(tx, log.insert, { emailHash, mailboxHash, at });
      const { rows } = await run<{ id: number }>(tx, this.#sql['outgoing-mail'].insert, { kind: 'confirmation', subscriberId: recipient.id, at });
      return { queued: true, action: subscriber === undefined ? 'create' : 'resend', subscriberId: recipient.id, mailId: rows[0]!.id };
    });
  }

  async activateSubscriber(id: number, at: string, options: { queueWelcome: boolean }): Promise<void> {
    const when = toInstant(at, 'at');
    await this.#transaction(async (tx) => {
      // The row lock makes the read-then-write one step: two confirmations racing send one welcome.
      const current = (await run<Subscriber>(tx, this.#sql.subscribers['lock-by-id'], { id })).rows[0];
      if (!shouldActivate(current)) return;
      await run(tx, this.#sql.subscribers['set-status'], { id, status: 'active', at: when });
      if (options.queueWelcome) await run(tx, this.#sql['outgoing-mail'].insert, { kind: 'welcome', subscriberId: id, at: when });
    });
  }

  async claimOutgoingMail(input: { holder: string; now: string; leaseUntil: string; limit: number }): Promise<{ mail: OutgoingMail; subscriber: Subscriber }[]> {
    const params = {
      holder: input.holder,
      now: toInstant(input.now, 'now'),
      leaseUntil: toInstant(input.leaseUntil, 'leaseUntil'),
      limit: toRowLimit(input.limit),
    };
    if (params.limit === 0) return [];
    return (await this.#rows<ClaimedMailRow>(this.#sql['outgoing-mail'].claim, params)).map(toClaimedMail);
  }

  async finishOutgoingMail(
    id: number,
    holder: string,
    outcome: { state: Exclude<OutgoingMailState, 'sending'>; reply?: string; nextAttemptAt?: string; at: string },
  ): Promise<boolean> {
    const at = toInstant(outcome.at, 'at');
    const params = {
      id,
      holder,
      state: outcome.state,
      reply: outcome.reply ?? null,
      nextAttemptAt: outcome.state === 'queued' ? toInstant(outcome.nextAttemptAt ?? at, 'nextAttemptAt') : at,
      at,
    };
    return (await this.#statement(this.#sql['outgoing-mail'].finish, params)) === 1;
  }

  async nextOutgoingMailDue(): Promise<string | undefined> {
    return (await this.#first<{ due: string | null }>(this.#sql['outgoing-mail']['next-due']))?.due ?? undefined;
  }

  async listOutgoingMail(): Promise<OutgoingMail[]> {
    return this.#rows<OutgoingMail>(this.#sql['outgoing-mail'].list);
  }

  async pruneOutgoingMail(before: string): Promise<number> {
    return this.#statement(this.#sql['outgoing-mail'].prune, { before: toInstant(before, 'before') });
  }

  // Issues

  async getIssue(slug: string): Promise<IssueRecord | undefined> {
    return this.#first<IssueRecord>(this.#sql.issues.get, { slug });
  }

  async findIssueByContentHash(contentHash: string): Promise<IssueRecord | undefined> {
    return this.#first<IssueRecord>(this.#sql.issues['find-by-content-hash'], { contentHash });
  }

  async listIssues(): Promise<IssueRecord[]> {
    return this.#rows<IssueRecord>(this.#sql.issues.list);
  }

  async recordIssue(record: IssueRecord): Promise<boolean> {
    return (await this.#statement(this.#sql.issues.record, issueParams(record))) === 1;
  }

  async saveIssue(record: IssueRecord): Promise<void> {
    await this.#statement(this.#sql.issues.save, issueParams(record));
  }

  async transitionIssue(slug: string, from: readonly IssueState[], to: IssueState, at: string): Promise<boolean> {
    const moved = (await this.#statement(this.#sql.issues.transition, { slug, from: [...from], to, at: toInstant(at, 'at') })) === 1;
    // Planning notifies once its rows exist, but a worker sends only issues that read `planned`
    // (it plans nothing): one woken by that first notification may look before the move. This
    // one comes after it.
    if (moved && to === 'planned') await this.#notifyDue(slug);
    return moved;
  }

  async hasIssues(): Promise<boolean> {
    return (await this.#first<{ present: boolean }>(this.#sql.issues['has-any']))?.present === true;
  }

  async createdAt(): Promise<string | undefined> {
    return (await this.#first<{ createdAt: string | null }>(this.#sql.issues['created-at']))?.createdAt ?? undefined;
  }

  // Renditions

  async getRendition(issueSlug: string): Promise<StoredRendition | undefined> {
    return this.#first<StoredRendition>(this.#sql.renditions.get, { issueSlug });
  }

  async saveRendition(rendition: Omit<StoredRendition, 'createdAt' | 'updatedAt'>, at: string): Promise<boolean> {
    return (await this.#statement(this.#sql.renditions.save, { ...rendition, at: toInstant(at, 'at') })) === 1;
  }

  // Deliveries

  async planDeliveries(issueSlug: string, at: string): Promise<number> {
    if ((await this.getIssue(issueSlug)) === undefined) throw unknownIssueError(issueSlug);
    const created = await planInChunks((afterId) =>
      this.#transaction(async (tx) => {
        await run(tx, this.#sql.connection['lock-ledger-shared']);
        const params = { issueSlug, afterId, limit: PLAN_CHUNK_SIZE, at };
        const row = (await run<{ lastId: number | null; created: number }>(tx, this.#sql.deliveries['plan-chunk'], params)).rows[0];
        return row?.lastId == null ? undefined : { created: row.created, lastId: row.lastId };
      }),
    );
    if (created > 0) await this.#notifyDue(issueSlug);
    return created;
  }

  async claimDeliveries(input: { issueSlug: string; holder: string; limit: number; now: string; leaseUntil: string }): Promise<{ delivery: Delivery; subscriber: Subscriber }[]> {
    const params = {
      issueSlug: input.issueSlug,
      holder: requireHolder(input.holder),
      limit: toRowLimit(input.limit),
      now: toInstant(input.now, 'now'),
      leaseUntil: toInstant(input.leaseUntil, 'leaseUntil'),
    };
    if (params.limit === 0) return [];
    return (await this.#rows<ClaimedDeliveryRow>(this.#sql.deliveries.claim, params)).map(toClaimedDelivery);
  }

  async renewDeliveryLeases(input: { holder: string; now: string; leaseUntil: string }): Promise<number> {
    const params = { holder: requireHolder(input.holder), now: toInstant(input.now, 'now'), leaseUntil: toInstant(input.leaseUntil, 'leaseUntil') };
    return this.#statement(this.#sql.deliveries.renew, params);
  }

  async markDeliveries(input: { holder: string; now: string; marks: readonly DeliveryMark[] }): Promise<{ marked: number; lost: number[] }> {
    if (input.marks.length === 0) return { marked: 0, lost: [] };
    const marks = toMarkRows(input.marks);
    const params = { holder: requireHolder(input.holder), now: toInstant(input.now, 'now'), marks: JSON.stringify(marks) };
    const rows = await this.#rows<{ id: number }>(this.#sql.deliveries.mark, params);
    return markOutcome(marks, rows.map((row) => row.id));
  }

  async releaseDeliveries(input: { issueSlug: string; holder: string; now: string }): Promise<number> {
    const params = { issueSlug: input.issueSlug, holder: requireHolder(input.holder), now: toInstant(input.now, 'now') };
    const released = await this.#statement(this.#sql.deliveries.release, params);
    if (released > 0) await this.#notifyDue(input.issueSlug);
    return released;
  }

  async requeueOrphans(issueSlug: string, now: string): Promise<number> {
    const requeued = await this.#statement(this.#sql.deliveries['requeue-orphans'], { issueSlug, now: toInstant(now, 'now') });
    if (requeued > 0) await this.#notifyDue(issueSlug);
    return requeued;
  }

  async countInFlight(issueSlug: string, now: string): Promise<{ count: number; until: string | undefined }> {
    const row = await this.#first<{ count: number; until: string | null }>(this.#sql.deliveries['count-in-flight'], { issueSlug, now: toInstant(now, 'now') });
    return { count: row?.count ?? 0, until: row?.until ?? undefined };
  }

  async nextDeferredAt(issueSlug: string): Promise<string | undefined> {
    return (await this.#first<{ nextAttemptAt: string | null }>(this.#sql.deliveries['next-deferred-at'], { issueSlug }))?.nextAttemptAt ?? undefined;
  }

  async listDeliveries(issueSlug: string, filter: { state?: DeliveryState; afterId?: number; limit: number }): Promise<Delivery[]> {
    const params = { issueSlug, afterId: filter.afterId ?? 0, limit: toRowLimit(filter.limit) };
    if (filter.state === undefined) return this.#rows<Delivery>(this.#sql.deliveries['list-all'], params);
    return this.#rows<Delivery>(this.#sql.deliveries['list-by-state'], { ...params, state: filter.state });
  }

  async countDeliveries(issueSlug: string): Promise<DeliveryCounts> {
    return toDeliveryCounts(await this.#rows<{ state: DeliveryState; count: number }>(this.#sql.deliveries['count-by-state'], { issueSlug }));
  }

  async unplanIssue(issueSlug: string, at?: string): Promise<{ outcome: 'archived'; removed: number } | { outcome: 'refused'; state: IssueState | undefined }> {
    const when = toInstant(at ?? new Date().toISOString(), 'at');
    const refused = Symbol('refused');
    let found: IssueState | undefined;
    try {
      return await this.#transaction(async (tx) => {
        // The issue row first (a transition racing this waits), then its rows: deleting locks
        // them, so what is counted after the delete is exactly what no claimer can take now.
        const record = (await run<IssueRecord>(tx, this.#sql.issues.lock, { slug: issueSlug })).rows[0];
        found = record?.state;
        if (!mayUnplan(record, 0)) throw refused;
        const removed = (await run(tx, this.#sql.deliveries['delete-planned'], { issueSlug })).rowCount ?? 0;
        const { count } = (await run<{ count: number }>(tx, this.#sql.deliveries['count-unplannable'], { issueSlug })).rows[0]!;
        // Rolling back puts the deleted rows back: a refused unplan changes nothing.
        if (!mayUnplan(record, count)) throw refused;
        await run(tx, this.#sql.issues['archive-unsent'], { slug: issueSlug, at: when });
        return { outcome: 'archived' as const, removed };
      });
    } catch (error) {
      if (error === refused) return { outcome: 'refused', state: found };
      throw error;
    }
  }

  // Stalled sends

  async recordSendStall(input: { issueSlug: string; code: string; message: string; at: string; nextRetryAt?: string }): Promise<void> {
    await this.#statement(this.#sql['send-stalls'].record, {
      issueSlug: input.issueSlug,
      code: input.code,
      message: input.message,
      at: toInstant(input.at, 'at'),
      nextRetryAt: input.nextRetryAt === undefined ? null : toInstant(input.nextRetryAt, 'nextRetryAt'),
    });
  }

  async clearSendStall(issueSlug: string): Promise<void> {
    await this.#statement(this.#sql['send-stalls'].clear, { issueSlug });
  }

  async getSendStall(issueSlug: string): Promise<SendStall | undefined> {
    return this.#first<SendStall>(this.#sql['send-stalls'].get, { issueSlug });
  }

  // Leases

  async acquireLease(name: string, holder: string, until: string, now: string): Promise<boolean> {
    return (await this.#statement(this.#sql.leases.acquire, { name, holder, until: toInstant(until, 'until'), now: toInstant(now, 'now') })) === 1;
  }

  async releaseLease(name: string, holder: string): Promise<void> {
    await this.#statement(this.#sql.leases.release, { name, holder });
  }

  async getLease(name: string): Promise<{ holder: string; until: string } | undefined> {
    return this.#first<{ holder: string; until: string }>(this.#sql.leases.get, { name });
  }

  // Secrets

  async listSecrets(): Promise<{ kid: string; secret: string; createdAt: string }[]> {
    return this.#rows<{ kid: string; secret: string; createdAt: string }>(this.#sql.secrets.list);
  }

  async addSecret(kid: string, secret: string, at: string): Promise<void> {
    try {
      await this.#statement(this.#sql.secrets.add, { kid, secret, at });
    } catch (error) {
      if (errorCode(error) === '23505') throw duplicateSecretError(kid, error);
      throw error;
    }
  }

  // Primitives

  async #notifyDue(issueSlug: string): Promise<void> {
    await this.#statement(this.#sql.connection['notify-due'], { issueSlug });
  }

  // Senders' heartbeats (roles)

  async beatWorker(worker: Omit<WorkerRecord, 'heartbeatAt'>, at: string): Promise<void> {
    await this.#statement(this.#sql.workers.beat, {
      holder: requireHolder(worker.holder),
      host: worker.host,
      pid: worker.pid,
      role: worker.role,
      startedAt: toInstant(worker.startedAt, 'startedAt'),
      at: toInstant(at, 'at'),
      inFlight: worker.inFlight,
      sentTotal: worker.sentTotal,
      rate: worker.rate,
    });
  }

  async removeWorker(holder: string): Promise<void> {
    await this.#statement(this.#sql.workers.remove, { holder });
  }

  async listWorkers(since: string): Promise<WorkerRecord[]> {
    return this.#rows<WorkerRecord>(this.#sql.workers['list-live'], { since: toInstant(since, 'since') });
  }

  async pruneWorkers(before: string): Promise<number> {
    return this.#statement(this.#sql.workers.prune, { before: toInstant(before, 'before') });
  }

  // The global rate limit's slots

  async reserveRateSlots(input: { name: string; count: number; intervalMs: number; now: string }): Promise<number> {
    if (!Number.isInteger(input.count) || input.count < 1) throw new LetterpressError('E_STORE', `reserveRateSlots: count must be a positive integer, not ${input.count}`);
    if (!(input.intervalMs > 0)) throw new LetterpressError('E_STORE', `reserveRateSlots: intervalMs must be positive, not ${input.intervalMs}`);
    const params = { name: input.name, count: input.count, intervalMs: input.intervalMs, nowMs: Date.parse(toInstant(input.now, 'now')) };
    const row = await this.#first<{ nextAtMs: number }>(this.#sql['rate-slots'].reserve, params);
    return row!.nextAtMs - input.count * input.intervalMs;
  }

  // Send-window holds

  async holdForSendWindow(issueSlug: string, at: string): Promise<void> {
    await this.#statement(this.#sql['send-holds'].hold, { issueSlug, at: toInstant(at, 'at') });
  }

  async listSendHolds(): Promise<string[]> {
    return (await this.#rows<{ issueSlug: string }>(this.#sql['send-holds'].list)).map((row) => row.issueSlug);
  }

  async releaseSendHolds(): Promise<string[]> {
    const released = (await this.#rows<{ issueSlug: string }>(this.#sql['send-holds']['release-all'])).map((row) => row.issueSlug);
    // The window opened: every worker may send these now, not only at its next look.
    for (const issueSlug of released) await this.#notifyDue(issueSlug);
    return released;
  }

  async #rows<Row extends pg.QueryResultRow>(query: CompiledQuery, params: Readonly<Record<string, unknown>> = {}): Promise<Row[]> {
    return (await this.#retry(() => run<Row>(this.#pool, query, params))).rows;
  }

  async #first<Row extends pg.QueryResultRow>(query: CompiledQuery, params: Readonly<Record<string, unknown>> = {}): Promise<Row | undefined> {
    return (await this.#rows<Row>(query, params))[0];
  }

  /** Runs one statement on its own; resolves with how many rows it changed. */
  async #statement(query: CompiledQuery, params: Readonly<Record<string, unknown>> = {}): Promise<number> {
    return (await this.#retry(() => run(this.#pool, query, params))).rowCount ?? 0;
  }

  /** Runs `work` in one transaction on one pooled client: committed if it resolves, rolled back whole if it throws. */
  async #transaction<T>(work: (tx: pg.PoolClient) => Promise<T>): Promise<T> {
    return this.#retry(async () => {
      const client = await this.#pool.connect();
      let broken: unknown;
      try {
        await client.query('BEGIN');
        try {
          const result = await work(client);
          await client.query('COMMIT');
          return result;
        } catch (error) {
          await client.query('ROLLBACK').catch((rollbackError: unknown) => (broken = rollbackError));
          throw error;
        }
      } finally {
        // A client whose rollback failed may be mid-transaction: it must not go back to the pool.
        client.release(broken instanceof Error ? broken : undefined);
      }
    });
  }

  /**
   * Runs `work`, and when the server aborted it over a deadlock or a serialization conflict
   * (nothing was changed), runs it again after a growing pause, for at most `lockWaitMs` in all;
   * then E_STORE_BUSY (exit 75: try again later). Other failures become E_STORE where an
   * operator can fix them.
   */
  async #retry<T>(work: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.#lockWaitMs;
    let pause = FIRST_RETRY_MS;
    for (;;) {
      try {
        return await work();
      } catch (error) {
        if (!RETRYABLE.has(errorCode(error) ?? '')) throw toStoreError(this.#url, this.#target, error);
        const left = deadline - Date.now();
        if (left <= 0) {
          throw new LetterpressError('E_STORE_BUSY', `PostgreSQL store ${this.#target}: kept conflicting with other processes for ${this.#lockWaitMs} ms; try again in a moment`, { cause: error });
        }
        await delay(Math.min(pause, left));
        pause = Math.min(pause * 2, MAX_RETRY_MS);
      }
    }
  }
}

function issueParams(record: IssueRecord): Record<string, unknown> {
  return {
    slug: record.slug,
    title: record.title,
    contentHash: record.contentHash,
    sourceFile: record.sourceFile,
    state: record.state,
    firstSeenAt: record.firstSeenAt,
    publishedAt: record.publishedAt,
    updatedAt: record.updatedAt,
    feedId: record.feedId,
  };
}

/** For the raw table access of `migrate` (postgres-table-access.ts): the same number parsing and error messages as the store. */
export { TYPES as POSTGRES_TYPES, toStoreError as toPostgresStoreError };
