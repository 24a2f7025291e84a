import { LetterpressError } from '../util/errors.ts';
import type { CellValue, RowKey, StoreUse, TableAccess, TableRow, TableShape } from './table-access.ts';

/**
 * `letterpress migrate`: copies one store into another, table by table, in key order and in
 * chunks (never a whole table in memory), ids kept, so every token and Message-ID already sent
 * still names the same subscriber. Re-running it copies only what is missing and changes
 * nothing when nothing is; a target that holds other data for the same ids is refused before
 * anything is written. The source is read in one snapshot, so the counts checked at the end
 * are the ones of the rows copied.
 */

/** A table migrate copies, in an order that satisfies the foreign keys of either store. */
interface CopiedTable {
  name: string;
  /** Rows per chunk: renditions hold whole emails (up to 100 KB each). */
  chunkRows: number;
  /** Integer ids that tokens, Message-IDs or links may carry: the target never hands them out again. */
  ids: boolean;
}

const CHUNK_ROWS = 5_000;

export const COPIED_TABLES: readonly CopiedTable[] = [
  { name: 'subscribers', chunkRows: CHUNK_ROWS, ids: true },
  { name: 'suppressions', chunkRows: CHUNK_ROWS, ids: false },
  { name: 'secrets', chunkRows: CHUNK_ROWS, ids: false },
  { name: 'issues', chunkRows: 500, ids: false },
  { name: 'renditions', chunkRows: 20, ids: false },
  { name: 'send_stalls', chunkRows: CHUNK_ROWS, ids: false },
  // An issue waiting for its send window keeps waiting on the target (schema 008 on SQLite).
  { name: 'send_holds', chunkRows: CHUNK_ROWS, ids: false },
  { name: 'deliveries', chunkRows: CHUNK_ROWS, ids: true },
  { name: 'confirmation_log', chunkRows: CHUNK_ROWS, ids: true },
  { name: 'outgoing_mail', chunkRows: CHUNK_ROWS, ids: true },
];

/** Tables migrate leaves behind on purpose, and why (the command's --help and the README say so). */
export const SKIPPED_TABLES: Readonly<Record<string, string>> = {
  leases: 'named leases belong to the processes running on the source',
  workers: "the senders' heartbeats belong to the processes running on the source",
  rate_slots: 'the global rate limit paces the senders running now; the target starts with its slots free',
  schema_migrations: 'each store keeps its own schema version',
  confirmation_log_minutes: "counters SQLite's triggers keep from confirmation_log by themselves",
};

/** One table's figures: rows on each side before, rows copied (or to copy, on a dry run), rows on the target after. */
export interface TableCopyReport {
  table: string;
  source: number;
  targetBefore: number;
  copied: number;
  targetAfter: number;
}

export interface DeliveryStateReport {
  issueSlug: string;
  state: string;
  source: number;
  target: number;
}

export interface CopyReport {
  dryRun: boolean;
  tables: TableCopyReport[];
  /** Delivery rows per issue and state on both sides (after the copy; before it, on a dry run). */
  deliveryStates: DeliveryStateReport[];
  /** Rows copied in all (to copy, on a dry run). */
  copied: number;
  /** Tables whose id sequence on the target was raised to the source's. */
  raisedIds: string[];
  /** What showed the source in use: empty unless `force` let the copy go on regardless. */
  forcedPast: string[];
  /** Rows a stopped sender left `sending` (lease lapsed): copied as they are, requeued by the first sender on the target. */
  orphans: StoreUse['orphans'];
  /** On a dry run into a database with no tables yet: a real run creates them first. */
  targetIsNew: boolean;
}

export type CopyEvent =
  | { kind: 'check'; table: string; done: number; total: number }
  | { kind: 'copy'; table: string; done: number; total: number };

export interface CopyStoreInput {
  source: TableAccess;
  /** Undefined on a dry run into a database that holds no tables yet. */
  target: TableAccess | undefined;
  /** The instant leases are judged at. */
  now: string;
  /** Copy even though the source shows live leases (their holders are known to be dead). */
  force?: boolean;
  dryRun?: boolean;
  onEvent?: (event: CopyEvent) => void;
  /** Rows per chunk in place of each table's own (tests make it small to cross chunk borders). */
  chunkRows?: number;
}

