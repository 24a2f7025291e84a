import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { COPIED_TABLES, copyStore, describeUse, diffChunk, findMismatches, planTables, SKIPPED_TABLES, type CopyEvent } from '../../src/store/copy-store.ts';
import { openPostgresStore } from '../../src/store/postgres-store.ts';
import { openSqliteStore } from '../../src/store/sqlite-store.ts';
import { resolveStoreLocation } from '../../src/store/store-location.ts';
import { openTableAccess, type TableAccess, type TableRow, type TableShape } from '../../src/store/table-access.ts';
import type { IssueRecord } from '../../src/store/types.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres-database.ts';

const dirs: string[] = [];
const databases: TestDatabase[] = [];
const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const item of open.splice(0).reverse()) await item.close();
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  for (const database of databases.splice(0)) await database.drop();
});

const shape = (name: string, columns: string[], key: string | undefined = columns[0]): TableShape => ({ name, columns, key });
const SUBSCRIBERS = shape('subscribers', ['id', 'email', 'name']);

/** The tables of the current schema, as both stores have them. */
async function currentShapes(): Promise<TableShape[]> {
  const dir = await mkdtemp(path.join(tmpdir(), 'letterpress-copy-'));
  dirs.push(dir);
  const file = path.join(dir, 'shapes.db');
  await (await openSqliteStore({ file })).close();
  const access = await openTableAccess({ driver: 'sqlite', file, shown: file });
  try {
    return await access.describeTables();
  } finally {
    await access.close();
  }
}

describe('the rules of a copy (pure)', () => {
  it('compares a chunk: rows the target lacks, rows it has, and a differing value named by table, key and column', () => {
    const source: TableRow[] = [
      { id: 1, email: 'a@example.org', name: null },
      { id: 2, email: 'b@example.org', name: 'B' },
      { id: 3, email: 'c@example.org', name: 'C' },
    ];
    expect(diffChunk(SUBSCRIBERS, source, [])).toEqual({ missing: source, found: 0 });
    expect(diffChunk(SUBSCRIBERS, source, [source[1]!, { ...source[0]! }])).toEqual({ missing: [source[2]], found: 2 });
    expect(() => diffChunk(SUBSCRIBERS, source, [{ ...source[0]!, name: 'x'.repeat(100) }])).toThrow(
      /^the target holds other data for subscribers id 1: name is "x{56}… there, NULL on the source\./,
    );
    // Given the target's whole key range of the chunk, a row there the source lacks is named.
    expect(diffChunk(SUBSCRIBERS, [source[0]!, source[2]!], [source[0]!], { complete: true })).toEqual({ missing: [source[2]], found: 1 });
    expect(() => diffChunk(SUBSCRIBERS, [source[0]!, source[2]!], [source[0]!, source[1]!], { complete: true })).toThrow(
      /^the target's table subscribers holds rows the source does not have \(such as id 2\): it is not a copy of this source\./,
    );
    // A number is not its spelling as text: stored values compare exactly.
    expect(() => diffChunk(SUBSCRIBERS, [source[0]!], [{ ...source[0]!, id: 1, email: 'A@example.org' }])).toThrow(/email is "A@example.org" there, "a@example.org"/);
  });

  it('plans the tables in foreign-key order and refuses any table or column it cannot account for', async () => {
    const shapes = await currentShapes();
    const names = shapes.map((table) => table.name);
    const planned = planTables(shapes, shapes).map((table) => table.name);
    expect(planned).toEqual(COPIED_TABLES.map((table) => table.name).filter((name) => names.includes(name)));
    expect(planned.slice(0, 5)).toEqual(['subscribers', 'suppressions', 'secrets', 'issues', 'renditions']);
    expect(planned.slice(-3)).toEqual(['deliveries', 'confirmation_log', 'outgoing_mail']);
    for (const name of names) expect(planned.includes(name) || name in SKIPPED_TABLES, name).toBe(true);
    expect(planTables(shapes, undefined)).toHaveLength(planned.length);
    expect(() => planTables([], undefined)).toThrow(/the source holds no tables/);
    expect(() => planTables([...shapes, shape('audit_log', ['id'])], shapes)).toThrow('the source has a table migrate does not know: audit_log');
    expect(() => planTables(shapes.filter((table) => table.name !== 'send_stalls'), shapes)).toThrow(/^the source has no table send_stalls/);
    expect(() => planTables(shapes, shapes.filter((table) => table.name !== 'renditions'))).toThrow('the target has no table renditions');
    const narrower = shapes.map((table) => (table.name === 'deliveries' ? { ...table, columns: table.columns.filter((column) => column !== 'holder') } : table));
    expect(() => planTables(shapes, narrower)).toThrow('table deliveries differs between the stores: the target lacks holder');
    expect(() => planTables(narrower, shapes)).toThrow('table deliveries differs between the stores: the source lacks holder');
  });

  it('says what holds the source, one finding each', () => {
    expect(describeUse({ leases: [], sending: [], orphans: [{ issueSlug: 'a', count: 3, until: null }], outgoingMail: { count: 0, until: null } })).toEqual([]);
    expect(
      describeUse({
        leases: [{ name: 'scheduler', holder: 'h:1:x', until: '2026-01-01T00:10:00.000Z' }],
        sending: [{ issueSlug: '2024-18', count: 5, until: '2026-01-01T00:01:00.000Z' }],
        orphans: [],
        outgoingMail: { count: 1, until: '2026-01-01T00:02:00.000Z' },
      }),
    ).toEqual([
      'the scheduler lease is held by h:1:x until 2026-01-01T00:10:00.000Z',
      '5 messages of 2024-18 are being sent (lease until 2026-01-01T00:01:00.000Z)',
      '1 subscription emails are being sent (lease until 2026-01-01T00:02:00.000Z)',
    ]);
  });
});

