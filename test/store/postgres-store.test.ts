import { describe, expect, it } from 'vitest';
import { openPostgresStore } from '../../src/store/postgres-store.ts';
import { describeStoreContract } from './store-contract.ts';
import { createTestDatabase } from '../helpers/postgres-database.ts';

describeStoreContract('postgres', async () => {
  const database = await createTestDatabase();
  const store = await openPostgresStore({ url: database.url });
  return {
    store,
    async cleanup() {
      await store.close();
      await database.drop();
    },
  };
});
