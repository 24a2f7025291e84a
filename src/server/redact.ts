import { createHmac, randomBytes } from 'node:crypto';

/**
 * What the server's logs may show of a request: never an address or a token in clear, since
 * logs travel further than the store (to log collectors, into bug reports).
 */

/** Paths whose query string is a secret (a token that unsubscribes or confirms someone). */
const SECRET_QUERY_PATHS = new Set(['/confirm', '/unsubscribe', '/resubscribe']);

/**
 * A request URL fit for a log line: the query string of the token routes replaced by `?…`,
 * and any `token=` or `email=` value elsewhere replaced too.
 */
export function redactUrl(url: string): string {
  const question = url.indexOf('?');
  if (question < 0) return url;
  const path = url.slice(0, question);
  if (SECRET_QUERY_PATHS.has(path.replace(/\/+$/, '') || '/')) return `${path}?…`;
  return `${path}?${url
    .slice(question + 1)
    .replace(/(^|&)(token|email)=[^&]*/gi, '$1$2=…')}`;
}

/**
 * Keyed per process: the short hash tells addresses apart within one run's logs, but nobody
 * holding the logs can confirm a guessed address by hashing it (a plain hash would allow that).
 */
const LOG_HASH_KEY = randomBytes(32);

/** An address as logs show it: the first character of the local part, the domain, and a short keyed hash to tell addresses apart. */
export function maskEmail(email: string): string {
  const at = email.lastIndexOf('@');
  const hash = createHmac('sha256', LOG_HASH_KEY).update(email.toLowerCase(), 'utf8').digest('hex').slice(0, 10);
  if (at <= 0) return `***#${hash}`;
  return `${email.slice(0, 1)}***@${email.slice(at + 1)}#${hash}`;
}

/** Text from elsewhere (an SMTP reply, an error message) with every address in it masked. */
export function maskEmailsIn(text: string): string {
  return text.replace(/[^\s<>"'(),;:]+@[^\s<>"'(),;:]+/g, (found) => maskEmail(found));
}