/** Copies `source` into `target` (or, on a dry run, counts what it would copy) and reports both sides' counts. */
export async function copyStore(input: CopyStoreInput): Promise<CopyReport> {
  const { source, target } = input;
  const tables = planTables(await source.describeTables(), target === undefined ? undefined : await target.describeTables());
  const { use, inUse } = await checkSourceUse(source, input.now, input.force === true);
  await source.beginSnapshot();
  try {
    const report: CopyReport = {
      dryRun: input.dryRun === true,
      tables: [],
      deliveryStates: [],
      copied: 0,
      raisedIds: [],
      forcedPast: inUse,
      orphans: use.orphans,
      targetIsNew: target === undefined,
    };
    const counts = await Promise.all(
      tables.map(async (table) => ({ source: await source.countRows(table.shape), targetBefore: target ? await target.countRows(table.shape) : 0 })),
    );
    const chunkOf = (table: PlannedTable) => input.chunkRows ?? table.chunkRows;
    // Rows already on the target are compared before anything is written, so a target that
    // holds somebody else's data is refused whole, not after half a copy.
    const missing = counts.map((count) => count.source);
    if (target !== undefined && counts.some((count) => count.targetBefore > 0)) {
      for (const [index, table] of tables.entries()) {
        const { source: total, targetBefore } = counts[index]!;
        if (targetBefore === 0) continue;
        let found = 0;
        let done = 0;
        let lastKey: RowKey | undefined;
        missing[index] = 0;
        for await (const rows of walkTable(source, table.shape, chunkOf(table))) {
          const [existing, coverage] = await targetRowsFor(target, table.shape, rows, lastKey);
          const diff = diffChunk(table.shape, rows, existing, coverage);
          found += diff.found;
          missing[index]! += diff.missing.length;
          done += rows.length;
          lastKey = keyOf(table.shape, rows[rows.length - 1]!);
          input.onEvent?.({ kind: 'check', table: table.shape.name, done, total });
        }
        if (targetBefore > found) throw await findExtraRowsError(target, table.shape, targetBefore - found, lastKey);
      }
    }
    for (const [index, table] of tables.entries()) {
      const { source: total, targetBefore } = counts[index]!;
      let copied = 0;
      if (!report.dryRun && target !== undefined && missing[index]! > 0) {
        let done = 0;
        let lastKey: RowKey | undefined;
        for await (const rows of walkTable(source, table.shape, chunkOf(table))) {
          // Into a table that was empty there is nothing to compare with; ON CONFLICT and the count below catch a race.
          const [existing, coverage] = targetBefore === 0 ? [[], { complete: false }] : await targetRowsFor(target, table.shape, rows, lastKey);
          const { missing: toInsert } = diffChunk(table.shape, rows, existing, coverage);
          lastKey = keyOf(table.shape, rows[rows.length - 1]!);
          const inserted = await target.insertRows(table.shape, toInsert);
          if (inserted !== toInsert.length) {
            throw new LetterpressError('E_MIGRATE_VERIFY', `table ${table.shape.name}: ${toInsert.length - inserted} of ${toInsert.length} rows appeared on the target while they were being copied; stop what writes to ${target.location.shown} and run migrate again`);
          }
          copied += inserted;
          done += rows.length;
          input.onEvent?.({ kind: 'copy', table: table.shape.name, done, total });
        }
      }
      if (!report.dryRun && target !== undefined && table.ids) {
        if (await target.raiseIdHighWater(table.shape, await source.idHighWater(table.shape))) report.raisedIds.push(table.shape.name);
      }
      const targetAfter = report.dryRun || target === undefined ? targetBefore : await target.countRows(table.shape);
      report.tables.push({ table: table.shape.name, source: total, targetBefore, copied: report.dryRun ? missing[index]! : copied, targetAfter });
      report.copied += report.dryRun ? missing[index]! : copied;
    }
    if (tables.some((table) => table.shape.name === 'deliveries')) {
      report.deliveryStates = joinDeliveryStates(await source.countDeliveryStates(), target ? await target.countDeliveryStates() : []);
    }
    return report;
  } finally {
    await source.endSnapshot();
  }
}

/**
 * Reads what uses the source at `now` and refuses (E_MIGRATE_IN_USE) while a process holds it,
 * unless `force`: rows copied from under a live sender would be sent again on the target.
 */
export async function checkSourceUse(source: TableAccess, now: string, force: boolean): Promise<{ use: StoreUse; inUse: string[] }> {
  const use = await source.readUse(now);
  const inUse = describeUse(use);
  if (inUse.length > 0 && !force) {
    throw new LetterpressError(
      'E_MIGRATE_IN_USE',
      `${source.location.shown} is in use: ${inUse.join('; ')}. Stop what runs on it (daemon, workers, send) or wait for the lease to lapse, then run migrate again; --force copies anyway when that holder is known to be dead`,
    );
  }
  return { use, inUse };
}

/** What differs between the two sides after a copy ("table deliveries: 10 on the source, 9 on the target"); empty when all matches. */
export function findMismatches(report: CopyReport): string[] {
  if (report.dryRun) return [];
  const tables = report.tables.filter((row) => row.source !== row.targetAfter).map((row) => `table ${row.table}: ${row.source} rows on the source, ${row.targetAfter} on the target`);
  const states = report.deliveryStates
    .filter((row) => row.source !== row.target)
    .map((row) => `deliveries of ${row.issueSlug} in state ${row.state}: ${row.source} on the source, ${row.target} on the target`);
  return [...tables, ...states];
}

