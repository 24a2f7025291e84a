import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import path from 'node:path';
import { resolveInsideSync } from '../util/resolve-inside.ts';

/**
 * Content types the archive's files need beyond what the `mime` table gives (it calls a JSON
 * Feed plain `application/json`), by file name.
 */
export const CONTENT_TYPE_OVERRIDES: Readonly<Record<string, string>> = {
  'feed.json': 'application/feed+json; charset=utf-8',
  'feed.atom': 'application/atom+xml; charset=utf-8',
  'feed.rss': 'application/rss+xml; charset=utf-8',
};

/** The content type a file of out/ is served with, when the default table is not right for it. */
export function contentTypeOverride(file: string): string | undefined {
  return CONTENT_TYPE_OVERRIDES[path.basename(file)];
}

/**
 * True unless the URL path leads out of `root` through a symlink (a link planted in out/ to
 * data/letterpress.db or /etc/passwd). Missing files pass: the file server answers them 404.
 */
export function isServablePath(root: string, pathname: string): boolean {
  try {
    resolveInsideSync(root, `.${path.posix.normalize(`/${pathname}`)}`);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'ENOENT' || code === 'ENOTDIR';
  }
}

/**
 * Serves the generated site (`out/`) and nothing else: `send` resolves every path inside the
 * root and refuses `..`, a symlink that leads out of out/ answers 404, dotfiles are not served, and the private `data/` folder lives outside
 * out/. ETag and Last-Modified come from the file; `If-None-Match` / `If-Modified-Since`
 * answer 304. Folders answer with their index.html; there are no redirects.
 */
export async function registerStaticSite(app: FastifyInstance, outDir: string): Promise<void> {
  await app.register(fastifyStatic, {
    root: path.resolve(outDir),
    prefix: '/',
    index: ['index.html'],
    dotfiles: 'ignore',
    etag: true,
    lastModified: true,
    redirect: false,
    wildcard: true,
    // Asked for the URL's path and again for the file finally chosen (a folder's index.html).
    allowedPath: (pathname, root) => isServablePath(Array.isArray(root) ? root[0]! : root, pathname),
    // Published pages change when an issue is edited: caches revalidate, and get a 304.
    cacheControl: true,
    maxAge: 0,
    setHeaders(reply, file) {
      const type = contentTypeOverride(file);
      if (type !== undefined) reply.header('content-type', type);
    },
  });
}
