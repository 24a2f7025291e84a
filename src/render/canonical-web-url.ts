/**
 * An absolute http(s) URL the WHATWG URL parser gives back exactly as written: lower-case
 * scheme and host of plain labels whose last one starts with a letter (so never an IPv4
 * number), no user info or port, a path, and after the host only characters that none of the
 * path, query and fragment encode sets change. `'` is left out (special schemes encode it in
 * the query).
 */
const CANONICAL_SHAPE = /^https?:\/\/(?:[a-z0-9-]+\.)*[a-z][a-z0-9-]*\/[A-Za-z0-9\-._~!$&()*+,;=:@/%?#]*$/;

/** What the parser would still rewrite in that shape: dot segments (also encoded) and punycode. */
const REWRITTEN = /\/\.|%2e|xn--/i;

/** True when `new URL(url).href === url` is certain without parsing (false says nothing). */
export function isCanonicalWebUrl(url: string): boolean {
  return CANONICAL_SHAPE.test(url) && !REWRITTEN.test(url);
}
