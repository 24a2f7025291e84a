import pg from 'pg';
import { LetterpressError } from '../util/errors.ts';
import { loadQueries } from './load-sql.ts';
import { bindParameters, compileNamedParameters, type CompiledQuery } from './named-parameters.ts';
import { POSTGRES_TYPES, toPostgresStoreError } from './postgres-store.ts';
import { describePostgresTarget, type StoreLocation } from './store-location.ts';
import { quoteIdentifier, toTableShapes, type DeliveryStateCount, type RowKey, type StoreUse, type TableAccess, type TableRow, type TableShape } from './table-access.ts';

const QUERIES = [
  'list-columns',
  'sequence-value',
  'raise-sequence',
  'count-delivery-states',
  'live-leases',
  'live-deliveries',
  'lapsed-deliveries',
  'live-outgoing-mail',
] as const;

type Queries = Record<(typeof QUERIES)[number], CompiledQuery>;

/** How long opening waits for a connection before it says the server does not answer. */
const CONNECT_TIMEOUT_MS = 5_000;

/** Raw table access to a PostgreSQL database (see table-access.ts); the database must exist. */
export async function openPostgresTableAccess(location: Extract<StoreLocation, { driver: 'postgres' }>): Promise<TableAccess> {
  const text = await loadQueries('postgres', 'copy.sql', QUERIES);
  const sql = Object.fromEntries(Object.entries(text).map(([name, query]) => [name, compileNamedParameters(query as string)])) as Queries;
  // Two connections: the snapshot's, and one for everything else.
  const pool = new pg.Pool({
    connectionString: location.url,
    max: 2,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    application_name: 'letterpress-migrate',
    types: POSTGRES_TYPES,
  });
  pool.on('error', () => undefined);
  const access = new PostgresTableAccess(location, pool, sql);
  try {
    await pool.query('SELECT 1');
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw access.storeError(error);
  }
  return access;
}

class PostgresTableAccess implements TableAccess {
  readonly location: Extract<StoreLocation, { driver: 'postgres' }>;
  readonly #pool: pg.Pool;
  readonly #sql: Queries;
  #snapshot: pg.PoolClient | undefined;

  constructor(location: Extract<StoreLocation, { driver: 'postgres' }>, pool: pg.Pool, sql: Queries) {
    this.location = location;
    this.#pool = pool;
    this.#sql = sql;
  }

  async describeTables(): Promise<TableShape[]> {
    return toTableShapes(await this.#rows<{ table: string; column: string; pk: boolean }>(this.#sql['list-columns']));
  }

  async beginSnapshot(): Promise<void> {
    if (this.#snapshot !== undefined) return;
    const client = await this.#pool.connect().catch((error: unknown) => {
      throw this.storeError(error);
    });
    try {
      // REPEATABLE READ: one snapshot for the whole transaction, taken at its first query.
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      await client.query('SELECT 1');
    } catch (error) {
      client.release(true);
      throw this.storeError(error);
    }
    this.#snapshot = client;
  }

  async endSnapshot(): Promise<void> {
    const client = this.#snapshot;
    if (client === undefined) return;
    this.#snapshot = undefined;
    try {
      await client.query('COMMIT');
      client.release();
    } catch (error) {
      client.release(true);
      throw this.storeError(error);
    }
  }

  async readChunk(table: TableShape, after: RowKey | undefined, limit: number): Promise<TableRow[]> {
    const key = quoteIdentifier(requireKey(table));
    const from = `SELECT ${table.columns.map(quoteIdentifier).join(', ')} FROM ${quoteIdentifier(table.name)}`;
    if (after === undefined) return this.#query<TableRow>(`${from} ORDER BY ${key} LIMIT $1`, [limit]);
    return this.#query<TableRow>(`${from} WHERE ${key} > $1 ORDER BY ${key} LIMIT $2`, [after, limit]);
  }

  async findRows(table: TableShape, keys: readonly RowKey[]): Promise<TableRow[]> {
    if (keys.length === 0) return [];
    const key = quoteIdentifier(requireKey(table));
    const text = `SELECT ${table.columns.map(quoteIdentifier).join(', ')} FROM ${quoteIdentifier(table.name)} WHERE ${key} = ANY ($1)`;
    return this.#query<TableRow>(text, [keys]);
  }

  async readRange(table: TableShape, after: number | undefined, last: number): Promise<TableRow[]> {
    const key = quoteIdentifier(requireKey(table));
    const from = `SELECT ${table.columns.map(quoteIdentifier).join(', ')} FROM ${quoteIdentifier(table.name)}`;
    if (after === undefined) return this.#query<TableRow>(`${from} WHERE ${key} <= $1 ORDER BY ${key}`, [last]);
    return this.#query<TableRow>(`${from} WHERE ${key} > $1 AND ${key} <= $2 ORDER BY ${key}`, [after, last]);
  }

