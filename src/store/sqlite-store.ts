import { randomBytes } from 'node:crypto';
import { accessSync, constants as fsConstants, existsSync, linkSync, mkdirSync, readFileSync, rmSync, statfsSync, statSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { LetterpressError } from '../util/errors.ts';
import { loadMigrations, loadQueries, type Migration } from './load-sql.ts';
import { addressKeys } from './address-hashes.ts';
import { toClaimedDelivery, toClaimedMail, type ClaimedDeliveryRow, type ClaimedMailRow } from './claimed-rows.ts';
import { planInChunks } from './plan-in-chunks.ts';
import { confirmationFacts, mayReserveConfirmation, mayUnplan, planUpsert, shouldActivate, type UpsertInput, type UpsertResult } from './subscriber-rules.ts';
import { duplicateSecretError, markOutcome, requireHolder, toDeliveryCounts, toInstant, toMarkRows, toRowLimit, unknownIssueError } from './store-input.ts';
import { inspectStoreFile, lostStoreAdvice } from './inspect-store-file.ts';
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
  WorkerRecord,
  StoredRendition,
  Subscriber,
  SubscriberStatus,
} from './types.ts';

/** Active subscribers per planning chunk: one short write transaction each. */
const PLAN_CHUNK_SIZE = 5_000;

/** SQLite error codes a user can cause (bad path, full disk, damaged file, a lock held too long). */
const USER_ERROR_CODES = /^SQLITE_(CANTOPEN|NOTADB|CORRUPT|READONLY|FULL|IOERR|BUSY|LOCKED|PERM|AUTH|PROTOCOL)/;

