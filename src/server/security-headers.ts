import type { FastifyInstance } from 'fastify';

/**
 * The headers every response carries, pages, feeds, errors and 304s alike. The CSP allows no
 * inline script or style and no outside resource: the archive and the subscription pages
 * need neither, and forms may only post back to this site.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
};

/** Adds SECURITY_HEADERS to every response of `app` and of the plugins registered after it. */
export function registerSecurityHeaders(app: FastifyInstance): void {
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.headers(SECURITY_HEADERS);
    return payload;
  });
}