interface PlannedTable extends CopiedTable {
  shape: TableShape;
}

/**
 * Which tables to copy, in order, with the source's shape; every table of the source must be
 * one migrate copies or skips on purpose, and a copied one must have the same columns on both
 * sides (`target` undefined: the target has no tables yet and will get this version's).
 */
export function planTables(source: readonly TableShape[], target: readonly TableShape[] | undefined): PlannedTable[] {
  if (source.length === 0) throw new LetterpressError('E_MIGRATE_SCHEMA', 'the source holds no tables: it is not a Letterpress store (check --from)');
  const known = new Set([...COPIED_TABLES.map((table) => table.name), ...Object.keys(SKIPPED_TABLES)]);
  const unknown = source.filter((table) => !known.has(table.name)).map((table) => table.name);
  if (unknown.length > 0) {
    throw new LetterpressError('E_MIGRATE_SCHEMA', `the source has ${unknown.length === 1 ? 'a table' : 'tables'} migrate does not know: ${unknown.join(', ')}; use the Letterpress version that made it`);
  }
  const bySource = new Map(source.map((table) => [table.name, table]));
  const byTarget = target === undefined ? undefined : new Map(target.map((table) => [table.name, table]));
  // A table this version copies that neither store has yet (an older schema on both sides) is simply not there to copy.
  const present = COPIED_TABLES.filter((copied) => bySource.has(copied.name) || byTarget?.has(copied.name) === true);
  return present.map((copied) => {
    const shape = bySource.get(copied.name);
    if (shape === undefined) throw new LetterpressError('E_MIGRATE_SCHEMA', `the source has no table ${copied.name}; open it once with this Letterpress version (letterpress status) so its schema is brought up to date`);
    if (shape.key === undefined) throw new LetterpressError('E_MIGRATE_SCHEMA', `the source's table ${copied.name} has no single-column primary key`);
    const other = byTarget?.get(copied.name);
    if (byTarget !== undefined && other === undefined) throw new LetterpressError('E_MIGRATE_SCHEMA', `the target has no table ${copied.name}`);
    if (other !== undefined) {
      const lacking = shape.columns.filter((column) => !other.columns.includes(column));
      const extra = other.columns.filter((column) => !shape.columns.includes(column));
      if (lacking.length > 0 || extra.length > 0 || other.key !== shape.key) {
        const parts = [
          lacking.length > 0 ? `the target lacks ${lacking.join(', ')}` : '',
          extra.length > 0 ? `the source lacks ${extra.join(', ')}` : '',
          other.key !== shape.key ? `the keys differ (${shape.key} / ${other.key ?? 'none'})` : '',
        ].filter(Boolean);
        throw new LetterpressError('E_MIGRATE_SCHEMA', `table ${copied.name} differs between the stores: ${parts.join('; ')}`);
      }
    }
    return { ...copied, shape };
  });
}

/**
 * Compares one chunk of source rows with the target's rows of the same keys: the rows the target
 * lacks, and how many it has. A row it has with any other value is refused, naming the table,
 * the key and the column.
 */
export function diffChunk(
  table: TableShape,
  sourceRows: readonly TableRow[],
  targetRows: readonly TableRow[],
  options: { complete?: boolean } = {},
): { missing: TableRow[]; found: number } {
  const key = table.key!;
  const existing = new Map<CellValue, TableRow>(targetRows.map((row) => [row[key] ?? null, row]));
  if (options.complete === true) {
    // The target's rows are its whole key range of this chunk: one the source lacks is extra.
    const keys = new Set(sourceRows.map((row) => row[key] ?? null));
    const extra = targetRows.find((row) => !keys.has(row[key] ?? null));
    if (extra !== undefined) throw extraRowsError(table, undefined, extra[key] ?? null);
  }
  const missing: TableRow[] = [];
  let found = 0;
  for (const row of sourceRows) {
    const other = existing.get(row[key] ?? null);
    if (other === undefined) {
      missing.push(row);
      continue;
    }
    found += 1;
    for (const column of table.columns) {
      const mine = row[column] ?? null;
      const theirs = other[column] ?? null;
      if (mine !== theirs) {
        throw new LetterpressError(
          'E_MIGRATE_CONFLICT',
          `the target holds other data for ${table.name} ${key} ${JSON.stringify(row[key])}: ${column} is ${showValue(theirs)} there, ${showValue(mine)} on the source. ` +
            'Migrate into an empty database, or into the one an earlier migrate from this source filled and nothing used since',
        );
      }
    }
  }
  return { missing, found };
}

