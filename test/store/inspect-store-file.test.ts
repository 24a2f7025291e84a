import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { inspectStoreFile } from '../../src/store/inspect-store-file.ts';
import { openSqliteStore } from '../../src/store/sqlite-store.ts';

let dir: string;
let file: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'letterpress-lost-store-'));
  file = path.join(dir, 'letterpress.db');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A real store with one subscriber, closed (so its WAL is checkpointed into the file). */
async function makeStore(): Promise<void> {
  const store = await openSqliteStore({ file });
  await store.upsertSubscriber({ email: 'kept@example.org', status: 'active', source: 'add', at: '2026-03-01T10:00:00.000Z' });
  await store.close();
}

async function fingerprint(target: string): Promise<{ hash: string; mtimeMs: number; size: number }> {
  const bytes = await readFile(target);
  const info = await stat(target);
  return { hash: createHash('sha256').update(bytes).digest('hex'), mtimeMs: info.mtimeMs, size: info.size };
}

const shapes: Record<string, () => Promise<void>> = {
  'a zero-length file': () => writeFile(file, ''),
  'a store cut to half its size': async () => {
    await makeStore();
    await truncate(file, Math.floor((await stat(file)).size / 2));
  },
  'a store cut mid-page': async () => {
    await makeStore();
    await truncate(file, (await stat(file)).size - 100);
  },
  'random bytes': () => writeFile(file, Buffer.from(Array.from({ length: 8192 }, (_, i) => (i * 7919) % 251))),
  'another SQLite database': async () => {
    const db = new Database(file);
    db.exec('CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES (1)');
    db.close();
  },
  'another SQLite database in WAL mode': async () => {
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES (1)');
    db.close();
  },
  'an empty SQLite database': async () => {
    const db = new Database(file);
    db.pragma('user_version = 1');
    db.close();
  },
};

describe('a lost store is never taken for a new one', () => {
  for (const [shape, make] of Object.entries(shapes)) {
    it(`refuses ${shape} with E_STORE and what to do, and writes nothing`, async () => {
      await make();
      const before = await fingerprint(file);
      const namesBefore = (await readdir(dir)).sort();
      expect(inspectStoreFile(file)).toMatchObject({ state: 'bad' });

      const error = (await openSqliteStore({ file }).catch((caught: unknown) => caught)) as Error & { code?: string };
      expect(error).toMatchObject({ code: 'E_STORE' });
      expect(error.message).toContain(file);
      expect(error.message).toContain(`restore ${file} from a backup; to start over on purpose: letterpress init --store`);

      expect(await fingerprint(file)).toEqual(before);
      // No -wal, -shm or temporary file left beside it.
      expect((await readdir(dir)).sort()).toEqual(namesBefore);
    });
  }

  it('says why: empty, truncated, not a Letterpress store', async () => {
    await writeFile(file, '');
    expect(inspectStoreFile(file)).toEqual({ state: 'bad', reason: 'the file is empty (0 bytes)' });
    await rm(file);
    await makeStore();
    await truncate(file, 4096);
    expect(inspectStoreFile(file)).toMatchObject({ state: 'bad', reason: expect.stringMatching(/^it is truncated/) });
    await rm(file);
    await shapes['another SQLite database']!();
    expect(inspectStoreFile(file)).toMatchObject({ state: 'bad', reason: expect.stringMatching(/not a Letterpress store/) });
  });

  it('creates a store only where no file exists, whole, with nothing left beside it', async () => {
    expect(inspectStoreFile(file)).toEqual({ state: 'missing' });
    await makeStore();
    expect(await readdir(dir)).toEqual(['letterpress.db']);
    expect(inspectStoreFile(file)).toEqual({ state: 'store' });
    const store = await openSqliteStore({ file });
    try {
      expect((await store.findSubscriberByEmail('kept@example.org'))?.status).toBe('active');
    } finally {
      await store.close();
    }
  });
});