const AT = '2026-02-01T10:00:00.000Z';
const issue = (slug: string, state: IssueRecord['state']): IssueRecord => ({
  slug,
  title: `Issue ${slug}`,
  contentHash: `hash-${slug}`,
  sourceFile: `issues/${slug}.md`,
  state,
  firstSeenAt: AT,
  publishedAt: AT,
  updatedAt: AT,
  feedId: `urn:letterpress:${slug}`,
});

/**
 * A SQLite store with something in every copied table: 11 imported readers (the last of 12
 * erased), one pending from the form, the newest erased, a half-sent issue, a stall, a
 * confirmation and its mail.
 */
async function filledSqliteStore(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'letterpress-copy-'));
  dirs.push(dir);
  const file = path.join(dir, 'source.db');
  const store = await openSqliteStore({ file });
  try {
    for (let i = 1; i <= 12; i += 1) await store.upsertSubscriber({ email: `r${i}@example.org`, name: i % 3 === 0 ? `读者 ${i}` : null, status: 'active', source: 'import', at: AT });
    await store.eraseSubscriber('r12@example.org', AT);
    await store.addSecret('kabc123', Buffer.alloc(32, 7).toString('base64url'), AT);
    await store.recordIssue(issue('one', 'published'));
    await store.saveRendition(
      {
        issueSlug: 'one', renderKey: 'k1', subject: 'One', preheader: 'p', html: '<p>'.padEnd(5_000, 'x'), text: 'text', publishAt: null,
        siteUrl: 'https://news.example.org', fromName: 'News', fromAddress: 'news@example.org', replyTo: null, envelopeFrom: 'news@example.org',
        listId: 'news.example.org', unsubscribeMailto: null,
      },
      AT,
    );
    await store.planDeliveries('one', AT);
    await store.transitionIssue('one', ['published'], 'sending', AT);
    const claimed = await store.claimDeliveries({ issueSlug: 'one', holder: 'h:1:a', limit: 5, now: AT, leaseUntil: '2026-02-01T10:01:00.000Z' });
    await store.markDeliveries({ holder: 'h:1:a', now: AT, marks: claimed.slice(0, 4).map((row) => ({ id: row.delivery.id, state: 'sent' as const, reply: '250 ok', at: AT })) });
    await store.recordSendStall({ issueSlug: 'one', code: 'E_SMTP_CONNECT', message: 'relay down', at: AT });
    await store.requestConfirmation({
      email: 'new@example.org', name: null, at: AT,
      windows: { addressSince: AT, mailboxSince: AT, overallSince: AT },
      decide: () => ({ send: true }),
    });
    // The newest id, 14, erased: the highest id left is 13, and 14 must stay spent.
    await store.upsertSubscriber({ email: 'last@example.org', status: 'active', source: 'add', at: AT });
    await store.eraseSubscriber('last@example.org', AT);
  } finally {
    await store.close();
  }
  return file;
}

async function access(url: string, root: string, options: { write?: boolean } = {}): Promise<TableAccess> {
  const opened = await openTableAccess(resolveStoreLocation({ url, root }), options);
  open.push(opened);
  return opened;
}

async function allRows(store: TableAccess, table: TableShape): Promise<TableRow[]> {
  return store.readChunk(table, undefined, 1_000_000);
}

