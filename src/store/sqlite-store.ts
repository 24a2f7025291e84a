import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { LetterpressError } from '../util/errors.ts';
import { loadMigrations, loadQueries, type Migration } from './load-sql.ts';
import { emailKey } from './email-address.ts';
import type {
  Delivery,
  DeliveryCounts,
  DeliveryState,
  IssueRecord,
  IssueState,
  Store,
  Subscriber,
  SubscriberSource,
  SubscriberStatus,
  UpsertOutcome,
} from './types.ts';

/** Active subscribers per planning chunk: one short write transaction each. */
const PLAN_CHUNK_SIZE = 5_000;

/** Statuses an import or `add` never leaves without an explicit resubscribe. */
const STICKY_STATUSES: ReadonlySet<SubscriberStatus> = new Set(['unsubscribed', 'bounced', 'complained']);

const DELIVERY_STATES: readonly DeliveryState[] = ['queued', 'sending', 'sent', 'deferred', 'failed', 'bounced', 'skipped'];

/** SQLite error codes a user can cause (bad path, full disk, damaged file, a lock held too long). */
const USER_ERROR_CODES = /^SQLITE_(CANTOPEN|NOTADB|CORRUPT|READONLY|FULL|IOERR|BUSY|LOCKED|PERM|AUTH|PROTOCOL)/;

