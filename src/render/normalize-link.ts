import markdownIt from '../vendor/markdown-it.ts';

/** markdown-it's own link normalisation (URL parse, punycode, percent-encoding). */
const reference = markdownIt();

/**
 * An http(s) URL that markdown-it's normalisation returns unchanged: a lower-case scheme, an
 * ASCII host of plain labels (at most 255 characters, as mdurl keeps), an optional port, and
 * only characters it never percent-encodes after that, `%` only as a complete escape.
 * Disjoint character classes, so the pattern is one scan.
 */
const PLAIN_WEB_LINK =
  /^https?:\/\/([A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*)(?::[0-9]{1,5})?(?:[/?#](?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?#]|%[0-9A-Fa-f]{2})*)?$/;

/**
 * markdown-it's `normalizeLink`, without its cost for the URLs it would leave alone: parsing
 * each URL and running punycode over its host was a sixth of rendering a file of links.
 */
export function normalizeLink(url: string): string {
  const plain = PLAIN_WEB_LINK.exec(url);
  if (plain && (plain[1]?.length ?? 0) <= 255) return url;
  return reference.normalizeLink(url);
}