describe('copying real stores', () => {
  it('SQLite → PostgreSQL → SQLite in small chunks gives back every row, the id high-water mark and the minute counters', async () => {
    const file = await filledSqliteStore();
    const database = await createTestDatabase('letterpress_copy');
    databases.push(database);
    await (await openPostgresStore({ url: database.url })).close();
    const back = path.join(path.dirname(file), 'back.db');
    await (await openSqliteStore({ file: back })).close();

    const source = await access(file, '/');
    const middle = await access(database.url, '/', { write: true });
    const events: CopyEvent[] = [];
    const there = await copyStore({ source, target: middle, now: AT, chunkRows: 3, onEvent: (event) => events.push(event), force: true });
    expect(findMismatches(there)).toEqual([]);
    expect(there.tables.find((row) => row.table === 'subscribers')).toEqual({ table: 'subscribers', source: 12, targetBefore: 0, copied: 12, targetAfter: 12 });
    expect(there.orphans).toEqual([]);
    expect(there.forcedPast).toEqual(['1 messages of one are being sent (lease until 2026-02-01T10:01:00.000Z)']);
    expect(events.filter((event) => event.table === 'subscribers').map((event) => event.done)).toEqual([3, 6, 9, 12]);
    expect(there.deliveryStates).toEqual([
      { issueSlug: 'one', state: 'queued', source: 6, target: 6 },
      { issueSlug: 'one', state: 'sending', source: 1, target: 1 },
      { issueSlug: 'one', state: 'sent', source: 4, target: 4 },
    ]);

    const returned = await access(back, '/', { write: true });
    const home = await copyStore({ source: middle, target: returned, now: AT, chunkRows: 4, force: true });
    expect(findMismatches(home)).toEqual([]);
    for (const table of await source.describeTables()) {
      if (table.name === 'schema_migrations' || table.name === 'leases' || table.key === undefined) continue;
      expect(await allRows(returned, table), table.name).toEqual(await allRows(source, table));
    }
    // The erased subscriber's id 14 stays spent on every store the copy reached.
    const subscribers = (await source.describeTables()).find((table) => table.name === 'subscribers')!;
    expect(await source.idHighWater(subscribers)).toBe(14);
    expect(await middle.idHighWater(subscribers)).toBe(14);
    expect(await returned.idHighWater(subscribers)).toBe(14);
    const minutes = (db: string) => new Database(db, { readonly: true }).prepare('SELECT minute, count FROM confirmation_log_minutes ORDER BY minute').all();
    expect(minutes(back)).toEqual(minutes(file));
    expect(minutes(back)).toEqual([{ minute: '2026-02-01T10:00', count: 1 }]);
  }, 60_000);

  it('an interrupted copy resumes with only the missing rows; then there is nothing to copy', async () => {
    const file = await filledSqliteStore();
    const database = await createTestDatabase('letterpress_copy');
    databases.push(database);
    await (await openPostgresStore({ url: database.url })).close();
    const source = await access(file, '/');
    const target = await access(database.url, '/', { write: true });
    await copyStore({ source, target, now: AT, force: true });
    // What a copy stopped halfway leaves: the last rows of two tables, and the rows after them, missing.
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      await client.query('DELETE FROM outgoing_mail');
      await client.query('DELETE FROM confirmation_log');
      await client.query('DELETE FROM deliveries WHERE id > 7');
    } finally {
      await client.end();
    }
    const resumed = await copyStore({ source, target, now: AT, chunkRows: 2, force: true });
    expect(findMismatches(resumed)).toEqual([]);
    expect(Object.fromEntries(resumed.tables.map((row) => [row.table, row.copied]))).toEqual({
      subscribers: 0, suppressions: 0, secrets: 0, issues: 0, renditions: 0, send_holds: 0, send_stalls: 0, deliveries: 4, confirmation_log: 1, outgoing_mail: 1,
    });
    const again = await copyStore({ source, target, now: AT, force: true });
    expect(again.copied).toBe(0);
    expect(again.raisedIds).toEqual([]);
  }, 60_000);

  it('reads the source in one snapshot: rows written during the copy are neither copied nor counted', async () => {
    const file = await filledSqliteStore();
    const dir = path.dirname(file);
    const targetFile = path.join(dir, 'target.db');
    await (await openSqliteStore({ file: targetFile })).close();
    const source = await access(file, '/');
    const target = await access(targetFile, '/', { write: true });
    const writer = new Database(file);
    open.push({ close: async () => void writer.close() });
    let wrote = false;
    const report = await copyStore({
      source, target, now: AT, chunkRows: 2, force: true,
      onEvent: (event) => {
        if (event.table !== 'subscribers' || wrote) return;
        wrote = true;
        // Another process adds a subscriber while the copy is at its first chunk (committed at once).
        writer
          .prepare("INSERT INTO subscribers (email, email_key, status, source, created_at, updated_at) VALUES ('late@example.org', 'late@example.org', 'active', 'add', ?, ?)")
          .run(AT, AT);
      },
    });
    expect(wrote).toBe(true);
    expect(findMismatches(report)).toEqual([]);
    expect(report.tables.find((row) => row.table === 'subscribers')).toMatchObject({ source: 12, copied: 12, targetAfter: 12 });
    expect((writer.prepare('SELECT count(*) AS count FROM subscribers').get() as { count: number }).count).toBe(13);
  }, 60_000);
});