const QUERY_FILES = {
  connection: ['set-pragmas', 'read-journal-mode', 'create-migrations-table', 'list-migrations', 'record-migration'],
  subscribers: [
    'get-by-id',
    'get-many-by-id',
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
  issues: ['get', 'find-by-content-hash', 'list', 'record', 'save', 'transition', 'archive-unsent', 'has-any', 'created-at'],
  renditions: ['get', 'save', 'delete'],
  deliveries: [
    'plan-chunk-end',
    'plan-chunk',
    'claim',
    'list-claimed',
    'mark',
    'renew',
    'release',
    'requeue-orphans',
    'count-in-flight',
    'next-deferred-at',
    'list-all',
    'list-by-state',
    'count-by-state',
    'count-unplannable',
    'delete-planned',
  ],
  leases: ['acquire', 'release', 'get'],
  secrets: ['list', 'add'],
  'confirmation-log': ['history', 'latest', 'mailbox-count', 'overall-count', 'insert', 'prune'],
  'outgoing-mail': ['insert', 'claim', 'list-claimed', 'finish', 'next-due', 'list', 'prune'],
  'send-stalls': ['record', 'clear', 'get'],
  workers: ['beat', 'remove', 'prune', 'list-live'],
  'rate-slots': ['reserve'],
  'send-holds': ['hold', 'list', 'release-all'],
} as const;

type QueryFiles = typeof QUERY_FILES;
type Queries = { [File in keyof QueryFiles]: Record<QueryFiles[File][number], string> };
type Statements = { [File in Exclude<keyof QueryFiles, 'connection'>]: Record<QueryFiles[File][number], Database.Statement> };

/** How long one SQLite call may wait for a lock, synchronously (it blocks the event loop meanwhile). */
const BUSY_TIMEOUT_MS = 20;
/** Default total wait for another process's lock, asynchronously, before a call gives up with E_STORE_BUSY. */
export const DEFAULT_LOCK_WAIT_MS = 5_000;
const FIRST_RETRY_MS = 5;
const MAX_RETRY_MS = 100;

/** The time that a wait for another process's lock is measured in and paused on. */
export interface LockWaitTiming {
  now(): number;
  sleep(ms: number): Promise<void>;
}

/** Wall time: the store's default. */
const WALL_TIME: LockWaitTiming = { now: () => Date.now(), sleep: (ms) => delay(ms) };

/** Options of a SQLite store; `lockWaitMs` is config `store.lockWaitMs`. */
export interface SqliteStoreOptions {
  file: string;
  /** Total time a call retries (asynchronously, with backoff) while another process holds the lock. */
  lockWaitMs?: number;
  /** Measures and paces that wait (default: wall time); a test's fake clock decides when it ends. */
  lockWaitTiming?: LockWaitTiming;
}

/**
 * Opens a SQLite store file, creating it only where no file exists: WAL, a short lock wait
 * retried off the event loop, and pending migrations applied in one transaction before any
 * query runs. An existing file that is empty, cut short or not a Letterpress store is refused
 * (E_STORE) without a byte written: taking it for a new store would lose every subscriber,
 * key and suppression.
 */
export async function openSqliteStore(options: SqliteStoreOptions): Promise<Store> {
  const file = path.resolve(options.file);
  const lockWaitMs = options.lockWaitMs ?? DEFAULT_LOCK_WAIT_MS;
  const timing = options.lockWaitTiming ?? WALL_TIME;
  const queries = await loadAllQueries();
  const migrations = await loadMigrations('sqlite');
  if (existsSync(file) && !isWritableFolder(path.dirname(file))) {
    // SQLite in WAL mode cannot even read a store whose folder it cannot write its -shm into:
    // read-only commands (status, subscribers list) read a snapshot; writes are refused.
    const db = guardStoreErrors(file, () => openReadOnlyDatabase(file, queries, migrations));
    return new SqliteStore(file, db, prepareStatements(db, queries), lockWaitMs, timing);
  }
  let inspected = guardStoreErrors(file, () => inspectStoreFile(file));
  if (inspected.state === 'missing') {
    await retryWhileBusy(file, lockWaitMs, timing, () => createStoreFile(file, queries, migrations));
    inspected = guardStoreErrors(file, () => inspectStoreFile(file));
  }
  if (inspected.state !== 'store') {
    const reason = inspected.state === 'bad' ? inspected.reason : 'it disappeared while it was being created';
    throw new LetterpressError('E_STORE', `${file} is not a usable Letterpress store: ${reason}. Nothing was changed; ${lostStoreAdvice(file)}`);
  }
  const db = await retryWhileBusy(file, lockWaitMs, timing, () => openDatabase(file, queries, migrations));
  try {
    return new SqliteStore(file, db, prepareStatements(db, queries), lockWaitMs, timing);
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

/**
 * Makes a complete new store beside `file` and links it into place only if still nothing is
 * there, so a crash mid-creation never leaves a half-made store that a later open would refuse,
 * and two processes creating at once never replace each other's.
 */
function createStoreFile(file: string, queries: Queries, migrations: readonly Migration[]): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const temporary = `${file}.new-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    const db = openDatabase(temporary, queries, migrations, { create: true });
    // Closing checkpoints the WAL into the file and removes the -wal and -shm files.
    db.close();
    try {
      linkSync(temporary, file);
    } catch (error) {
      // Another process made the store first: use theirs.
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  } finally {
    for (const leftover of [temporary, `${temporary}-wal`, `${temporary}-shm`]) rmSync(leftover, { force: true });
  }
}

function isWritableFolder(dir: string): boolean {
  try {
    accessSync(dir, fsConstants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * A read-only connection to a store in a folder this process cannot write: the file itself when
 * its -wal and -shm are there (a writer with access is running), else an in-memory copy of the
 * file, which then is the whole store (no WAL holds anything newer). Every write fails with
 * SQLITE_READONLY, reported as a read-only folder.
 */
function openReadOnlyDatabase(file: string, queries: Queries, migrations: readonly Migration[]): Database.Database {
  let db: Database.Database;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    db.prepare("SELECT 1 FROM sqlite_master LIMIT 1").get();
  } catch (error) {
    // CANTOPEN on a read-only mount, READONLY_DIRECTORY in a folder this user may not write.
    const code = (error as { code?: string }).code ?? '';
    if (!code.startsWith('SQLITE_CANTOPEN') && !code.startsWith('SQLITE_READONLY')) throw error;
    const wal = `${file}-wal`;
    if (existsSync(wal) && statSync(wal).size > 0) throw error;
    const bytes = readFileSync(file);
    // Bytes 18 and 19 say "WAL"; an in-memory database must not look for one.
    if (bytes.length > 19) bytes[18] = bytes[19] = 1;
    db = new Database(bytes, { readonly: true });
  }
  try {
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").all();
    if (tables.length === 0) throw new LetterpressError('E_STORE', `${file} is not a Letterpress store (no schema_migrations table)`);
    db.exec('PRAGMA foreign_keys = ON');
    applyMigrations(db, queries.connection, migrations);
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}

function openDatabase(file: string, queries: Queries, migrations: readonly Migration[], options: { create?: boolean } = {}): Database.Database {
  const db = new Database(file, { timeout: BUSY_TIMEOUT_MS, fileMustExist: options.create !== true });
  try {
    db.exec(queries.connection['set-pragmas']);
    if (options.create === true) db.exec(queries.connection['create-migrations-table']);
    applyMigrations(db, queries.connection, migrations, options.create === true ? undefined : file);
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}

/**
 * Applies the migrations this file lacks, all or none, under the write lock (taken only when
 * some are missing). An existing store (`file` given) is first copied whole to
 * `<file>.bak-<version>` (the schema version before the upgrade), so an upgrade can be undone.
 */
function applyMigrations(db: Database.Database, sql: Queries['connection'], migrations: readonly Migration[], file?: string): void {
  const listApplied = db.prepare(sql['list-migrations']);
  const record = db.prepare(sql['record-migration']);
  const newest = Math.max(0, ...migrations.map((migration) => migration.version));
  const readApplied = () => new Set((listApplied.all() as { version: number }[]).map((row) => row.version));
  const check = (applied: Set<number>) => {
    const unknown = [...applied].filter((version) => version > newest);
    if (unknown.length > 0) {
      throw new LetterpressError('E_STORE', `schema version ${Math.max(...unknown)} is newer than this Letterpress knows (${newest}); upgrade Letterpress`);
    }
    return migrations.filter((migration) => !applied.has(migration.version));
  };
  // A read first: an up-to-date store opens without waiting for another process's write lock.
  const before = readApplied();
  if (check(before).length === 0) return;
  if (file !== undefined && before.size > 0) backupBeforeMigrating(db, file, Math.max(...before));
  const apply = db.transaction(() => {
    for (const migration of check(readApplied())) {
      db.exec(migration.sql);
      record.run({ version: migration.version, name: migration.name, appliedAt: new Date().toISOString() });
    }
  });
  apply.immediate();
}

/** Where the copy of a store taken before upgrading it from schema `version` goes. */
export function migrationBackupFile(file: string, version: number): string {
  return `${file}.bak-${String(version).padStart(3, '0')}`;
}

/**
 * Copies the store as it is now (WAL contents included: VACUUM INTO reads through this
 * connection) to its backup name, unless a copy of that version is already there: the first
 * process to upgrade keeps it, and a second racing one never overwrites it with a half-upgraded
 * store. The copy is written beside it and linked into place, so it is whole or absent.
 */
function backupBeforeMigrating(db: Database.Database, file: string, version: number): void {
  const target = migrationBackupFile(file, version);
  if (existsSync(target)) return;
  const temporary = `${target}.new-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    db.prepare('VACUUM INTO ?').run(temporary);
    try {
      linkSync(temporary, target);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  } finally {
    rmSync(temporary, { force: true });
  }
}

/**
 * Runs `work` (synchronous SQLite calls), and while another process holds the lock retries it
 * after a growing pause, off the event loop, for at most `lockWaitMs` in all; then E_STORE_BUSY
 * (exit 75: try again later; HTTP 503). A call that failed on the lock did nothing, and a
 * transaction that did is rolled back whole, so running it again is safe.
 */
async function retryWhileBusy<T>(file: string, lockWaitMs: number, timing: LockWaitTiming, work: () => T): Promise<T> {
  const deadline = timing.now() + lockWaitMs;
  let pause = FIRST_RETRY_MS;
  for (;;) {
    try {
      return work();
    } catch (error) {
      if (!isBusy(error)) throw toStoreError(file, error);
      const left = deadline - timing.now();
      if (left <= 0) throw busyError(file, lockWaitMs, error);
      await timing.sleep(Math.min(pause, left));
      pause = Math.min(pause * 2, MAX_RETRY_MS);
    }
  }
}

function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY');
}

function busyError(file: string, waitedMs: number, cause: unknown): LetterpressError {
  return new LetterpressError('E_STORE_BUSY', `${file}: the database stayed locked by another process for ${waitedMs} ms; try again in a moment`, { cause });
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
    renditions: prepareAll(queries.renditions),
    deliveries: prepareAll(queries.deliveries),
    leases: prepareAll(queries.leases),
    secrets: prepareAll(queries.secrets),
    'confirmation-log': prepareAll(queries['confirmation-log']),
    'send-stalls': prepareAll(queries['send-stalls']),
    'outgoing-mail': prepareAll(queries['outgoing-mail']),
    workers: prepareAll(queries.workers),
    'rate-slots': prepareAll(queries['rate-slots']),
    'send-holds': prepareAll(queries['send-holds']),
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
  if (isDiskFull(file, code)) return new LetterpressError('E_DISK_FULL', `${file}: ${describeDiskFull(file)}`, { cause: error });
  if (USER_ERROR_CODES.test(code) || ['EACCES', 'EPERM', 'EROFS', 'ENOTDIR', 'EEXIST', 'ENOSPC'].includes(code)) {
    return new LetterpressError('E_STORE', `${file}: ${describeSqliteError(code, message, file)}`, { cause: error });
  }
  return error;
}

/** Below this much free space, a write error is taken for a full disk. */
const NEARLY_FULL_BYTES = 1024 * 1024;

/** Bytes free for this user on the disk holding `dir`, or undefined when it cannot be told. */
function freeBytes(dir: string): number | undefined {
  try {
    const info = statfsSync(dir);
    return info.bavail * info.bsize;
  } catch {
    return undefined;
  }
}

/**
 * SQLITE_FULL and ENOSPC say so; a write that failed as SQLITE_IOERR ("disk I/O error") on a
 * disk with next to no space left is the same thing, and the operator must hear "disk full".
 */
function isDiskFull(file: string, code: string): boolean {
  if (code.startsWith('SQLITE_FULL') || code === 'ENOSPC') return true;
  if (!code.startsWith('SQLITE_IOERR')) return false;
  const free = freeBytes(path.dirname(file));
  return free !== undefined && free < NEARLY_FULL_BYTES;
}

function describeDiskFull(file: string): string {
  const dir = path.dirname(file);
  const free = freeBytes(dir);
  const left = free === undefined ? '' : ` (${Math.floor(free / 1024)} KiB left)`;
  return (
    `the disk holding ${dir} is full${left}: the write that failed was rolled back and the store is consistent; ` +
    `free space on that disk (old logs, backups, data/outbox/), or move the store to a larger one (store.url or LETTERPRESS_DB), then run the command again`
  );
}

function describeSqliteError(code: string, message: string, file: string): string {
  if (code.startsWith('SQLITE_READONLY') || code === 'EROFS') {
    return (
      `${path.dirname(file)} is read-only for this user and this command writes to the store (${message}); ` +
      'make the folder and the store writable for this user (SQLite also writes its -wal and -shm files beside it); ' +
      'read-only commands such as status and subscribers list work as they are'
    );
  }
  if (code === 'SQLITE_NOTADB') return `not a SQLite database (${message})`;
  if (code.startsWith('SQLITE_CORRUPT')) return `the database file is damaged (${message})`;
  if (code.startsWith('SQLITE_CANTOPEN')) return `cannot open the database file; check the folder exists and is writable (${message})`;
  if (code.startsWith('SQLITE_BUSY')) return `the database stayed locked by another process (${message})`;
  return message;
}

/**
 * The SQLite store. better-sqlite3 is synchronous, so each method's work (and each
 * transaction) finishes before another call can start in this process; other processes are
 * kept apart by SQLite's write lock, taken up front (`BEGIN IMMEDIATE`) where a read decides
 * a write. A call that finds the lock taken waits for it between retries (`#run`), never
 * inside SQLite, so an HTTP server sharing the process keeps answering meanwhile.
 */
class SqliteStore implements Store {
  readonly #file: string;
  readonly #db: Database.Database;
  readonly #sql: Statements;
  readonly #lockWaitMs: number;
  readonly #lockWaitTiming: LockWaitTiming;

  constructor(file: string, db: Database.Database, statements: Statements, lockWaitMs: number, lockWaitTiming: LockWaitTiming) {
    this.#file = file;
    this.#db = db;
    this.#sql = statements;
    this.#lockWaitMs = lockWaitMs;
    this.#lockWaitTiming = lockWaitTiming;
  }

  async checkReady(): Promise<void> {
    // Reads go on beside another process's write transaction (WAL), so only taking the write
    // lock shows whether a change (an unsubscribe) could be recorded now. One short try, no retry.
    guardStoreErrors(this.#file, () => {
      try {
        this.#db.prepare('BEGIN IMMEDIATE').run();
      } catch (error) {
        if (isBusy(error)) throw busyError(this.#file, BUSY_TIMEOUT_MS, error);
        throw error;
      }
      this.#db.prepare('ROLLBACK').run();
    });
  }

  async close(): Promise<void> {
    if (this.#db.open) this.#db.close();
  }

  // Subscribers

  async upsertSubscriber(input: UpsertInput & { at?: string }): Promise<UpsertResult> {
    const at = input.at ?? new Date().toISOString();
    return this.#run(() => this.#immediate(() => this.#upsertSubscriberNow(input, at)));
  }

  #upsertSubscriberNow(input: UpsertInput, at: string): UpsertResult {
    const { emailKey, emailHash } = addressKeys(input.email);
    const subscribers = this.#sql.subscribers;
    const existing = subscribers['get-by-key'].get({ emailKey }) as Subscriber | undefined;
    const suppression = existing === undefined ? (subscribers['get-suppression'].get({ emailHash }) as { createdAt: string } | undefined) : undefined;
    const plan = planUpsert(input, existing, suppression);
    switch (plan.action) {
      case 'answer':
        return plan.result;
      case 'insert':
        if (plan.liftSuppression) subscribers['delete-suppression'].run({ emailHash });
        return { outcome: 'added', subscriber: this.#insertSubscriber(input, emailKey, at) };
      case 'update':
        return { outcome: 'updated', subscriber: subscribers['update-details'].get({ id: plan.existing.id, name: plan.name, status: plan.status, at }) as Subscriber };
    }
  }

  #insertSubscriber(input: Pick<UpsertInput, 'email' | 'name' | 'status' | 'source'>, emailKey: string, at: string): Subscriber {
    return this.#sql.subscribers.insert.get({
      email: input.email,
      emailKey,
      name: input.name ?? null,
      status: input.status,
      source: input.source,
      at,
    }) as Subscriber;
  }

  async getSubscriber(id: number): Promise<Subscriber | undefined> {
    return this.#run(() => this.#sql.subscribers['get-by-id'].get({ id }) as Subscriber | undefined);
  }

  async getSubscribers(ids: readonly number[]): Promise<Subscriber[]> {
    if (ids.length === 0) return [];
    return this.#run(() => this.#sql.subscribers['get-many-by-id'].all({ ids: JSON.stringify(ids) }) as Subscriber[]);
  }

  async findSubscriberByEmail(email: string): Promise<Subscriber | undefined> {
    return this.#run(() => this.#sql.subscribers['get-by-key'].get({ emailKey: addressKeys(email).emailKey }) as Subscriber | undefined);
  }

  async listSubscribers(filter: { status?: SubscriberStatus; afterId?: number; limit: number }): Promise<Subscriber[]> {
    const params = { status: filter.status, afterId: filter.afterId ?? 0, limit: filter.limit };
    const statement = filter.status === undefined ? this.#sql.subscribers['list-all'] : this.#sql.subscribers['list-by-status'];
    return this.#run(() => statement.all(params) as Subscriber[]);
  }

  async countSubscribers(filter: { status?: SubscriberStatus } = {}): Promise<number> {
    const statement = filter.status === undefined ? this.#sql.subscribers['count-all'] : this.#sql.subscribers['count-by-status'];
    return this.#run(() => (statement.get({ status: filter.status }) as { count: number }).count);
  }

  async setSubscriberStatus(id: number, status: SubscriberStatus, at: string): Promise<void> {
    await this.#run(() => this.#sql.subscribers['set-status'].run({ id, status, at }));
  }

  async eraseSubscriber(email: string, at?: string): Promise<boolean> {
    const when = at ?? new Date().toISOString();
    const { emailKey, emailHash } = addressKeys(email);
    return this.#run(() =>
      this.#immediate(() => {
        const existing = this.#sql.subscribers['get-by-key'].get({ emailKey }) as Subscriber | undefined;
        if (existing === undefined) return false;
        this.#sql.subscribers['delete-by-id'].run({ id: existing.id });
        this.#sql.subscribers['insert-suppression'].run({ emailHash, at: when });
        return true;
      }),
    );
  }

  async confirmationHistory(email: string, since: string): Promise<{ count: number; lastSentAt: string | null }> {
    const { emailHash } = addressKeys(email);
    return this.#run(() => {
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
    const { emailHash, mailboxHash } = addressKeys(input.email);
    const at = toInstant(input.at, 'at');
    const cooldownSince = toInstant(input.cooldownSince, 'cooldownSince');
    const since = toInstant(input.windowSince, 'windowSince');
    const log = this.#sql['confirmation-log'];
    return this.#run(() =>
      this.#immediate(() => {
        const { lastSentAt } = log.latest.get({ emailHash }) as { lastSentAt: string | null };
        const { count } = log.history.get({ emailHash, since }) as { count: number };
        if (!mayReserveConfirmation({ lastSentAt, windowCount: count }, { cooldownSince, maxCount: input.maxCount })) return false;
        log.insert.run({ emailHash, mailboxHash, at });
        return true;
      }),
    );
  }

  async pruneConfirmationLog(before: string): Promise<number> {
    return this.#run(() => this.#sql['confirmation-log'].prune.run({ before: toInstant(before, 'before') }).changes);
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
    return this.#grouped((): ConfirmationRequestResult<Reason> => {
        // The same reads for every address, whatever its state: the work done never depends
        // on what the store holds until the decision, and then only by a few row writes.
        const subscriber = this.#sql.subscribers['get-by-key'].get({ emailKey }) as Subscriber | undefined;
        const suppressed = this.#sql.subscribers['get-suppression'].get({ emailHash }) !== undefined;
        const { count } = log.history.get({ emailHash, since: addressSince }) as { count: number };
        const { lastSentAt } = log.latest.get({ emailHash }) as { lastSentAt: string | null };
        const mailboxCount = (log['mailbox-count'].get({ mailboxHash, since: mailboxSince }) as { count: number }).count;
        const overallCount = (log['overall-count'].get({ since: overallSince }) as { count: number }).count;
        const decision = input.decide(confirmationFacts({ subscriber, suppressed, addressCount: count, lastSentAt, mailboxCount, overallCount }));
        if (!decision.send) return { queued: false, reason: decision.reason, subscriberId: subscriber?.id };
        // `decide` refuses an erased address; one it lets through is added as it stands.
        if (subscriber === undefined && suppressed) throw new LetterpressError('E_STORE', 'a confirmation was allowed for an address the store refuses');
        const recipient = subscriber ?? this.#insertSubscriber({ email: input.email, name: input.name, status: 'pending', source: 'form' }, emailKey, at);
        log.insert.run({ emailHash, mailboxHash, at });
        const { id: mailId } = this.#sql['outgoing-mail'].insert.get({ kind: 'confirmation', subscriberId: recipient.id, at }) as { id: number };
        return { queued: true, action: subscriber === undefined ? 'create' : 'resend', subscriberId: recipient.id, mailId };
      });
  }

  async activateSubscriber(id: number, at: string, options: { queueWelcome: boolean }): Promise<void> {
    const when = toInstant(at, 'at');
    await this.#run(() =>
      this.#immediate(() => {
        if (!shouldActivate(this.#sql.subscribers['get-by-id'].get({ id }) as Subscriber | undefined)) return;
        this.#sql.subscribers['set-status'].run({ id, status: 'active', at: when });
        if (options.queueWelcome) this.#sql['outgoing-mail'].insert.run({ kind: 'welcome', subscriberId: id, at: when });
      }),
    );
  }

  async claimOutgoingMail(input: { holder: string; now: string; leaseUntil: string; limit: number }): Promise<{ mail: OutgoingMail; subscriber: Subscriber }[]> {
    const params = {
      holder: input.holder,
      now: toInstant(input.now, 'now'),
      leaseUntil: toInstant(input.leaseUntil, 'leaseUntil'),
      limit: toRowLimit(input.limit),
    };
    const queue = this.#sql['outgoing-mail'];
    return this.#run(() =>
      this.#immediate(() => {
        const ids = (queue.claim.all(params) as { id: number }[]).map((row) => row.id);
        if (ids.length === 0) return [];
        const rows = queue['list-claimed'].all({ ids: JSON.stringify(ids) }) as ClaimedMailRow[];
        return rows.map(toClaimedMail);
      }),
    );
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
    return this.#run(() => this.#sql['outgoing-mail'].finish.run(params).changes === 1);
  }

  async nextOutgoingMailDue(): Promise<string | undefined> {
    const row = await this.#run(() => this.#sql['outgoing-mail']['next-due'].get() as { due: string | null });
    return row.due ?? undefined;
  }

  async listOutgoingMail(): Promise<OutgoingMail[]> {
    return this.#run(() => this.#sql['outgoing-mail'].list.all() as OutgoingMail[]);
  }

  async pruneOutgoingMail(before: string): Promise<number> {
    return this.#run(() => this.#sql['outgoing-mail'].prune.run({ before: toInstant(before, 'before') }).changes);
  }

  // Issues

  async getIssue(slug: string): Promise<IssueRecord | undefined> {
    return this.#run(() => this.#sql.issues.get.get({ slug }) as IssueRecord | undefined);
  }

  async findIssueByContentHash(contentHash: string): Promise<IssueRecord | undefined> {
    return this.#run(() => this.#sql.issues['find-by-content-hash'].get({ contentHash }) as IssueRecord | undefined);
  }

  async listIssues(): Promise<IssueRecord[]> {
    return this.#run(() => this.#sql.issues.list.all() as IssueRecord[]);
  }

  async recordIssue(record: IssueRecord): Promise<boolean> {
    return this.#run(() => this.#sql.issues.record.run({ ...record }).changes === 1);
  }

  async saveIssue(record: IssueRecord): Promise<void> {
    await this.#run(() => this.#sql.issues.save.run({ ...record }));
  }

  async transitionIssue(slug: string, from: readonly IssueState[], to: IssueState, at: string): Promise<boolean> {
    const params = { slug, from: JSON.stringify(from), to, at: toInstant(at, 'at') };
    return this.#run(() => this.#sql.issues.transition.run(params).changes === 1);
  }

  // Renditions

  async getRendition(issueSlug: string): Promise<StoredRendition | undefined> {
    return this.#run(() => this.#sql.renditions.get.get({ issueSlug }) as StoredRendition | undefined);
  }

  async saveRendition(rendition: Omit<StoredRendition, 'createdAt' | 'updatedAt'>, at: string): Promise<boolean> {
    const params = { ...rendition, at: toInstant(at, 'at') };
    return this.#run(() => this.#sql.renditions.save.run(params).changes === 1);
  }

  async hasIssues(): Promise<boolean> {
    return this.#run(() => (this.#sql.issues['has-any'].get() as { present: number }).present === 1);
  }

  async createdAt(): Promise<string | undefined> {
    return this.#run(() => (this.#sql.issues['created-at'].get() as { createdAt: string | null }).createdAt ?? undefined);
  }

  // Deliveries

  async planDeliveries(issueSlug: string, at: string): Promise<number> {
    if ((await this.getIssue(issueSlug)) === undefined) throw unknownIssueError(issueSlug);
    return planInChunks((afterId) => this.#run(() => this.#immediate(() => this.#planChunk(issueSlug, afterId, at))));
  }

  #planChunk(issueSlug: string, afterId: number, at: string): { created: number; lastId: number } | undefined {
    const { lastId } = this.#sql.deliveries['plan-chunk-end'].get({ afterId, limit: PLAN_CHUNK_SIZE }) as { lastId: number | null };
    if (lastId === null) return undefined;
    const { changes } = this.#sql.deliveries['plan-chunk'].run({ issueSlug, afterId, lastId, at });
    return { created: changes, lastId };
  }

  async claimDeliveries(input: {
    issueSlug: string;
    holder: string;
    limit: number;
    now: string;
    leaseUntil: string;
  }): Promise<{ delivery: Delivery; subscriber: Subscriber }[]> {
    const params = {
      issueSlug: input.issueSlug,
      holder: requireHolder(input.holder),
      limit: toRowLimit(input.limit),
      now: toInstant(input.now, 'now'),
      leaseUntil: toInstant(input.leaseUntil, 'leaseUntil'),
    };
    return this.#run(() =>
      this.#immediate(() => {
        const ids = (this.#sql.deliveries.claim.all(params) as { id: number }[]).map((row) => row.id);
        if (ids.length === 0) return [];
        const rows = this.#sql.deliveries['list-claimed'].all({ ids: JSON.stringify(ids) }) as ClaimedDeliveryRow[];
        return rows.map(toClaimedDelivery);
      }),
    );
  }

  async renewDeliveryLeases(input: { holder: string; now: string; leaseUntil: string }): Promise<number> {
    const params = { holder: requireHolder(input.holder), now: toInstant(input.now, 'now'), leaseUntil: toInstant(input.leaseUntil, 'leaseUntil') };
    return this.#run(() => this.#sql.deliveries.renew.run(params).changes);
  }

  async markDeliveries(input: { holder: string; now: string; marks: readonly DeliveryMark[] }): Promise<{ marked: number; lost: number[] }> {
    if (input.marks.length === 0) return { marked: 0, lost: [] };
    const marks = toMarkRows(input.marks);
    const params = { holder: requireHolder(input.holder), now: toInstant(input.now, 'now'), marks: JSON.stringify(marks) };
    const marked = await this.#run(() => this.#immediate(() => (this.#sql.deliveries.mark.all(params) as { id: number }[]).map((row) => row.id)));
    return markOutcome(marks, marked);
  }

  async releaseDeliveries(input: { issueSlug: string; holder: string; now: string }): Promise<number> {
    const params = { issueSlug: input.issueSlug, holder: requireHolder(input.holder), now: toInstant(input.now, 'now') };
    return this.#run(() => this.#sql.deliveries.release.run(params).changes);
  }

  async requeueOrphans(issueSlug: string, now: string): Promise<number> {
    return this.#run(() => this.#sql.deliveries['requeue-orphans'].run({ issueSlug, now: toInstant(now, 'now') }).changes);
  }

  async countInFlight(issueSlug: string, now: string): Promise<{ count: number; until: string | undefined }> {
    const row = await this.#run(
      () => this.#sql.deliveries['count-in-flight'].get({ issueSlug, now: toInstant(now, 'now') }) as { count: number; until: string | null },
    );
    return { count: row.count, until: row.until ?? undefined };
  }

  async nextDeferredAt(issueSlug: string): Promise<string | undefined> {
    const row = await this.#run(() => this.#sql.deliveries['next-deferred-at'].get({ issueSlug }) as { nextAttemptAt: string | null });
    return row.nextAttemptAt ?? undefined;
  }

  async listDeliveries(
    issueSlug: string,
    filter: { state?: DeliveryState; afterId?: number; limit: number },
  ): Promise<Delivery[]> {
    const params = { issueSlug, state: filter.state, afterId: filter.afterId ?? 0, limit: filter.limit };
    const statement = filter.state === undefined ? this.#sql.deliveries['list-all'] : this.#sql.deliveries['list-by-state'];
    return this.#run(() => statement.all(params) as Delivery[]);
  }

  async unplanIssue(
    issueSlug: string,
    at?: string,
  ): Promise<{ outcome: 'archived'; removed: number } | { outcome: 'refused'; state: IssueState | undefined }> {
    const when = toInstant(at ?? new Date().toISOString(), 'at');
    return this.#run(() =>
      this.#immediate(() => {
        const record = this.#sql.issues.get.get({ slug: issueSlug }) as IssueRecord | undefined;
        const { count } = this.#sql.deliveries['count-unplannable'].get({ issueSlug }) as { count: number };
        if (!mayUnplan(record, count)) return { outcome: 'refused' as const, state: record?.state };
        const removed = this.#sql.deliveries['delete-planned'].run({ issueSlug }).changes;
        this.#sql.issues['archive-unsent'].run({ slug: issueSlug, at: when });
        return { outcome: 'archived' as const, removed };
      }),
    );
  }

  async countDeliveries(issueSlug: string): Promise<DeliveryCounts> {
    const rows = await this.#run(() => this.#sql.deliveries['count-by-state'].all({ issueSlug }) as { state: DeliveryState; count: number }[]);
    return toDeliveryCounts(rows);
  }

  // Stalled sends

  async recordSendStall(input: { issueSlug: string; code: string; message: string; at: string; nextRetryAt?: string }): Promise<void> {
    const params = {
      issueSlug: input.issueSlug,
      code: input.code,
      message: input.message,
      at: toInstant(input.at, 'at'),
      nextRetryAt: input.nextRetryAt === undefined ? null : toInstant(input.nextRetryAt, 'nextRetryAt'),
    };
    await this.#run(() => this.#sql['send-stalls'].record.run(params));
  }

  async clearSendStall(issueSlug: string): Promise<void> {
    await this.#run(() => this.#sql['send-stalls'].clear.run({ issueSlug }));
  }

  async getSendStall(issueSlug: string): Promise<SendStall | undefined> {
    return this.#run(() => this.#sql['send-stalls'].get.get({ issueSlug }) as SendStall | undefined);
  }

  // Leases

  async acquireLease(name: string, holder: string, until: string, now: string): Promise<boolean> {
    const params = { name, holder, until: toInstant(until, 'until'), now: toInstant(now, 'now') };
    return this.#run(() => this.#immediate(() => this.#sql.leases.acquire.run(params).changes === 1));
  }

  async releaseLease(name: string, holder: string): Promise<void> {
    await this.#run(() => this.#sql.leases.release.run({ name, holder }));
  }

  async getLease(name: string): Promise<{ holder: string; until: string } | undefined> {
    return this.#run(() => this.#sql.leases.get.get({ name }) as { holder: string; until: string } | undefined);
  }

  // Secrets

  async listSecrets(): Promise<{ kid: string; secret: string; createdAt: string }[]> {
    return this.#run(() => this.#sql.secrets.list.all() as { kid: string; secret: string; createdAt: string }[]);
  }

  async addSecret(kid: string, secret: string, at: string): Promise<void> {
    try {
      await this.#run(() => this.#sql.secrets.add.run({ kid, secret, at }));
    } catch (error) {
      if ((error as { code?: unknown }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
        throw duplicateSecretError(kid, error);
      }
      throw error;
    }
  }

  /** Runs `work` in a `BEGIN IMMEDIATE` transaction: the write lock first, so reads that decide writes stay true. */
  #immediate<T>(work: () => T): T {
    // One wrapper for every call: better-sqlite3 builds a transaction function's variants
    // (deferred, immediate, exclusive) each time `transaction()` is called.
    this.#transaction ??= this.#db.transaction((inside: () => unknown) => inside());
    return this.#transaction.immediate(work) as T;
  }

  #transaction: Database.Transaction<(inside: () => unknown) => unknown> | undefined;

  /**
   * Runs `work` like `#run(() => #immediate(work))`, in one write transaction with the other
   * grouped calls made in the same turn of the event loop (subscribe requests arriving
   * together): one BEGIN IMMEDIATE … COMMIT for all, each call in a savepoint of its own, so a
   * call that throws undoes only its own writes and rejects only its own promise. Every promise
   * settles after that COMMIT, so no answer goes out before its writes are in the WAL; the
   * commit, the store's dearest step, is paid once per group instead of once per call.
   */
  #grouped<T>(work: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#group.push({ work, resolve: resolve as (value: unknown) => void, reject });
      if (this.#group.length === 1) setImmediate(() => void this.#commitGroup());
    });
  }

  readonly #group: { work: () => unknown; resolve(value: unknown): void; reject(error: unknown): void }[] = [];

  async #commitGroup(): Promise<void> {
    const group = this.#group.splice(0);
    let outcomes: ({ ok: true; value: unknown } | { ok: false; error: unknown })[];
    try {
      outcomes = await this.#run(() =>
        this.#immediate(() =>
          group.map(({ work }) => {
            try {
              // Nested in the open transaction, better-sqlite3 makes this a savepoint.
              return { ok: true as const, value: this.#transaction!(work) };
            } catch (error) {
              // A locked store is the whole group's to wait for: rolled back whole and retried.
              if (isBusy(error)) throw error;
              return { ok: false as const, error: toStoreError(this.#file, error) };
            }
          }),
        ),
      );
    } catch (error) {
      for (const call of group) call.reject(error);
      return;
    }
    group.forEach((call, index) => {
      const outcome = outcomes[index]!;
      if (outcome.ok) call.resolve(outcome.value);
      else call.reject(outcome.error);
    });
  }

  /** Runs synchronous SQLite work, waiting for another process's lock off the event loop. */
  #run<T>(work: () => T): Promise<T> {
    return retryWhileBusy(this.#file, this.#lockWaitMs, this.#lockWaitTiming, work);
  }

  // Senders' heartbeats (roles)

  async beatWorker(worker: Omit<WorkerRecord, 'heartbeatAt'>, at: string): Promise<void> {
    const params = { ...worker, holder: requireHolder(worker.holder), startedAt: toInstant(worker.startedAt, 'startedAt'), at: toInstant(at, 'at') };
    await this.#run(() => this.#sql.workers.beat.run(params));
  }

  async removeWorker(holder: string): Promise<void> {
    await this.#run(() => this.#sql.workers.remove.run({ holder }));
  }

  async listWorkers(since: string): Promise<WorkerRecord[]> {
    return this.#run(() => this.#sql.workers['list-live'].all({ since: toInstant(since, 'since') }) as WorkerRecord[]);
  }

  async pruneWorkers(before: string): Promise<number> {
    return this.#run(() => this.#sql.workers.prune.run({ before: toInstant(before, 'before') }).changes);
  }

  // The global rate limit's slots

  async reserveRateSlots(input: { name: string; count: number; intervalMs: number; now: string }): Promise<number> {
    if (!Number.isInteger(input.count) || input.count < 1) throw new LetterpressError('E_STORE', `reserveRateSlots: count must be a positive integer, not ${input.count}`);
    if (!(input.intervalMs > 0)) throw new LetterpressError('E_STORE', `reserveRateSlots: intervalMs must be positive, not ${input.intervalMs}`);
    const params = { name: input.name, count: input.count, intervalMs: input.intervalMs, nowMs: Date.parse(toInstant(input.now, 'now')) };
    const row = await this.#run(() => this.#sql['rate-slots'].reserve.get(params) as { nextAtMs: number });
    return row.nextAtMs - input.count * input.intervalMs;
  }

  // Send-window holds

  async holdForSendWindow(issueSlug: string, at: string): Promise<void> {
    await this.#run(() => this.#sql['send-holds'].hold.run({ issueSlug, at: toInstant(at, 'at') }));
  }

  async listSendHolds(): Promise<string[]> {
    return this.#run(() => (this.#sql['send-holds'].list.all() as { issueSlug: string }[]).map((row) => row.issueSlug));
  }

  async releaseSendHolds(): Promise<string[]> {
    return this.#run(() => (this.#sql['send-holds']['release-all'].all() as { issueSlug: string }[]).map((row) => row.issueSlug));
  }
}
