import type { StoreLocation } from './store-location.ts';

/**
 * Whole tables as plain rows, one driver at a time: the primitive `letterpress migrate` copies a
 * store with (src/store/copy-store.ts). Rows keep their stored column names and values (ids,
 * UTC ISO text, NULLs) exactly, so what one store wrote the other reads back unchanged.
 */

/** One stored value: both stores hold only integers, text and NULL. */
export type CellValue = string | number | null;
/** A row by its column names as stored (`subscriber_id`, not `subscriberId`). */
export type TableRow = Record<string, CellValue>;
/** A primary-key value: every Letterpress table has a single-column key, an id or a text. */
export type RowKey = string | number;

/** A table as the catalogue describes it. */
export interface TableShape {
  name: string;
  /** In the store's column order. */
  columns: readonly string[];
  /** The single primary-key column, or undefined when the table has none or a composite one. */
  key: string | undefined;
}

/** Delivery rows counted per issue and state. */
export interface DeliveryStateCount {
  issueSlug: string;
  state: string;
  count: number;
}

/** What shows that a process is using the store now, or was when it stopped. */
export interface StoreUse {
  /** Named leases held at `now` (`scheduler`, `publish`, …). */
  leases: { name: string; holder: string; until: string }[];
  /** Delivery rows `sending` under a live lease, per issue. */
  sending: { issueSlug: string; count: number; until: string | null }[];
  /** Delivery rows `sending` whose lease lapsed (a sender that stopped): orphans, per issue. */
  orphans: { issueSlug: string; count: number; until: string | null }[];
  /** Outgoing-mail rows `sending` under a live lease. */
  outgoingMail: { count: number; until: string | null };
}

export interface TableAccess {
  readonly location: StoreLocation;
  /**
   * The store's tables, bookkeeping of the database itself excluded (`sqlite_sequence`);
   * empty when the database holds no tables at all (a store never opened).
   */
  describeTables(): Promise<TableShape[]>;
  /**
   * From here until `endSnapshot`, every read sees the store as it was at this moment, so
   * counts taken at the end match the rows copied even if a process writes meanwhile.
   */
  beginSnapshot(): Promise<void>;
  endSnapshot(): Promise<void>;
  /** Up to `limit` rows after the key `after` (from the first when undefined), in key order. */
  readChunk(table: TableShape, after: RowKey | undefined, limit: number): Promise<TableRow[]>;
  /** The rows whose keys are among `keys`, in no particular order. */
  findRows(table: TableShape, keys: readonly RowKey[]): Promise<TableRow[]>;
  /**
   * The rows with an integer key after `after` (from the first when undefined) up to `last`
   * included, in key order: one index range scan where a list of keys would be thousands of probes.
   */
  readRange(table: TableShape, after: number | undefined, last: number): Promise<TableRow[]>;
  /**
   * Inserts rows with their own keys (ids included), in one transaction; a row whose key is
   * already there is left alone. Resolves with how many rows were inserted.
   */
  insertRows(table: TableShape, rows: readonly TableRow[]): Promise<number>;
  countRows(table: TableShape): Promise<number>;
  countDeliveryStates(): Promise<DeliveryStateCount[]>;
  /**
   * The highest id the table ever handed out: its sequence (which erasures leave standing) or
   * its largest id, whichever is higher; 0 for an empty table that never had a row.
   */
  idHighWater(table: TableShape): Promise<number>;
  /**
   * Makes sure the table never hands out an id at or below `value` (ids travel in sent tokens
   * and Message-IDs). True when this changed something; a store that reuses the ids of deleted
   * rows anyway (a SQLite table without AUTOINCREMENT) keeps doing so and answers false.
   */
  raiseIdHighWater(table: TableShape, value: number): Promise<boolean>;
  /** Live leases and rows in flight at `now`, and the orphans senders left. */
  readUse(now: string): Promise<StoreUse>;
  close(): Promise<void>;
}

/**
 * Opens raw table access to the store at `location`, without creating or migrating anything:
 * a SQLite file must exist (E_STORE otherwise); a PostgreSQL database without tables describes
 * none. `write` opens a SQLite file for writing (the copy's target).
 */
export async function openTableAccess(location: StoreLocation, options: { write?: boolean } = {}): Promise<TableAccess> {
  if (location.driver === 'postgres') {
    // node-postgres loads only when a PostgreSQL store is involved.
    const { openPostgresTableAccess } = await import('./postgres-table-access.ts');
    return openPostgresTableAccess(location);
  }
  const { openSqliteTableAccess } = await import('./sqlite-table-access.ts');
  return openSqliteTableAccess(location, options);
}

/** Double-quotes an identifier for either dialect (both read `""` inside as one quote). */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Groups `list-columns` rows into table shapes; a table whose key has several columns gets none. */
export function toTableShapes(rows: readonly { table: string; column: string; pk: number | boolean }[]): TableShape[] {
  const tables = new Map<string, { columns: string[]; keys: string[] }>();
  for (const row of rows) {
    const table = tables.get(row.table) ?? { columns: [], keys: [] };
    table.columns.push(row.column);
    if (row.pk === true || (typeof row.pk === 'number' && row.pk > 0)) table.keys.push(row.column);
    tables.set(row.table, table);
  }
  return [...tables].map(([name, { columns, keys }]) => ({ name, columns, key: keys.length === 1 ? keys[0] : undefined }));
}
