import { createHash } from 'node:crypto';
import { constants as fsConstants, createReadStream, mkdirSync, watch, type FSWatcher } from 'node:fs';
import { lstat, open, readdir, readFile, realpath } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { brotliCompress, constants as zlibConstants, gzip } from 'node:zlib';
import { BUILD_STAMP } from '../site/write-output.ts';

const brotli = promisify(brotliCompress);
const gzipAsync = promisify(gzip);


/** Files larger than this are not held in memory: they are streamed from disk on each request. */
export const DEFAULT_MAX_FILE_BYTES = 1024 * 1024;
/** At most this many bytes (every file with its compressed variants) are held; the rest is streamed from disk. */
export const DEFAULT_MAX_TOTAL_BYTES = 64 * 1024 * 1024;

/** Content types by file extension; everything else is served as bytes. */
const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.xml': 'application/xml; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.avif': 'image/avif',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.pdf': 'application/pdf',
  '.webmanifest': 'application/manifest+json; charset=utf-8',
  '.atom': 'application/atom+xml; charset=utf-8',
  '.rss': 'application/rss+xml; charset=utf-8',
};

/** The feeds by name: the extension table would call a JSON Feed plain JSON. */
export const CONTENT_TYPE_OVERRIDES: Readonly<Record<string, string>> = {
  'feed.json': 'application/feed+json; charset=utf-8',
  'feed.atom': 'application/atom+xml; charset=utf-8',
  'feed.rss': 'application/rss+xml; charset=utf-8',
};

/** The content type a file of out/ is served with. */
export function contentTypeFor(file: string): string {
  const base = path.basename(file);
  return CONTENT_TYPE_OVERRIDES[base] ?? CONTENT_TYPES[path.extname(base).toLowerCase()] ?? 'application/octet-stream';
}

/** Types worth compressing (images and fonts are compressed already). */
function isCompressible(type: string): boolean {
  return /^text\/|\+xml|\+json|^application\/(json|xml|javascript)|^image\/svg/.test(type);
}

export type Encoding = 'br' | 'gzip' | 'identity';

/** One representation of a file: its bytes (absent when streamed from disk) and strong ETag. */
export interface SiteVariant {
  encoding: Encoding;
  etag: string;
  size: number;
  body?: Buffer;
  /** Every header of a 200 or 304 answer but the length, made once. */
  headers: Readonly<Record<string, string>>;
}

/** Published pages change when an issue is edited: caches revalidate, and get a 304. */
const CACHE_CONTROL = 'public, max-age=0';

/** The response headers of one variant of a file. */
function headersFor(meta: Omit<SiteFile, 'variants'>, encoding: Encoding, etag: string, compressed: boolean): Record<string, string> {
  const headers: Record<string, string> = {
    'content-type': meta.contentType,
    etag,
    'last-modified': meta.lastModified,
    'cache-control': CACHE_CONTROL,
  };
  if (compressed) headers.vary = 'Accept-Encoding';
  if (encoding !== 'identity') headers['content-encoding'] = encoding;
  return headers;
}

/** A file of out/ as the server answers it. */
export interface SiteFile {
  /** Absolute path, for files streamed from disk. */
  file: string;
  contentType: string;
  /** HTTP date of the file's mtime, and the mtime in whole seconds (what the header can say). */
  lastModified: string;
  mtimeSeconds: number;
  /** Identity first; compressed variants only when they are smaller. */
  variants: SiteVariant[];
  /** What identifies the file on disk, so a reload reuses unchanged entries as they are. */
  key: string;
}

export interface SiteCache {
  /** The file a decoded URL path names (`/` and `/dir/` name their index.html), if served. */
  lookup(urlPath: string): SiteFile | undefined;
  /** Reads out/ again; requests meanwhile get the previous contents. */
  reload(): Promise<void>;
  /** Reloads whenever the build stamp changes (fs.watch on out/ itself). */
  watch(onError?: (error: unknown) => void): void;
  /** Bytes held in memory and files counted, for logs and tests. */
  stats(): { files: number; heldBytes: number; streamed: number };
  close(): void;
}

/**
 * Holds the generated site (`out/`) in memory: every regular file inside out/ (symlinks and
 * dotfiles are never served) with a strong ETag (SHA-256 of its bytes) and its brotli and gzip
 * variants, made once when the file changes. Files over `maxFileBytes`, and those past the
 * `maxTotalBytes` budget, are kept as metadata only and streamed from disk, so memory stays
 * bounded however large the archive grows.
 */
