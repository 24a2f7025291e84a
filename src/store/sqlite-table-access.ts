import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { LetterpressError } from '../util/errors.ts';
import { loadQueries } from './load-sql.ts';
import type { StoreLocation } from './store-location.ts';
import { quoteIdentifier, toTableShapes, type DeliveryStateCount, type RowKey, type StoreUse, type TableAccess, type TableRow, type TableShape } from './table-access.ts';

const QUERIES = [
  'list-columns',
  'sequence-value',
  'is-autoincrement',
  'raise-sequence',
  'insert-sequence',
  'count-delivery-states',
  'live-leases',
  'live-deliveries',
  'lapsed-deliveries',
  'live-outgoing-mail',
] as const;

/** A copy is one command with nothing else to serve: waiting synchronously for a lock is fine here. */
const BUSY_TIMEOUT_MS = 5_000;

/** Raw table access to a SQLite store file that exists (see table-access.ts). */
export async function openSqliteTableAccess(location: Extract<StoreLocation, { driver: 'sqlite' }>, options: { write?: boolean } = {}): Promise<TableAccess> {
  const sql = await loadQueries('sqlite', 'copy.sql', QUERIES);
  if (!existsSync(location.file)) throw new LetterpressError('E_STORE', `${location.shown}: no SQLite store there`);
  let db: Database.Database;
  try {
    db = new Database(location.file, { fileMustExist: true, timeout: BUSY_TIMEOUT_MS });
    db.pragma('foreign_keys = ON');
    db.prepare('SELECT count(*) FROM sqlite_master').get();
  } catch (error) {
    throw new LetterpressError('E_STORE', `${location.shown}: cannot be read as a SQLite store (${(error as Error).message})`, { cause: error });
  }
  return new SqliteTableAccess(location, db, sql, options.write === true);
}

class SqliteTableAccess implements TableAccess {
  readonly location: StoreLocation;
  readonly #db: Database.Database;
  readonly #sql: Record<(typeof QUERIES)[number], string>;
  readonly #write: boolean;
  readonly #statements = new Map<string, Database.Statement>();
  #inSnapshot = false;

  constructor(location: StoreLocation, db: Database.Database, sql: Record<(typeof QUERIES)[number], string>, write: boolean) {
    this.location = location;
    this.#db = db;
    this.#sql = sql;
    this.#write = write;
  }