  async insertRows(table: TableShape, rows: readonly TableRow[]): Promise<number> {
    if (rows.length === 0) return 0;
    const name = quoteIdentifier(table.name);
    const columns = table.columns.map(quoteIdentifier).join(', ');
    // One statement and one parameter per chunk: the rows travel as JSON and are typed by the
    // table's own row type. OVERRIDING SYSTEM VALUE keeps the ids (identity columns would
    // refuse them otherwise); the sequences are raised afterwards (raiseIdHighWater).
    const text =
      `INSERT INTO ${name} (${columns}) OVERRIDING SYSTEM VALUE ` +
      `SELECT ${columns} FROM json_populate_recordset(NULL::${name}, $1::json) ` +
      `ON CONFLICT (${quoteIdentifier(requireKey(table))}) DO NOTHING`;
    try {
      return (await this.#pool.query(text, [JSON.stringify(rows)])).rowCount ?? 0;
    } catch (error) {
      // Another unique key (an address) held by a row with another id: the target is someone else's.
      if ((error as { code?: unknown }).code === '23505') {
        const detail = (error as { detail?: string }).detail ?? (error as Error).message;
        throw new LetterpressError('E_MIGRATE_CONFLICT', `the target's table ${table.name} already holds a row that clashes with the source's: ${detail}`, { cause: error });
      }
      throw this.storeError(error);
    }
  }

  async countRows(table: TableShape): Promise<number> {
    const rows = await this.#query<{ count: number }>(`SELECT count(*) AS count FROM ${quoteIdentifier(table.name)}`);
    return rows[0]?.count ?? 0;
  }

  async countDeliveryStates(): Promise<DeliveryStateCount[]> {
    return this.#rows<DeliveryStateCount>(this.#sql['count-delivery-states']);
  }

  async idHighWater(table: TableShape): Promise<number> {
    const key = requireKey(table);
    const [largest] = await this.#query<{ largest: number }>(`SELECT COALESCE(max(${quoteIdentifier(key)}), 0) AS largest FROM ${quoteIdentifier(table.name)}`);
    const [sequence] = await this.#rows<{ seq: number }>(this.#sql['sequence-value'], { table: quoteIdentifier(table.name), column: key });
    return Math.max(largest?.largest ?? 0, sequence?.seq ?? 0);
  }

  async raiseIdHighWater(table: TableShape, value: number): Promise<boolean> {
    const key = requireKey(table);
    const params = { table: quoteIdentifier(table.name), column: key };
    const [sequence] = await this.#rows<{ seq: number; present: boolean }>(this.#sql['sequence-value'], params);
    if (sequence?.present !== true || value <= sequence.seq) return false;
    await this.#rows(this.#sql['raise-sequence'], { ...params, value });
    return true;
  }

  async readUse(now: string): Promise<StoreUse> {
    const [mail] = await this.#rows<{ count: number; until: string | null }>(this.#sql['live-outgoing-mail'], { now });
    return {
      leases: await this.#rows<StoreUse['leases'][number]>(this.#sql['live-leases'], { now }),
      sending: await this.#rows<StoreUse['sending'][number]>(this.#sql['live-deliveries'], { now }),
      orphans: await this.#rows<StoreUse['orphans'][number]>(this.#sql['lapsed-deliveries'], { now }),
      outgoingMail: { count: mail?.count ?? 0, until: mail?.until ?? null },
    };
  }

  async close(): Promise<void> {
    await this.endSnapshot().catch(() => undefined);
    await this.#pool.end();
  }

  /** A driver error as the store reports it: E_STORE naming `host:port/database`, never the password. */
  storeError(error: unknown): unknown {
    if (error instanceof LetterpressError) return error;
    const converted = toPostgresStoreError(this.location.url, describePostgresTarget(this.location.url), error);
    if (converted instanceof LetterpressError) return converted;
    const message = error instanceof Error ? error.message : String(error);
    return new LetterpressError('E_STORE', `PostgreSQL store ${describePostgresTarget(this.location.url)}: ${message}`, { cause: error });
  }

  async #rows<Row extends pg.QueryResultRow>(query: CompiledQuery, params: Readonly<Record<string, unknown>> = {}): Promise<Row[]> {
    return this.#query<Row>(query.text, bindParameters(query, params));
  }

  /** Reads go through the snapshot while one is open, so they all see the same moment. */
  async #query<Row extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<Row[]> {
    try {
      return (await (this.#snapshot ?? this.#pool).query<Row>(text, values)).rows;
    } catch (error) {
      throw this.storeError(error);
    }
  }
}

function requireKey(table: TableShape): string {
  if (table.key === undefined) throw new LetterpressError('E_INTERNAL', `table ${table.name} has no single-column primary key to copy it by`);
  return table.key;
}
