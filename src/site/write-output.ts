import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { LetterpressError } from '../util/errors.ts';

/**
 * The file a build that changed out/ touches last (a dotfile, so it is never served): a running
 * server reloads what it holds from out/ when it changes, instead of watching every file.
 */
export const BUILD_STAMP = '.build-stamp';

/**
 * Text to write: a string, bytes, or a string in parts written one after another (a caller
 * that holds a big text in pieces never has to join them into one string first).
 */
export type FileContent = string | Uint8Array | readonly string[];

/**
 * Writes `content` to `file` so that a reader (or a crash) never sees a half-written file:
 * the bytes go to a temporary sibling first and are renamed over the target, which is atomic
 * on POSIX file systems. Returns false, touching nothing, when the file already holds exactly
 * these bytes — so unchanged outputs keep their mtime and HTTP caches stay valid.
 */
export async function writeFileAtomic(file: string, content: FileContent): Promise<boolean> {
  const chunks = await encodeInSteps(content);
  try {
    const existing = await readFile(file);
    if (holdsExactly(existing, chunks)) return false;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  await mkdir(path.dirname(file), { recursive: true });
  const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    // One write per chunk: the event loop runs between them.
    await writeFile(temporary, chunks);
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

/** Characters encoded at a time: well under a millisecond each, even for CJK text. */
const ENCODE_CHUNK_CHARS = 64 * 1024;

/**
 * `content` as UTF-8, in chunks with a turn of the event loop between them: encoding a
 * multi-megabyte feed or page in one go held a server in the same process for tens of
 * milliseconds. A chunk never ends between the two halves of a surrogate pair, so the bytes
 * are exactly those of encoding the whole string. Parts are encoded one after another; a
 * surrogate pair split across two parts is the caller's to avoid (the JSON and piece
 * boundaries used here never split one).
 */
async function encodeInSteps(content: FileContent): Promise<Buffer[]> {
  if (content instanceof Uint8Array) return [Buffer.from(content)];
  if (typeof content !== 'string') {
    // Small parts are encoded together, a chunk's worth at a time; big ones in steps of their own.
    const chunks: Buffer[] = [];
    let batch: string[] = [];
    let batched = 0;
    const flush = async () => {
      if (batch.length > 0) chunks.push(...(await encodeInSteps(batch.join(''))));
      batch = [];
      batched = 0;
    };
    for (const part of content) {
      if (part.length >= ENCODE_CHUNK_CHARS) {
        await flush();
        chunks.push(...(await encodeInSteps(part)));
        continue;
      }
      batch.push(part);
      batched += part.length;
      if (batched >= ENCODE_CHUNK_CHARS) await flush();
    }
    await flush();
    return chunks;
  }
  if (content.length <= ENCODE_CHUNK_CHARS) return [Buffer.from(content, 'utf8')];
  const chunks: Buffer[] = [];
  for (let start = 0; start < content.length; ) {
    let end = Math.min(content.length, start + ENCODE_CHUNK_CHARS);
    const last = content.charCodeAt(end - 1);
    if (end < content.length && last >= 0xd800 && last <= 0xdbff) end -= 1;
    chunks.push(Buffer.from(content.slice(start, end), 'utf8'));
    start = end;
    await yieldToEventLoop();
  }
  return chunks;
}

/** Whether `existing` is exactly the chunks, one after another. */
function holdsExactly(existing: Buffer, chunks: readonly Buffer[]): boolean {
  let offset = 0;
  for (const chunk of chunks) {
    if (offset + chunk.length > existing.length || !chunk.equals(existing.subarray(offset, offset + chunk.length))) return false;
    offset += chunk.length;
  }
  return offset === existing.length;
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
