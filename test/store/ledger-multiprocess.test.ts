import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openSqliteStore } from '../../src/store/sqlite-store.ts';
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