export function createSiteCache(options: { outDir: string; maxFileBytes?: number; maxTotalBytes?: number }): SiteCache {
  const maxFileBytes = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  const maxTotalBytes = options.maxTotalBytes ?? DEFAULT_MAX_TOTAL_BYTES;
  let files = new Map<string, SiteFile>();
  let heldBytes = 0;
  let loading: Promise<void> | undefined;
  let again = false;
  let watcher: FSWatcher | undefined;
  let debounce: NodeJS.Timeout | undefined;

  const load = async (): Promise<void> => {
    let root: string;
    try {
      root = await realpath(options.outDir);
    } catch {
      files = new Map();
      heldBytes = 0;
      return;
    }
    const found = await listRegularFiles(root);
    // Top-level files (index, feeds, styles) first, so the budget goes to what is asked most.
    found.sort((a, b) => a.depth - b.depth || a.relative.localeCompare(b.relative));
    const next = new Map<string, SiteFile>();
    let held = 0;
    for (const entry of found) {
      const previous = files.get(`/${entry.relative}`);
      let site: SiteFile;
      if (previous && previous.key === entry.key) site = previous;
      else {
        const canHold = entry.size <= maxFileBytes && held + entry.size <= maxTotalBytes;
        site = await (canHold ? loadHeld(entry) : loadStreamed(entry));
      }
      // A reused entry that no longer fits the budget is read again as streamed.
      const size = heldSize(site);
      if (size > 0 && held + size > maxTotalBytes) site = await loadStreamed(entry);
      held += heldSize(site);
      next.set(`/${entry.relative}`, site);
    }
    files = next;
    heldBytes = held;
  };

  const reload = async (): Promise<void> => {
    // One load at a time; a change during a load starts one more when it ends.
    if (loading) {
      again = true;
      return loading;
    }
    loading = (async () => {
      try {
        do {
          again = false;
          await load();
        } while (again);
      } finally {
        loading = undefined;
      }
    })();
    return loading;
  };

  return {
    lookup(urlPath) {
      const key = urlPath.endsWith('/') ? `${urlPath}index.html` : urlPath;
      return files.get(key);
    },
    reload,
    watch(onError) {
      if (watcher) return;
      try {
        // A server may start before the first build made out/ (a new project, a test root):
        // watching needs the folder, and an empty one serves nothing until the build's stamp.
        mkdirSync(options.outDir, { recursive: true });
        watcher = watch(options.outDir, { persistent: false }, (_event, name) => {
          if (name !== null && name !== BUILD_STAMP) return;
          // A build writes the stamp last; a short pause lets a burst of builds settle.
          clearTimeout(debounce);
          debounce = setTimeout(() => void reload().catch((error: unknown) => onError?.(error)), 50);
          debounce.unref();
        });
        watcher.on('error', (error) => onError?.(error));
      } catch (error) {
        onError?.(error);
      }
    },
    stats() {
      let streamed = 0;
      for (const site of files.values()) if (site.variants[0]!.body === undefined) streamed += 1;
      return { files: files.size, heldBytes, streamed };
    },
    close() {
      clearTimeout(debounce);
      watcher?.close();
      watcher = undefined;
    },
  };
}

interface FoundFile {
  file: string;
  relative: string;
  depth: number;
  size: number;
  key: string;
  mtimeMs: number;
}

/** Every regular file under root, by path relative to it; dotfiles, dot-folders and symlinks leading out of root are left out. */
async function listRegularFiles(root: string): Promise<FoundFile[]> {
  const found: FoundFile[] = [];
  const walk = async (dir: string, relative: string, depth: number): Promise<void> => {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return;
    }
    for (const name of names) {
      if (name.startsWith('.')) continue;
      const file = path.join(dir, name);
      let info;
      try {
        info = await lstat(file);
      } catch {
        continue;
      }
      const rel = relative === '' ? name : `${relative}/${name}`;
      if (info.isSymbolicLink()) {
        // A link is served only as the regular file it resolves to inside out/ (a planted link
        // to data/letterpress.db or /etc/passwd names nothing); linked folders are not walked.
        const target = await resolveInsideRoot(root, file);
        if (target) found.push({ file: target.file, relative: rel, depth, size: target.info.size, mtimeMs: target.info.mtimeMs, key: `${target.info.ino}:${target.info.size}:${target.info.mtimeMs}` });
        continue;
      }
      if (info.isDirectory()) await walk(file, rel, depth + 1);
      else if (info.isFile()) {
        found.push({ file, relative: rel, depth, size: info.size, mtimeMs: info.mtimeMs, key: `${info.ino}:${info.size}:${info.mtimeMs}` });
      }
    }
  };
  await walk(root, '', 0);
  return found;
}

/** The regular file a symlink resolves to, when that file is inside root (a realpath); else undefined. */
async function resolveInsideRoot(root: string, link: string): Promise<{ file: string; info: import('node:fs').Stats } | undefined> {
  try {
    const target = await realpath(link);
    const relative = path.relative(root, target);
    if (relative === '' || relative.startsWith('..') || path.isAbsolute(relative)) return undefined;
    const info = await lstat(target);
    return info.isFile() ? { file: target, info } : undefined;
  } catch {
    return undefined;
  }
}