  async describeTables(): Promise<TableShape[]> {
    return toTableShapes(this.#prepare(this.#sql['list-columns']).all() as { table: string; column: string; pk: number }[]);
  }

  async beginSnapshot(): Promise<void> {
    if (this.#inSnapshot) return;
    // A deferred transaction takes its WAL snapshot at its first read, which follows at once.
    this.#db.exec('BEGIN');
    this.#db.prepare('SELECT count(*) FROM sqlite_master').get();
    this.#inSnapshot = true;
  }

  async endSnapshot(): Promise<void> {
    if (!this.#inSnapshot) return;
    this.#inSnapshot = false;
    this.#db.exec('COMMIT');
  }

  async readChunk(table: TableShape, after: RowKey | undefined, limit: number): Promise<TableRow[]> {
    const key = quoteIdentifier(requireKey(table));
    const columns = table.columns.map(quoteIdentifier).join(', ');
    const from = `SELECT ${columns} FROM ${quoteIdentifier(table.name)}`;
    if (after === undefined) return this.#prepare(`${from} ORDER BY ${key} LIMIT ?`).all(limit) as TableRow[];
    return this.#prepare(`${from} WHERE ${key} > ? ORDER BY ${key} LIMIT ?`).all(after, limit) as TableRow[];
  }

  async findRows(table: TableShape, keys: readonly RowKey[]): Promise<TableRow[]> {
    if (keys.length === 0) return [];
    const key = quoteIdentifier(requireKey(table));
    const columns = table.columns.map(quoteIdentifier).join(', ');
    const statement = this.#prepare(`SELECT ${columns} FROM ${quoteIdentifier(table.name)} WHERE ${key} IN (SELECT value FROM json_each(?))`);
    return statement.all(JSON.stringify(keys)) as TableRow[];
  }

  async readRange(table: TableShape, after: number | undefined, last: number): Promise<TableRow[]> {
    const key = quoteIdentifier(requireKey(table));
    const columns = table.columns.map(quoteIdentifier).join(', ');
    const from = `SELECT ${columns} FROM ${quoteIdentifier(table.name)}`;
    if (after === undefined) return this.#prepare(`${from} WHERE ${key} <= ? ORDER BY ${key}`).all(last) as TableRow[];
    return this.#prepare(`${from} WHERE ${key} > ? AND ${key} <= ? ORDER BY ${key}`).all(after, last) as TableRow[];
  }

  async insertRows(table: TableShape, rows: readonly TableRow[]): Promise<number> {
    this.#requireWrite();
    if (rows.length === 0) return 0;
    const key = quoteIdentifier(requireKey(table));
    const names = table.columns.map(quoteIdentifier).join(', ');
    const slots = table.columns.map(() => '?').join(', ');
    const insert = this.#prepare(`INSERT INTO ${quoteIdentifier(table.name)} (${names}) VALUES (${slots}) ON CONFLICT (${key}) DO NOTHING`);
    const insertAll = this.#db.transaction(() => {
      let inserted = 0;
      for (const row of rows) inserted += insert.run(...table.columns.map((column) => row[column] ?? null)).changes;
      return inserted;
    });
    try {
      return insertAll.immediate();
    } catch (error) {
      // Another unique key (an address) held by a row with another id: the target is someone else's.
      if ((error as { code?: unknown }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
        throw new LetterpressError('E_MIGRATE_CONFLICT', `the target's table ${table.name} already holds a row that clashes with the source's: ${(error as Error).message}`, { cause: error });
      }
      throw error;
    }
  }

  async countRows(table: TableShape): Promise<number> {
    return (this.#prepare(`SELECT count(*) AS count FROM ${quoteIdentifier(table.name)}`).get() as { count: number }).count;
  }

  async countDeliveryStates(): Promise<DeliveryStateCount[]> {
    return this.#prepare(this.#sql['count-delivery-states']).all() as DeliveryStateCount[];
  }

  async idHighWater(table: TableShape): Promise<number> {
    const key = quoteIdentifier(requireKey(table));
    const { largest } = this.#prepare(`SELECT COALESCE(max(${key}), 0) AS largest FROM ${quoteIdentifier(table.name)}`).get() as { largest: number };
    const sequence = this.#prepare(this.#sql['sequence-value']).get({ table: table.name }) as { seq: number } | undefined;
    return Math.max(largest, sequence?.seq ?? 0);
  }

  async raiseIdHighWater(table: TableShape, value: number): Promise<boolean> {
    this.#requireWrite();
    // Only AUTOINCREMENT tables promise never to reuse an id; the others hand out max(id) + 1.
    const { present } = this.#prepare(this.#sql['is-autoincrement']).get({ table: table.name }) as { present: number };
    if (present === 0 || value <= 0) return false;
    const raise = this.#db.transaction(() => {
      const raised = this.#prepare(this.#sql['raise-sequence']).run({ table: table.name, value }).changes;
      const added = this.#prepare(this.#sql['insert-sequence']).run({ table: table.name, value }).changes;
      return raised + added > 0;
    });
    return raise.immediate();
  }

  async readUse(now: string): Promise<StoreUse> {
    const mail = this.#prepare(this.#sql['live-outgoing-mail']).get({ now }) as { count: number; until: string | null };
    return {
      leases: this.#prepare(this.#sql['live-leases']).all({ now }) as StoreUse['leases'],
      sending: this.#prepare(this.#sql['live-deliveries']).all({ now }) as StoreUse['sending'],
      orphans: this.#prepare(this.#sql['lapsed-deliveries']).all({ now }) as StoreUse['orphans'],
      outgoingMail: { count: mail.count, until: mail.until },
    };
  }

  async close(): Promise<void> {
    if (this.#inSnapshot) await this.endSnapshot();
    this.#db.close();
  }

  #prepare(sql: string): Database.Statement {
    let statement = this.#statements.get(sql);
    if (statement === undefined) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  #requireWrite(): void {
    if (!this.#write) throw new LetterpressError('E_INTERNAL', `${this.location.shown} was opened to be read, not written`);
  }
}

function requireKey(table: TableShape): string {
  if (table.key === undefined) throw new LetterpressError('E_INTERNAL', `table ${table.name} has no single-column primary key to copy it by`);
  return table.key;
}
