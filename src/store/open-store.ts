import { LetterpressError } from '../util/errors.ts';
import { openSqliteStore, type LockWaitTiming } from './sqlite-store.ts';
import { resolveStoreLocation } from './store-location.ts';
import type { Store } from './types.ts';

/**
 * Opens the store a config names: the one place that picks a driver from `store.url`, so the
 * rest of the code only ever sees the `Store` interfaces.
 */
export async function openStore(options: { url: string; root: string; lockWaitMs?: number; lockWaitTiming?: LockWaitTiming }): Promise<Store> {
  const location = resolveStoreLocation(options);
  if (location.driver === 'postgres') {
    // node-postgres loads only for a PostgreSQL store: SQLite users never pay for it.
    const { openPostgresStore } = await import('./postgres-store.ts');
    return openPostgresStore({ url: location.url, lockWaitMs: options.lockWaitMs });
  }
  return openSqliteStore({ file: location.file, lockWaitMs: options.lockWaitMs, lockWaitTiming: options.lockWaitTiming });
}

/** The SQLite file a store URL names (relative to the project root), or E_STORE for a PostgreSQL URL, which names no file. */
export function resolveStoreFile(options: { url: string; root: string }): string {
  const location = resolveStoreLocation(options);
  if (location.driver !== 'sqlite') {
    throw new LetterpressError('E_STORE', `${location.shown} is a PostgreSQL store, not a file; this works on SQLite stores only`);
  }
  return location.file;
}
