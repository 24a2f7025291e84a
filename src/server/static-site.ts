import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { chooseVariant, matchesEtag, openStreamedFile, type SiteCache, type SiteFile } from './site-cache.ts';

export { CONTENT_TYPE_OVERRIDES, contentTypeFor } from './site-cache.ts';

/**
 * The out/ file a raw request URL names, or undefined: the path is percent-decoded once, and
 * any segment that is empty, starts with a dot (`..`, dotfiles) or holds a backslash or NUL
 * names nothing. Lookup is in the cache's table of files found inside out/, so no path is ever
 * joined onto the file system.
 */
export function resolveSitePath(cache: SiteCache, url: string): SiteFile | undefined {
  const query = url.indexOf('?');
  const raw = query === -1 ? url : url.slice(0, query);
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    return undefined;
  }
  if (!decoded.startsWith('/') || /[\\\0]/.test(decoded)) return undefined;
  const segments = decoded.slice(1).split('/');
  for (let i = 0; i < segments.length; i += 1) {
    const segment = segments[i]!;
    // Only the last segment may be empty (a folder's index).
    if (segment === '' ? i !== segments.length - 1 && decoded !== '/' : segment.startsWith('.')) return undefined;
  }
  return cache.lookup(decoded);
}

/**
 * Serves the generated site (`out/`) from `cache` and nothing else (see site-cache.ts):
 * strong ETags and Last-Modified, `If-None-Match` / `If-Modified-Since` → 304, brotli or gzip
 * by Accept-Encoding with `Vary: Accept-Encoding`, HEAD. Folders answer with their
 * index.html; there are no redirects. Anything not found falls to the not-found handler.
 */
export function registerStaticSite(app: FastifyInstance, cache: SiteCache): void {
  const handler = (request: FastifyRequest, reply: FastifyReply): FastifyReply | Promise<FastifyReply> => {
    const site = resolveSitePath(cache, request.url);
    if (!site) {
      reply.callNotFound();
      return reply;
    }
    const variant = chooseVariant(site, request.headers['accept-encoding']);
    // One precomputed header object per variant: this path runs for every feed poll.
    reply.headers(variant.headers);
    if (isNotModified(request, variant.etag, site.mtimeSeconds)) return reply.code(304).send();
    reply.header('content-length', variant.size);
    if (request.method === 'HEAD') return reply.send();
    if (variant.body) return reply.send(variant.body);
    return openStreamedFile(site).then((stream) => {
      if (!stream) {
        reply.callNotFound();
        return reply;
      }
      return reply.send(stream);
    });
  };
  app.route({ method: ['GET', 'HEAD'], url: '/*', exposeHeadRoute: false, handler });
}

/** RFC 9110 §13.2.2: If-None-Match decides when present; else If-Modified-Since (whole seconds). */
function isNotModified(request: FastifyRequest, etag: string, mtimeSeconds: number): boolean {
  const noneMatch = request.headers['if-none-match'];
  if (noneMatch !== undefined) return matchesEtag(noneMatch, etag);
  const since = request.headers['if-modified-since'];
  if (since === undefined) return false;
  const at = Date.parse(since);
  return Number.isFinite(at) && mtimeSeconds * 1000 <= at;
}
