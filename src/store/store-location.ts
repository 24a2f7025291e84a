import path from 'node:path';
import { LetterpressError } from '../util/errors.ts';

/**
 * Which store a `store.url` names (after LETTERPRESS_DB / DATABASE_URL, see load-config.ts):
 * the one place that tells a PostgreSQL URL from a SQLite path, for opening the store and for
 * every command that names it (status, doctor, init).
 */
export type StoreLocation =
  | { driver: 'sqlite'; file: string; shown: string }
  | { driver: 'postgres'; url: string; shown: string };

const POSTGRES_URL = /^postgres(ql)?:\/\//i;
const SQLITE_PREFIX = /^sqlite:(\/\/)?/i;
const ANY_URL = /^[a-z][a-z0-9+.-]*:\/\//i;

/** `postgres://…` / `postgresql://…`, `sqlite:PATH`, or a plain path (SQLite, relative to the project root). */
export function resolveStoreLocation(options: { url: string; root: string }): StoreLocation {
  const url = options.url.trim();
  if (url === '') throw new LetterpressError('E_STORE', 'the store URL is empty; use a SQLite file path or a postgres:// URL');
  if (POSTGRES_URL.test(url)) return { driver: 'postgres', url, shown: maskStoreUrl(url) };
  const explicitSqlite = SQLITE_PREFIX.test(url);
  const file = url.replace(SQLITE_PREFIX, '');
  // Any other scheme is a mistake, not a file name: do not create a folder called "mysql:".
  if (!explicitSqlite && ANY_URL.test(url)) {
    throw new LetterpressError('E_STORE', `unsupported store URL: ${maskStoreUrl(url)}; use a SQLite file path (or sqlite:PATH) or a postgres:// URL`);
  }
  if (file === '') throw new LetterpressError('E_STORE', `the store URL ${url} names no file; use sqlite:PATH`);
  const resolved = path.resolve(options.root, file);
  const relative = path.relative(options.root, resolved);
  const inside = relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative);
  return { driver: 'sqlite', file: resolved, shown: inside ? relative : resolved };
}

/** A URL as it may appear in a message: any password replaced, so errors never leak it. */
export function maskStoreUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    for (const key of [...parsed.searchParams.keys()]) {
      if (/pass|secret|key/i.test(key)) parsed.searchParams.set(key, '***');
    }
    return parsed.toString();
  } catch {
    return url.replace(/\/\/([^:/@]*):[^@/]*@/, '//$1:***@');
  }
}

/** `host:port/database` of a PostgreSQL URL, for messages (no user, no password). */
export function describePostgresTarget(url: string): string {
  try {
    const parsed = new URL(url);
    const host = parsed.hostname === '' ? 'localhost' : parsed.hostname;
    const database = decodeURIComponent(parsed.pathname.replace(/^\//, '')) || '(default database)';
    return `${host}:${parsed.port || '5432'}/${database}`;
  } catch {
    return maskStoreUrl(url);
  }
}

/** How commands name the store in use: `data/letterpress.db (SQLite)`, `postgres://ann:***@db/news (PostgreSQL)`. */
export function describeStore(location: StoreLocation): string {
  return `${location.shown} (${location.driver === 'postgres' ? 'PostgreSQL' : 'SQLite'})`;
}