/** Why the source counts as in use, one phrase per finding; empty when nothing holds it. */
export function describeUse(use: StoreUse): string[] {
  const found: string[] = [];
  for (const lease of use.leases) found.push(`the ${lease.name} lease is held by ${lease.holder} until ${lease.until}`);
  for (const row of use.sending) found.push(`${row.count} messages of ${row.issueSlug} are being sent (lease until ${row.until ?? '?'})`);
  if (use.outgoingMail.count > 0) found.push(`${use.outgoingMail.count} subscription emails are being sent (lease until ${use.outgoingMail.until ?? '?'})`);
  return found;
}

function joinDeliveryStates(
  source: readonly { issueSlug: string; state: string; count: number }[],
  target: readonly { issueSlug: string; state: string; count: number }[],
): DeliveryStateReport[] {
  const rows = new Map<string, DeliveryStateReport>();
  const entry = (issueSlug: string, state: string) => {
    const id = `${issueSlug}\u0000${state}`;
    let row = rows.get(id);
    if (row === undefined) {
      row = { issueSlug, state, source: 0, target: 0 };
      rows.set(id, row);
    }
    return row;
  };
  for (const row of source) entry(row.issueSlug, row.state).source = row.count;
  for (const row of target) entry(row.issueSlug, row.state).target = row.count;
  return [...rows.values()].sort((a, b) => (a.issueSlug === b.issueSlug ? (a.state < b.state ? -1 : 1) : a.issueSlug < b.issueSlug ? -1 : 1));
}

/**
 * The source's rows of a table in key order, one chunk at a time, the next chunk read while the
 * caller works on this one: at most two chunks in memory. The read waits for the next turn of
 * the event loop so that the caller's query is on its way to the target first (a SQLite read
 * runs synchronously and would otherwise delay it).
 */
async function* walkTable(access: TableAccess, table: TableShape, chunkRows: number): AsyncGenerator<TableRow[]> {
  let pending = access.readChunk(table, undefined, chunkRows);
  for (;;) {
    const rows = await pending;
    if (rows.length === 0) return;
    if (rows.length < chunkRows) {
      yield rows;
      return;
    }
    const after = keyOf(table, rows[rows.length - 1]!);
    pending = new Promise<void>((resolve) => setImmediate(resolve)).then(() => access.readChunk(table, after, chunkRows));
    // A rejected read is awaited at the top of the next turn; until then it must not count as unhandled.
    pending.catch(() => undefined);
    yield rows;
  }
}

function keyOf(table: TableShape, row: TableRow): RowKey {
  const value = row[table.key!];
  if (value === null || value === undefined) throw new LetterpressError('E_INTERNAL', `a row of ${table.name} has no ${table.key}`);
  return value;
}

function keysOf(table: TableShape, rows: readonly TableRow[]): RowKey[] {
  return rows.map((row) => keyOf(table, row));
}

/**
 * The rows the target holds for a chunk of source rows: by key range where keys are integers
 * (one index range scan, and every row in it is accounted for: `complete`), else by the list
 * of keys. Text keys are never compared as ranges: the two stores may order text differently.
 */
async function targetRowsFor(
  target: TableAccess,
  table: TableShape,
  rows: readonly TableRow[],
  previousKey: RowKey | undefined,
): Promise<readonly [TableRow[], { complete: boolean }]> {
  const last = keyOf(table, rows[rows.length - 1]!);
  if (typeof last === 'number' && (previousKey === undefined || typeof previousKey === 'number')) {
    return [await target.readRange(table, previousKey, last), { complete: true }];
  }
  return [await target.findRows(table, keysOf(table, rows)), { complete: false }];
}

/** Names one of the target's extra rows past the source's last key, if there is one (the usual case: rows added on the target). */
async function findExtraRowsError(target: TableAccess, table: TableShape, extra: number, lastKey: RowKey | undefined): Promise<LetterpressError> {
  const beyond = await target.readChunk(table, lastKey, 1);
  return extraRowsError(table, extra, beyond[0]?.[table.key!] ?? null);
}

function extraRowsError(table: TableShape, extra: number | undefined, example: CellValue): LetterpressError {
  const count = extra === undefined ? 'rows' : `${extra} row${extra === 1 ? '' : 's'}`;
  const such = example === null ? '' : ` (such as ${table.key} ${JSON.stringify(example)})`;
  return new LetterpressError(
    'E_MIGRATE_CONFLICT',
    `the target's table ${table.name} holds ${count} the source does not have${such}: it is not a copy of this source. ` +
      'Migrate into an empty database, or into the one an earlier migrate from this source filled and nothing used since',
  );
}

/** A value as a conflict message shows it: quoted, and cut short (a rendition's html is long). */
function showValue(value: CellValue): string {
  if (value === null) return 'NULL';
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}…` : text;
}
