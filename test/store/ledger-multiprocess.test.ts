import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openPostgresStore } from '../../src/store/postgres-store.ts';
import { openSqliteStore } from '../../src/store/sqlite-store.ts';
import { createTestDatabase } from '../helpers/postgres-database.ts';
import { describeLedgerAcrossProcesses } from './store-contract.ts';

/** The ledger's multi-process contract cases on SQLite: child processes sharing one store file. */
describeLedgerAcrossProcesses('sqlite', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'letterpress-ledger-'));
  const file = path.join(dir, 'letterpress.db');
  const store = await openSqliteStore({ file });
  return {
    store,
    url: file,
    async cleanup() {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

/** The same cases on PostgreSQL: child processes connecting to one database of their own. */
describeLedgerAcrossProcesses('postgres', async () => {
  const database = await createTestDatabase('letterpress_ledger');
  const store = await openPostgresStore({ url: database.url });
  return {
    store,
    url: database.url,
    async cleanup() {
      await store.close();
      await database.drop();
    },
  };
});
