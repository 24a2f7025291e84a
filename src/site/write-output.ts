import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { LetterpressError } from '../util/errors.ts';

/**
 * The file a build that changed out/ touches last (a dotfile, so it is never served): a running
 * server reloads what it holds from out/ when it changes, instead of watching every file.
 */
export const BUILD_STAMP = '.build-stamp';

/**
 * Writes `content` to `file` so that a reader (or a crash) never sees a half-written file:
 * the bytes go to a temporary sibling first and are renamed over the target, which is atomic
 * on POSIX file systems. Returns false, touching nothing, when the file already holds exactly
 * these bytes — so unchanged outputs keep their mtime and HTTP caches stay valid.
 */
export async function writeFileAtomic(file: string, content: string | Uint8Array): Promise<boolean> {
  const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : Buffer.from(content);
  try {
    const existing = await readFile(file);
    if (existing.equals(bytes)) return false;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  await mkdir(path.dirname(file), { recursive: true });
  const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeFile(temporary, bytes);
    await rename(temporary, file);
  } catch (error) {
    await rm(temporary, { force: true });
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC' || code === 'EDQUOT') {
      // The operator's to fix, not a bug: say which disk and what to do.
      throw new LetterpressError(
        'E_DISK_FULL',
        `cannot write ${file}: the disk holding ${path.dirname(file)} is full${code === 'EDQUOT' ? ' (disk quota reached)' : ''}; ` +
          'nothing half-written was kept; free space there (or point paths.out / paths.data at a larger disk) and run the command again',
        { cause: error, file },
      );
    }
    throw error;
  }
  return true;
}

/**
 * Removes temporary files that a build which died between write and rename left in `dir`.
 * A folder holding one was being written when the build died, so the next build rewrites
 * it (its state was never saved) and calls this first.
 */
export async function removeStaleTemporaries(dir: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  await Promise.all(
    names.filter((name) => /^\..+\.[0-9a-f]{12}\.tmp$/.test(name)).map((name) => rm(path.join(dir, name), { force: true })),
  );
}