function heldSize(site: SiteFile): number {
  return site.variants.reduce((sum, variant) => sum + (variant.body?.length ?? 0), 0);
}

function describe(entry: FoundFile): Omit<SiteFile, 'variants'> {
  const mtimeSeconds = Math.floor(entry.mtimeMs / 1000);
  return {
    file: entry.file,
    contentType: contentTypeFor(entry.file),
    lastModified: new Date(mtimeSeconds * 1000).toUTCString(),
    mtimeSeconds,
    key: entry.key,
  };
}

function etagOf(hash: string, encoding: Encoding): string {
  return encoding === 'identity' ? `"${hash}"` : `"${hash}-${encoding === 'br' ? 'br' : 'gz'}"`;
}

async function loadHeld(entry: FoundFile): Promise<SiteFile> {
  const meta = describe(entry);
  const body = await readFile(entry.file);
  const hash = createHash('sha256').update(body).digest('base64url').slice(0, 27);
  const found: { encoding: Encoding; body: Buffer }[] = [{ encoding: 'identity', body }];
  if (isCompressible(meta.contentType) && body.length >= 256) {
    const [br, gz] = await Promise.all([
      brotli(body, {
        params: {
          [zlibConstants.BROTLI_PARAM_MODE]: zlibConstants.BROTLI_MODE_TEXT,
          [zlibConstants.BROTLI_PARAM_QUALITY]: 9,
          [zlibConstants.BROTLI_PARAM_SIZE_HINT]: body.length,
        },
      }),
      gzipAsync(body, { level: 9 }),
    ]);
    if (br.length < body.length) found.push({ encoding: 'br', body: br });
    if (gz.length < body.length) found.push({ encoding: 'gzip', body: gz });
  }
  const compressed = found.length > 1;
  const variants = found.map(({ encoding, body: bytes }) => {
    const etag = etagOf(hash, encoding);
    return { encoding, etag, size: bytes.length, body: bytes, headers: headersFor(meta, encoding, etag, compressed) };
  });
  return { ...meta, variants };
}

/** A file served from disk: only its hash is computed (streaming), nothing is kept. */
async function loadStreamed(entry: FoundFile): Promise<SiteFile> {
  const meta = describe(entry);
  const hash = createHash('sha256');
  await new Promise<void>((resolve, reject) => {
    createReadStream(entry.file)
      .on('data', (chunk) => hash.update(chunk))
      .on('end', resolve)
      .on('error', reject);
  });
  const etag = etagOf(hash.digest('base64url').slice(0, 27), 'identity');
  return { ...meta, variants: [{ encoding: 'identity', etag, size: entry.size, headers: headersFor(meta, 'identity', etag, false) }] };
}

/**
 * Opens a streamed file for one response, refusing a symlink put in its place since the load
 * (O_NOFOLLOW) and a file that changed size (the next reload will know it).
 */
export async function openStreamedFile(site: SiteFile): Promise<NodeJS.ReadableStream | undefined> {
  let handle;
  try {
    handle = await open(site.file, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
    const info = await handle.stat();
    if (!info.isFile() || info.size !== site.variants[0]!.size) {
      await handle.close();
      return undefined;
    }
  } catch {
    await handle?.close();
    return undefined;
  }
  return handle.createReadStream();
}

/**
 * The representation to send for an Accept-Encoding header: the client's most preferred
 * (by q-value; br before gzip on a tie) among the variants held, else identity.
 */
export function chooseVariant(site: SiteFile, acceptEncoding: string | undefined): SiteVariant {
  const identity = site.variants[0]!;
  if (site.variants.length === 1 || !acceptEncoding) return identity;
  const weights = new Map<string, number>();
  for (const part of acceptEncoding.toLowerCase().split(',')) {
    const [name, ...params] = part.trim().split(';');
    if (!name) continue;
    let q = 1;
    for (const param of params) {
      const [key, value] = param.trim().split('=');
      if (key === 'q') q = Number(value);
    }
    weights.set(name.trim(), Number.isFinite(q) ? q : 0);
  }
  const weightOf = (encoding: Encoding) => weights.get(encoding) ?? weights.get('*') ?? 0;
  let best = identity;
  let bestWeight = 0;
  for (const variant of site.variants) {
    if (variant.encoding === 'identity') continue;
    const weight = weightOf(variant.encoding);
    if (weight > bestWeight) {
      best = variant;
      bestWeight = weight;
    }
  }
  return best;
}

/** Whether an If-None-Match header names `etag` (weak comparison, as RFC 9110 asks for GET). */
export function matchesEtag(header: string, etag: string): boolean {
  if (header.trim() === '*') return true;
  for (const tag of header.split(',')) {
    const trimmed = tag.trim();
    if ((trimmed.startsWith('W/') ? trimmed.slice(2) : trimmed) === etag) return true;
  }
  return false;
}
