import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { LetterpressError } from '../util/errors.ts';

/**
 * SQL lives in `.sql` files under `src/store/sql/<dialect>/`, one folder per dialect, and is
 * read once when a store opens, never per call.
 *
 * File format: a query file holds named sections, each starting with a line
 * `-- name: <query-name>` and running until the next such line or the end of the file.
 * Other `--` comment lines are kept (SQLite and PostgreSQL both ignore them). A section may
 * hold several statements when it is meant for a multi-statement `exec`.
 *
 * Migrations are whole files in `<dialect>/migrations/`, named `<NNN>-<what>.sql`, applied
 * in number order.
 */

export type SqlDialect = 'sqlite' | 'postgres';

/** One migration file: its number orders it and is what the store records once it ran. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

const SQL_ROOT = new URL('./sql/', import.meta.url);
const NAME_LINE = /^--\s*name:\s*([A-Za-z0-9_-]+)\s*$/;
const MIGRATION_FILE = /^(\d+)-[A-Za-z0-9_-]+\.sql$/;

/** Reads one `.sql` file of a dialect; a missing file is an error that names it. */
export async function loadSqlFile(dialect: SqlDialect, relativePath: string): Promise<string> {
  const url = new URL(`${dialect}/${relativePath}`, SQL_ROOT);
  try {
    return await readFile(url, 'utf8');
  } catch (error) {
    throw new LetterpressError('E_STORE', `SQL file missing or unreadable: ${fileURLToPath(url)}`, { cause: error });
  }
}

/**
 * Loads the named queries a store needs from one file; asking for a name the file lacks is an
 * error naming both, so a typo fails at open, not on the first call.
 */
export async function loadQueries<Name extends string>(
  dialect: SqlDialect,
  relativePath: string,
  names: readonly Name[],
): Promise<Record<Name, string>> {
  const text = await loadSqlFile(dialect, relativePath);
  const sections = parseNamedQueries(text, `${dialect}/${relativePath}`);
  const queries = {} as Record<Name, string>;
  for (const name of names) {
    const sql = sections.get(name);
    if (sql === undefined) {
      throw new LetterpressError('E_STORE', `SQL file ${dialect}/${relativePath} has no query named "${name}"`);
    }
    queries[name] = sql;
  }
  return queries;
}

/** Splits a query file into its `-- name:` sections; duplicate or empty sections are errors. */
export function parseNamedQueries(text: string, label: string): Map<string, string> {
  const sections = new Map<string, string>();
  let current: string | undefined;
  let lines: string[] = [];
  const flush = (): void => {
    if (current === undefined) return;
    const sql = lines.join('\n').trim();
    if (sql === '') throw new LetterpressError('E_STORE', `SQL file ${label}: query "${current}" is empty`);
    sections.set(current, sql);
  };
  for (const line of text.split(/\r?\n/)) {
    const match = NAME_LINE.exec(line);
    if (!match) {
      lines.push(line);
      continue;
    }
    flush();
    current = match[1] ?? '';
    if (sections.has(current)) throw new LetterpressError('E_STORE', `SQL file ${label}: query "${current}" is defined twice`);
    lines = [];
  }
  flush();
  return sections;
}

/**
 * Lists a dialect's migrations in version order; two files with one number are an error.
 * `maxVersion` stops at a schema version (a store as an older release made it: upgrade tests).
 */
export async function loadMigrations(dialect: SqlDialect, options: { maxVersion?: number } = {}): Promise<Migration[]> {
  const folder = new URL(`${dialect}/migrations/`, SQL_ROOT);
  let names: string[];
  try {
    names = await readdir(folder);
  } catch (error) {
    throw new LetterpressError('E_STORE', `SQL migrations folder missing: ${fileURLToPath(folder)}`, { cause: error });
  }
  const migrations: Migration[] = [];
  for (const name of names.sort()) {
    const match = MIGRATION_FILE.exec(name);
    if (!match) continue;
    const version = Number(match[1]);
    if (options.maxVersion !== undefined && version > options.maxVersion) continue;
    if (migrations.some((migration) => migration.version === version)) {
      throw new LetterpressError('E_STORE', `SQL migrations for ${dialect}: two files are numbered ${version}`);
    }
    migrations.push({ version, name, sql: await loadSqlFile(dialect, `migrations/${name}`) });
  }
  return migrations.sort((a, b) => a.version - b.version);
}
