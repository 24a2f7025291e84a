import { closeSync, existsSync, fstatSync, openSync, readSync, rmSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';

/** What is at a store path: nothing yet, a Letterpress store, or a file that must not be taken for one. */
export type StoreFileState = { state: 'missing' } | { state: 'store' } | { state: 'bad'; reason: string };

const SQLITE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1');
const HEADER_BYTES = 100;
/** Tables every Letterpress store has had since its first migration. */
const MARKER_TABLES = ['schema_migrations', 'subscribers', 'issues'];

/** What to do about a file that is not a usable store: the same advice wherever it is refused. */
export function lostStoreAdvice(file: string): string {
  return `restore ${file} from a backup; to start over on purpose: letterpress init --store`;
}

/**
 * Looks at a store file without changing it: its size and SQLite header first (so an empty,
 * cut-short or foreign file is never opened by SQLite, which would write to it), then, read-only,
 * its tables. A SQLite connection in WAL mode makes `-wal` and `-shm` files even when read-only;
 * the ones this look made are removed again when the file is refused.
 */
export function inspectStoreFile(file: string): StoreFileState {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'missing' };
    throw error;
  }
  let header: Buffer;
  let size: number;
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) return { state: 'bad', reason: 'it is not a regular file' };
    size = stat.size;
    header = Buffer.alloc(HEADER_BYTES);
    readSync(fd, header, 0, HEADER_BYTES, 0);
  } finally {
    closeSync(fd);
  }
  // After a crash mid-checkpoint the file may be shorter than its header says, the rest still
  // in the WAL, which SQLite replays: only without a WAL is a short file really cut short.
  const hasWal = existsSync(`${file}-wal`) && statSync(`${file}-wal`).size > 0;
  const fromHeader = checkHeader(header, size, hasWal);
  if (fromHeader !== undefined) return { state: 'bad', reason: fromHeader };
  return checkTables(file);
}

/** Why the first bytes and the size do not make a whole SQLite database, or undefined when they do. */
function checkHeader(header: Buffer, size: number, hasWal: boolean): string | undefined {
  if (size === 0) return 'the file is empty (0 bytes)';
  if (size < HEADER_BYTES || !header.subarray(0, SQLITE_MAGIC.length).equals(SQLITE_MAGIC)) {
    return `it is not a SQLite database (${size} bytes without the SQLite header)`;
  }
  const rawPageSize = header.readUInt16BE(16);
  const pageSize = rawPageSize === 1 ? 65_536 : rawPageSize;
  if (pageSize < 512 || (pageSize & (pageSize - 1)) !== 0) return 'its SQLite header is damaged (bad page size)';
  if (size % pageSize !== 0) return `it is truncated (${size} bytes is not a whole number of ${pageSize}-byte pages)`;
  // The page count in the header is valid when written by SQLite 3.7.0+ (same change counter).
  const changeCounter = header.readUInt32BE(24);
  const pageCount = header.readUInt32BE(28);
  const validFor = header.readUInt32BE(92);
  if (!hasWal && validFor === changeCounter && pageCount > 0 && size < pageCount * pageSize) {
    return `it is truncated (${size} bytes; its header says ${pageCount * pageSize})`;
  }
  return undefined;
}

function checkTables(file: string): StoreFileState {
  const sidecars = [`${file}-wal`, `${file}-shm`];
  const existedBefore = sidecars.map((sidecar) => existsSync(sidecar));
  let verdict: StoreFileState;
  try {
    const db = new Database(file, { readonly: true, fileMustExist: true });
    try {
      const names = new Set((db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((row) => row.name));
      const missing = MARKER_TABLES.filter((name) => !names.has(name));
      verdict =
        missing.length === 0
          ? { state: 'store' }
          : { state: 'bad', reason: names.size === 0 ? 'it is an empty SQLite database, not a Letterpress store' : `it is a SQLite database but not a Letterpress store (no ${missing.join(', ')} table)` };
    } finally {
      db.close();
    }
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    verdict = { state: 'bad', reason: `SQLite cannot read it (${message})` };
  }
  if (verdict.state === 'bad') {
    sidecars.forEach((sidecar, index) => {
      if (!existedBefore[index]) rmSync(sidecar, { force: true });
    });
  }
  return verdict;
}
