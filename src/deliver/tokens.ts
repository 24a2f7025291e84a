import { createHmac, timingSafeEqual } from 'node:crypto';
import { LetterpressError } from '../util/errors.ts';

/**
 * Signed tokens for the links in every message (DESIGN §4a "Tokens"):
 * `v1.<kid>.<purpose>.<subscriberId>.<expiry or 0>.<mac>`, where the MAC is the base64url
 * HMAC-SHA256 of everything before it under the key named by `kid`. Pure: no clock, no store.
 */

/** What a token is good for; a token for one purpose never passes as another. */
export type TokenPurpose = 'unsub' | 'confirm';

/** How long a confirmation link works: long enough for a slow inbox, short enough to go stale. */
export const CONFIRM_TOKEN_TTL_MS = 7 * 24 * 60 * 60 * 1000;

/** Longest token accepted, so a hostile query string costs nothing to reject. */
export const MAX_TOKEN_LENGTH = 256;

/** One HMAC key and the id that tokens carry to name it. */
export interface SigningKey {
  kid: string;
  secret: Buffer;
}

/**
 * The keys a process knows: `current` signs new tokens, every key in `keys` (the current one
 * included) still verifies, so links sent before a rotation keep working.
 */
export interface Keyring {
  current: SigningKey;
  keys: ReadonlyMap<string, SigningKey>;
}

export type TokenFailure = 'malformed' | 'unknown-key' | 'bad-signature' | 'wrong-purpose' | 'expired';

export type VerifiedToken =
  | { ok: true; subscriberId: number; expiresAt?: Date }
  | { ok: false; reason: TokenFailure };

const VERSION = 'v1';
const PURPOSES: ReadonlySet<string> = new Set<TokenPurpose>(['unsub', 'confirm']);
/** Key ids must survive a URL, a file name and the `.` separator untouched. */
const KID_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;
/** Canonical decimal: no sign, no leading zero, so one value has exactly one spelling. */
const POSITIVE_DECIMAL = /^[1-9][0-9]{0,15}$/;
const EXPIRY_DECIMAL = /^(?:0|[1-9][0-9]{0,15})$/;
/** base64url of a 32-byte HMAC-SHA256, unpadded. */
const MAC_PATTERN = /^[A-Za-z0-9_-]{43}$/;
/** The latest instant a JavaScript Date can represent. */
const MAX_DATE_MS = 8.64e15;

/** True for a key id tokens can carry (the key ring refuses others at load time). */
export function isValidKid(kid: string): boolean {
  return KID_PATTERN.test(kid);
}

/**
 * Signs a token for one subscriber and purpose with the ring's current key; the caller picks
 * the expiry from its own clock (`confirmTokenExpiry`) so signing stays pure.
 */
export function signToken(
  keyring: Keyring,
  input: { purpose: TokenPurpose; subscriberId: number; expiresAt?: Date },
): string {
  const { purpose, subscriberId, expiresAt } = input;
  if (!PURPOSES.has(purpose)) throw new LetterpressError('E_TOKEN', `unknown token purpose "${String(purpose)}"`);
  if (!Number.isSafeInteger(subscriberId) || subscriberId <= 0) {
    throw new LetterpressError('E_TOKEN', `subscriber id must be a positive integer, got ${String(subscriberId)}`);
  }
  if (purpose === 'confirm' && expiresAt === undefined) {
    throw new LetterpressError('E_TOKEN', 'a confirm token needs an expiry (see CONFIRM_TOKEN_TTL_MS)');
  }
  let expiry = 0;
  if (expiresAt !== undefined) {
    const ms = expiresAt.getTime();
    // Rounded up so a token never expires before the instant asked for; 0 is reserved for "never".
    expiry = Math.ceil(ms / 1000);
    if (!Number.isFinite(ms) || expiry <= 0) {
      throw new LetterpressError('E_TOKEN', `token expiry must be a valid instant after 1970, got ${String(expiresAt)}`);
    }
  }
  const key = keyring.current;
  if (!KID_PATTERN.test(key.kid)) throw new LetterpressError('E_TOKEN', `key id "${key.kid}" cannot go into a token`);
  const payload = `${VERSION}.${key.kid}.${purpose}.${subscriberId}.${expiry}`;
  return `${payload}.${computeMac(key.secret, payload)}`;
}

/** The expiry to give a confirmation token signed at `now`. */
export function confirmTokenExpiry(now: Date): Date {
  return new Date(now.getTime() + CONFIRM_TOKEN_TTL_MS);
}

/**
 * Checks a token from a link. The signature is checked before purpose and expiry, so
 * `wrong-purpose` and `expired` are only ever reported for tokens this site really signed.
 */
export function verifyToken(
  keyring: Keyring,
  token: string,
  expected: { purpose: TokenPurpose; now: Date },
): VerifiedToken {
  if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH) return { ok: false, reason: 'malformed' };
  const parts = token.split('.');
  if (parts.length !== 6) return { ok: false, reason: 'malformed' };
  const [version, kid, purpose, id, expiryText, mac] = parts as [string, string, string, string, string, string];
  if (
    version !== VERSION ||
    !KID_PATTERN.test(kid) ||
    !PURPOSES.has(purpose) ||
    !POSITIVE_DECIMAL.test(id) ||
    !EXPIRY_DECIMAL.test(expiryText) ||
    !MAC_PATTERN.test(mac)
  ) {
    return { ok: false, reason: 'malformed' };
  }
  const subscriberId = Number(id);
  const expiry = Number(expiryText);
  // The expiry must also be an instant a Date can hold, or the comparison below would be with NaN.
  if (!Number.isSafeInteger(subscriberId) || expiry * 1000 > MAX_DATE_MS) return { ok: false, reason: 'malformed' };

  const key = keyring.keys.get(kid) ?? (keyring.current.kid === kid ? keyring.current : undefined);
  if (!key) return { ok: false, reason: 'unknown-key' };

  // Comparing the base64url text (fixed 43 bytes) also refuses non-canonical spellings of the
  // same MAC, so every token has exactly one valid form.
  const wanted = Buffer.from(computeMac(key.secret, token.slice(0, token.length - mac.length - 1)), 'latin1');
  const given = Buffer.from(mac, 'latin1');
  if (wanted.length !== given.length || !timingSafeEqual(wanted, given)) return { ok: false, reason: 'bad-signature' };

  if (purpose !== expected.purpose) return { ok: false, reason: 'wrong-purpose' };
  if (expiry === 0) return { ok: true, subscriberId };
  const expiresAt = new Date(expiry * 1000);
  if (expected.now.getTime() >= expiresAt.getTime()) return { ok: false, reason: 'expired' };
  return { ok: true, subscriberId, expiresAt };
}

function computeMac(secret: Buffer, payload: string): string {
  return createHmac('sha256', secret).update(payload, 'utf8').digest('base64url');
}
