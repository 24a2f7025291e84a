import path from 'node:path';
import { LetterpressError } from '../util/errors.ts';
import { openSqliteStore, type LockWaitTiming } from './sqlite-store.ts';
import type { Store } from './types.ts';

const POSTGRES_URL = /^postgres(ql)?:\/\//i;
const ANY_URL = /^[a-z][a-z0-9+.-]*:\/\//i;

/**
 * Opens the store a config names: the one place that picks a driver from `store.url`, so the
 * rest of the code only ever sees the `Store` interfaces.
 */
export async function openStore(options: { url: string; root: string; lockWaitMs?: number; lockWaitTiming?: LockWaitTiming }): Promise<Store> {
  return openSqliteStore({ file: resolveStoreFile(options), lockWaitMs: options.lockWaitMs, lockWaitTiming: options.lockWaitTiming });
}

/** The SQLite file a store URL names (a plain path, relative to the project root), or E_STORE for a URL this version cannot open. */
export function resolveStoreFile(options: { url: string; root: string }): string {
  const url = options.url.trim();
  if (POSTGRES_URL.test(url)) {
    throw new LetterpressError('E_STORE', `PostgreSQL stores are not supported yet: ${maskPassword(url)}; use a SQLite file path`);
  }
  // Any other scheme is a mistake, not a file name: do not create a folder called "mysql:".
  if (ANY_URL.test(url)) {
    throw new LetterpressError('E_STORE', `unsupported store URL: ${maskPassword(url)}; use a SQLite file path`);
  }
  if (url === '') throw new LetterpressError('E_STORE', 'the store URL is empty; use a SQLite file path');
  return path.resolve(options.root, url);
}

/** A URL as it may appear in a message: any password replaced, so errors never leak it. */
function maskPassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return url.replace(/\/\/([^:/@]*):[^@/]*@/, '//$1:***@');
  }
}