const QUERY_FILES = {
  connection: ['set-pragmas', 'read-journal-mode', 'create-migrations-table', 'list-migrations', 'record-migration'],
  subscribers: [
    'get-by-id',
    'get-by-key',
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
  issues: ['get', 'find-by-content-hash', 'list', 'save', 'set-state', 'has-any'],
  deliveries: [
    'plan-chunk-end',
    'plan-chunk',
    'claim',
    'list-claimed',
    'mark',
    'release',
    'requeue-sending',
    'next-deferred-at',
    'list-all',
    'list-by-state',
    'count-by-state',
  ],
  leases: ['acquire', 'release', 'get'],
  secrets: ['list', 'add'],
  'confirmation-log': ['history', 'latest', 'insert', 'prune'],
} as const;

type QueryFiles = typeof QUERY_FILES;
type Queries = { [File in keyof QueryFiles]: Record<QueryFiles[File][number], string> };
type Statements = { [File in Exclude<keyof QueryFiles, 'connection'>]: Record<QueryFiles[File][number], Database.Statement> };

/** A claimed delivery row joined with its subscriber, as `list-claimed` returns it. */
interface ClaimedRow extends Delivery {
  subscriberEmail: string;
  subscriberName: string | null;
  subscriberStatus: SubscriberStatus;
  subscriberSource: SubscriberSource;
  subscriberCreatedAt: string;
  subscriberUpdatedAt: string;
  subscriberConfirmedAt: string | null;
  subscriberUnsubscribedAt: string | null;
}

/**
 * Opens (creating if needed) a SQLite store file: WAL, a busy timeout so a second process waits
 * for the write lock, and pending migrations applied in one transaction before any query runs.
 */
export async function openSqliteStore(options: { file: string }): Promise<Store> {
  const file = path.resolve(options.file);
  const queries = await loadAllQueries();
  const migrations = await loadMigrations('sqlite');
  const db = guardStoreErrors(file, () => openDatabase(file, queries, migrations));
  try {
    return new SqliteStore(file, db, prepareStatements(db, queries));
  } catch (error) {
    db.close();
    throw error;
  }
}

async function loadAllQueries(): Promise<Queries> {
  const entries = await Promise.all(
    Object.entries(QUERY_FILES).map(async ([file, names]) => [file, await loadQueries('sqlite', `${file}.sql`, names)] as const),
  );
  return Object.fromEntries(entries) as Queries;
}

function openDatabase(file: string, queries: Queries, migrations: readonly Migration[]): Database.Database {
  mkdirSync(path.dirname(file), { recursive: true });
  const db = new Database(file, { timeout: 5_000 });
  try {
    db.exec(queries.connection['set-pragmas']);
    applyMigrations(db, queries.connection, migrations);
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}

/** Applies the migrations this file lacks, all or none, under the write lock. */
function applyMigrations(db: Database.Database, sql: Queries['connection'], migrations: readonly Migration[]): void {
  db.exec(sql['create-migrations-table']);
  const listApplied = db.prepare(sql['list-migrations']);
  const record = db.prepare(sql['record-migration']);
  const apply = db.transaction(() => {
    const applied = new Set((listApplied.all() as { version: number }[]).map((row) => row.version));
    const newest = Math.max(0, ...migrations.map((migration) => migration.version));
    const unknown = [...applied].filter((version) => version > newest);
    if (unknown.length > 0) {
      throw new LetterpressError('E_STORE', `schema version ${Math.max(...unknown)} is newer than this Letterpress knows (${newest}); upgrade Letterpress`);
    }
    for (const migration of migrations) {
      if (applied.has(migration.version)) continue;
      db.exec(migration.sql);
      record.run({ version: migration.version, name: migration.name, appliedAt: new Date().toISOString() });
    }
  });
  apply.immediate();
}

function prepareStatements(db: Database.Database, queries: Queries): Statements {
  const prepareAll = <Name extends string>(sql: Record<Name, string>): Record<Name, Database.Statement> => {
    const statements = {} as Record<Name, Database.Statement>;
    for (const name of Object.keys(sql) as Name[]) statements[name] = db.prepare(sql[name]);
    return statements;
  };
  return {
    subscribers: prepareAll(queries.subscribers),
    issues: prepareAll(queries.issues),
    deliveries: prepareAll(queries.deliveries),
    leases: prepareAll(queries.leases),
    secrets: prepareAll(queries.secrets),
    'confirmation-log': prepareAll(queries['confirmation-log']),
  };
}

/** Runs `work`, turning SQLite errors a user can cause into `E_STORE` errors naming the file. */
function guardStoreErrors<T>(file: string, work: () => T): T {
  try {
    return work();
  } catch (error) {
    throw toStoreError(file, error);
  }
}

function toStoreError(file: string, error: unknown): unknown {
  if (error instanceof LetterpressError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (typeof code !== 'string') return error;
  if (USER_ERROR_CODES.test(code) || ['EACCES', 'EPERM', 'EROFS', 'ENOTDIR', 'EEXIST', 'ENOSPC'].includes(code)) {
    return new LetterpressError('E_STORE', `${file}: ${describeSqliteError(code, message)}`, { cause: error });
  }
  return error;
}

function describeSqliteError(code: string, message: string): string {
  if (code === 'SQLITE_NOTADB') return `not a SQLite database (${message})`;
  if (code.startsWith('SQLITE_CORRUPT')) return `the database file is damaged (${message})`;
  if (code.startsWith('SQLITE_CANTOPEN')) return `cannot open the database file; check the folder exists and is writable (${message})`;
  if (code.startsWith('SQLITE_BUSY')) return `the database stayed locked by another process (${message})`;
  return message;
}

/** Case-insensitive identity of an address (the one rule, `emailKey`): the UNIQUE key column and the suppression hash input. */
const toEmailKey = emailKey;

function hashEmailKey(emailKey: string): string {
  return createHash('sha256').update(emailKey, 'utf8').digest('hex');
}

/**
 * Instants the store compares in SQL (leases, due dates) are normalised to one ISO form, since
 * ISO strings only order correctly as text when they share a format.
 */
function toInstant(value: string, field: string): string {
  const time = Date.parse(value);
  if (Number.isNaN(time)) throw new LetterpressError('E_STORE', `${field} is not a valid instant: ${JSON.stringify(value)}`);
  return new Date(time).toISOString();
}

function describeRefusal(existing: Subscriber): string {
  const since = existing.status === 'unsubscribed' ? (existing.unsubscribedAt ?? existing.updatedAt) : existing.updatedAt;
  return `${existing.status} on ${since.slice(0, 10)}; use --resubscribe to add it again`;
}

function toClaimed(row: ClaimedRow): { delivery: Delivery; subscriber: Subscriber } {
  return {
    delivery: {
      id: row.id,
      issueSlug: row.issueSlug,
      subscriberId: row.subscriberId,
      state: row.state,
      attempts: row.attempts,
      leaseUntil: row.leaseUntil,
      nextAttemptAt: row.nextAttemptAt,
      lastReply: row.lastReply,
      createdAt: row.createdAt,
      updatedAt: row.updatedAt,
    },
    subscriber: {
      id: row.subscriberId,
      email: row.subscriberEmail,
      name: row.subscriberName,
      status: row.subscriberStatus,
      source: row.subscriberSource,
      createdAt: row.subscriberCreatedAt,
      updatedAt: row.subscriberUpdatedAt,
      confirmedAt: row.subscriberConfirmedAt,
      unsubscribedAt: row.subscriberUnsubscribedAt,
    },
  };
}

/**
 * The SQLite store. better-sqlite3 is synchronous, so each method's work (and each
 * transaction) finishes before another call can start in this process; other processes are
 * kept apart by SQLite's write lock, taken up front (`BEGIN IMMEDIATE`) where a read decides
 * a write.
 */
class SqliteStore implements Store {
  readonly #file: string;
  readonly #db: Database.Database;
  readonly #sql: Statements;

  constructor(file: string, db: Database.Database, statements: Statements) {
    this.#file = file;
    this.#db = db;
    this.#sql = statements;
  }

  async close(): Promise<void> {
    if (this.#db.open) this.#db.close();
  }

  // Subscribers

  async upsertSubscriber(input: {
    email: string;
    name?: string | null;
    status: SubscriberStatus;
    source: SubscriberSource;
    resubscribe?: boolean;
    at?: string;
    dryRun?: boolean;
  }): Promise<{ outcome: UpsertOutcome; subscriber?: Subscriber; reason?: string }> {
    const at = input.at ?? new Date().toISOString();
    return this.#guard(() => this.#immediate(() => this.#upsertSubscriberNow(input, at)));
  }

  #upsertSubscriberNow(
    input: {
      email: string;
      name?: string | null;
      status: SubscriberStatus;
      source: SubscriberSource;
      resubscribe?: boolean;
      dryRun?: boolean;
    },
    at: string,
  ): { outcome: UpsertOutcome; subscriber?: Subscriber; reason?: string } {
    const emailKey = toEmailKey(input.email);
    const existing = this.#sql.subscribers['get-by-key'].get({ emailKey }) as Subscriber | undefined;
    if (existing === undefined) return this.#insertSubscriber(input, emailKey, at);
    // A web form only ever adds: what a visitor types never changes a subscriber already on
    // file (an active one must not drop back to pending because someone used the form).
    if (input.source === 'form') return { outcome: 'unchanged', subscriber: existing };
    if (STICKY_STATUSES.has(existing.status) && input.status !== existing.status && input.resubscribe !== true) {
      return { outcome: 'refused', subscriber: existing, reason: describeRefusal(existing) };
    }
    // A missing name keeps the one on file: an import without a name column erases nothing.
    const name = input.name ?? existing.name;
    if (name === existing.name && input.status === existing.status) return { outcome: 'unchanged', subscriber: existing };
    if (input.dryRun === true) return { outcome: 'updated', subscriber: { ...existing, name, status: input.status } };
    const subscriber = this.#sql.subscribers['update-details'].get({ id: existing.id, name, status: input.status, at }) as Subscriber;
    return { outcome: 'updated', subscriber };
  }

  #insertSubscriber(
    input: {
      email: string;
      name?: string | null;
      status: SubscriberStatus;
      source: SubscriberSource;
      resubscribe?: boolean;
      dryRun?: boolean;
    },
    emailKey: string,
    at: string,
  ): { outcome: UpsertOutcome; subscriber?: Subscriber; reason?: string } {
    const emailHash = hashEmailKey(emailKey);
    const suppression = this.#sql.subscribers['get-suppression'].get({ emailHash }) as { createdAt: string } | undefined;
    if (suppression !== undefined) {
      if (input.resubscribe !== true) {
        return { outcome: 'refused', reason: `erased on ${suppression.createdAt.slice(0, 10)}; use --resubscribe to add it again` };
      }
      if (input.dryRun !== true) this.#sql.subscribers['delete-suppression'].run({ emailHash });
    }
    // A dry run has no row to return: the caller only needs the outcome.
    if (input.dryRun === true) return { outcome: 'added' };
    const subscriber = this.#sql.subscribers.insert.get({
      email: input.email,
      emailKey,
      name: input.name ?? null,
      status: input.status,
      source: input.source,
      at,
    }) as Subscriber;
    return { outcome: 'added', subscriber };
  }

  async getSubscriber(id: number): Promise<Subscriber | undefined> {
    return this.#guard(() => this.#sql.subscribers['get-by-id'].get({ id }) as Subscriber | undefined);
  }

  async findSubscriberByEmail(email: string): Promise<Subscriber | undefined> {
    return this.#guard(() => this.#sql.subscribers['get-by-key'].get({ emailKey: toEmailKey(email) }) as Subscriber | undefined);
  }

  async listSubscribers(filter: { status?: SubscriberStatus; afterId?: number; limit: number }): Promise<Subscriber[]> {
    const params = { status: filter.status, afterId: filter.afterId ?? 0, limit: filter.limit };
    const statement = filter.status === undefined ? this.#sql.subscribers['list-all'] : this.#sql.subscribers['list-by-status'];
    return this.#guard(() => statement.all(params) as Subscriber[]);
  }

  async countSubscribers(filter: { status?: SubscriberStatus } = {}): Promise<number> {
    const statement = filter.status === undefined ? this.#sql.subscribers['count-all'] : this.#sql.subscribers['count-by-status'];
    return this.#guard(() => (statement.get({ status: filter.status }) as { count: number }).count);
  }

  async setSubscriberStatus(id: number, status: SubscriberStatus, at: string): Promise<void> {
    this.#guard(() => this.#sql.subscribers['set-status'].run({ id, status, at }));
  }

  async eraseSubscriber(email: string, at?: string): Promise<boolean> {
    const when = at ?? new Date().toISOString();
    const emailKey = toEmailKey(email);
    return this.#guard(() =>
      this.#immediate(() => {
        const existing = this.#sql.subscribers['get-by-key'].get({ emailKey }) as Subscriber | undefined;
        if (existing === undefined) return false;
        this.#sql.subscribers['delete-by-id'].run({ id: existing.id });
        this.#sql.subscribers['insert-suppression'].run({ emailHash: hashEmailKey(emailKey), at: when });
        return true;
      }),
    );
  }

  async confirmationHistory(email: string, since: string): Promise<{ count: number; lastSentAt: string | null }> {
    const emailHash = hashEmailKey(toEmailKey(email));
    return this.#guard(() => {
      const { count } = this.#sql['confirmation-log'].history.get({ emailHash, since: toInstant(since, 'since') }) as { count: number };
      const { lastSentAt } = this.#sql['confirmation-log'].latest.get({ emailHash }) as { lastSentAt: string | null };
      return { count, lastSentAt };
    });
  }

  async reserveConfirmationEmail(input: {
    email: string;
    at: string;
    cooldownSince: string;
    windowSince: string;
    maxCount: number;
  }): Promise<boolean> {
    const emailHash = hashEmailKey(toEmailKey(input.email));
    const at = toInstant(input.at, 'at');
    const cooldownSince = toInstant(input.cooldownSince, 'cooldownSince');
    const since = toInstant(input.windowSince, 'windowSince');
    const log = this.#sql['confirmation-log'];
    return this.#guard(() =>
      this.#immediate(() => {
        const { lastSentAt } = log.latest.get({ emailHash }) as { lastSentAt: string | null };
        if (lastSentAt !== null && lastSentAt > cooldownSince) return false;
        const { count } = log.history.get({ emailHash, since }) as { count: number };
        if (count >= input.maxCount) return false;
        log.insert.run({ emailHash, at });
        return true;
      }),
    );
  }

  async pruneConfirmationLog(before: string): Promise<number> {
    return this.#guard(() => this.#sql['confirmation-log'].prune.run({ before: toInstant(before, 'before') }).changes);
  }

  // Issues

  async getIssue(slug: string): Promise<IssueRecord | undefined> {
    return this.#guard(() => this.#sql.issues.get.get({ slug }) as IssueRecord | undefined);
  }

  async findIssueByContentHash(contentHash: string): Promise<IssueRecord | undefined> {
    return this.#guard(() => this.#sql.issues['find-by-content-hash'].get({ contentHash }) as IssueRecord | undefined);
  }

  async listIssues(): Promise<IssueRecord[]> {
    return this.#guard(() => this.#sql.issues.list.all() as IssueRecord[]);
  }

  async saveIssue(record: IssueRecord): Promise<void> {
    this.#guard(() => this.#sql.issues.save.run({ ...record }));
  }

  async setIssueState(slug: string, state: IssueState): Promise<void> {
    const { changes } = this.#guard(() => this.#sql.issues['set-state'].run({ slug, state }));
    if (changes === 0) throw new LetterpressError('E_STORE', `no issue with slug "${slug}" in the store`);
  }

  async hasIssues(): Promise<boolean> {
    return this.#guard(() => (this.#sql.issues['has-any'].get() as { present: number }).present === 1);
  }

  // Deliveries

  async planDeliveries(issueSlug: string, at: string): Promise<number> {
    if ((await this.getIssue(issueSlug)) === undefined) {
      throw new LetterpressError('E_STORE', `cannot plan deliveries: no issue with slug "${issueSlug}" in the store`);
    }
    let created = 0;
    let afterId = 0;
    for (;;) {
      const chunk = this.#guard(() => this.#immediate(() => this.#planChunk(issueSlug, afterId, at)));
      if (chunk === undefined) return created;
      created += chunk.created;
      afterId = chunk.lastId;
      // Let an HTTP server sharing this process answer between chunks.
      await yieldToEventLoop();
    }
  }

  #planChunk(issueSlug: string, afterId: number, at: string): { created: number; lastId: number } | undefined {
    const { lastId } = this.#sql.deliveries['plan-chunk-end'].get({ afterId, limit: PLAN_CHUNK_SIZE }) as { lastId: number | null };
    if (lastId === null) return undefined;
    const { changes } = this.#sql.deliveries['plan-chunk'].run({ issueSlug, afterId, lastId, at });
    return { created: changes, lastId };
  }

  async claimDeliveries(input: {
    issueSlug: string;
    limit: number;
    now: string;
    leaseUntil: string;
  }): Promise<{ delivery: Delivery; subscriber: Subscriber }[]> {
    const params = {
      issueSlug: input.issueSlug,
      limit: Math.max(0, Math.floor(input.limit)),
      now: toInstant(input.now, 'now'),
      leaseUntil: toInstant(input.leaseUntil, 'leaseUntil'),
    };
    return this.#guard(() =>
      this.#immediate(() => {
        const ids = (this.#sql.deliveries.claim.all(params) as { id: number }[]).map((row) => row.id);
        if (ids.length === 0) return [];
        const rows = this.#sql.deliveries['list-claimed'].all({ ids: JSON.stringify(ids) }) as ClaimedRow[];
        return rows.map(toClaimed);
      }),
    );
  }

  async markDelivery(
    id: number,
    outcome: { state: Exclude<DeliveryState, 'sending'>; reply?: string; nextAttemptAt?: string; at: string },
  ): Promise<void> {
    // A deferred row always has a due date (now, if none was given); no other state has one.
    const nextAttemptAt =
      outcome.state === 'deferred' ? toInstant(outcome.nextAttemptAt ?? outcome.at, 'nextAttemptAt') : null;
    // A row erased meanwhile (the subscriber was removed mid-send) matches nothing: not an error.
    this.#guard(() =>
      this.#sql.deliveries.mark.run({ id, state: outcome.state, reply: outcome.reply ?? null, nextAttemptAt, at: outcome.at }),
    );
  }

  async releaseDeliveries(ids: readonly number[], at: string): Promise<void> {
    if (ids.length === 0) return;
    this.#guard(() => this.#sql.deliveries.release.run({ ids: JSON.stringify(ids), at }));
  }

  async requeueSending(issueSlug: string, at: string): Promise<number> {
    return this.#guard(() => this.#sql.deliveries['requeue-sending'].run({ issueSlug, at }).changes);
  }

  async nextDeferredAt(issueSlug: string): Promise<string | undefined> {
    const row = this.#guard(() => this.#sql.deliveries['next-deferred-at'].get({ issueSlug }) as { nextAttemptAt: string | null });
    return row.nextAttemptAt ?? undefined;
  }

  async listDeliveries(
    issueSlug: string,
    filter: { state?: DeliveryState; afterId?: number; limit: number },
  ): Promise<Delivery[]> {
    const params = { issueSlug, state: filter.state, afterId: filter.afterId ?? 0, limit: filter.limit };
    const statement = filter.state === undefined ? this.#sql.deliveries['list-all'] : this.#sql.deliveries['list-by-state'];
    return this.#guard(() => statement.all(params) as Delivery[]);
  }

  async countDeliveries(issueSlug: string): Promise<DeliveryCounts> {
    const rows = this.#guard(() => this.#sql.deliveries['count-by-state'].all({ issueSlug }) as { state: DeliveryState; count: number }[]);
    const counts = Object.fromEntries(DELIVERY_STATES.map((state) => [state, 0])) as DeliveryCounts;
    for (const row of rows) counts[row.state] = row.count;
    return counts;
  }

  // Leases

  async acquireLease(name: string, holder: string, until: string, now: string): Promise<boolean> {
    const params = { name, holder, until: toInstant(until, 'until'), now: toInstant(now, 'now') };
    return this.#guard(() => this.#immediate(() => this.#sql.leases.acquire.run(params).changes === 1));
  }

  async releaseLease(name: string, holder: string): Promise<void> {
    this.#guard(() => this.#sql.leases.release.run({ name, holder }));
  }

  async getLease(name: string): Promise<{ holder: string; until: string } | undefined> {
    return this.#guard(() => this.#sql.leases.get.get({ name }) as { holder: string; until: string } | undefined);
  }

  // Secrets

  async listSecrets(): Promise<{ kid: string; secret: string; createdAt: string }[]> {
    return this.#guard(() => this.#sql.secrets.list.all() as { kid: string; secret: string; createdAt: string }[]);
  }

  async addSecret(kid: string, secret: string, at: string): Promise<void> {
    try {
      this.#guard(() => this.#sql.secrets.add.run({ kid, secret, at }));
    } catch (error) {
      if ((error as { code?: unknown }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
        throw new LetterpressError('E_STORE', `a secret with kid "${kid}" already exists`, { cause: error });
      }
      throw error;
    }
  }

  /** Runs `work` in a `BEGIN IMMEDIATE` transaction: the write lock first, so reads that decide writes stay true. */
  #immediate<T>(work: () => T): T {
    return this.#db.transaction(work).immediate();
  }

  #guard<T>(work: () => T): T {
    return guardStoreErrors(this.#file, work);
  }
}
