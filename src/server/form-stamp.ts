import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Keyring } from '../deliver/tokens.ts';

/**
 * The subscribe form's fill-time check without script: the page the server renders carries a
 * hidden `started` field, `<unix seconds>.<kid>.<mac>`, signed with the token keys under a
 * label of its own (so it can never pass as a link token). A form posted back sooner than the
 * configured minimum came from a bot or from autofill: the server asks to press the button once
 * more, on a page with a fresh stamp, so a person gets through and a bot that resubmits at once
 * does not. Forms that carry no stamp (the static archive pages) skip the check; the honeypot
 * and the limits still apply to them.
 */

/** Field name of the stamp in the subscribe form. */
export const FORM_STAMP_FIELD = 'started';

/** A stamp older than this is as suspicious as one too fresh: a replayed page. */
const MAX_STAMP_AGE_SECONDS = 24 * 60 * 60;

export type StampCheck = 'ok' | 'too-fast' | 'invalid';

function mac(secret: Buffer, payload: string): string {
  return createHmac('sha256', secret).update(`form-start.${payload}`, 'utf8').digest('base64url');
}

/** A stamp for a form served at `now`. */
export function createFormStamp(keyring: Keyring, now: Date): string {
  const seconds = Math.floor(now.getTime() / 1000);
  const payload = `${seconds}.${keyring.current.kid}`;
  return `${payload}.${mac(keyring.current.secret, payload)}`;
}

/** Whether a stamp posted back at `now` is genuine, and old enough. */
export function checkFormStamp(keyring: Keyring, stamp: string, now: Date, minFillSeconds: number): StampCheck {
  const match = /^([0-9]{1,12})\.([A-Za-z0-9_-]{1,32})\.([A-Za-z0-9_-]{43})$/.exec(stamp);
  if (!match) return 'invalid';
  const [, secondsText, kid, given] = match as unknown as [string, string, string, string];
  const key = keyring.keys.get(kid);
  if (!key) return 'invalid';
  const wanted = Buffer.from(mac(key.secret, `${secondsText}.${kid}`), 'latin1');
  if (!timingSafeEqual(wanted, Buffer.from(given, 'latin1'))) return 'invalid';
  const age = now.getTime() / 1000 - Number(secondsText);
  if (age > MAX_STAMP_AGE_SECONDS) return 'invalid';
  return age < minFillSeconds ? 'too-fast' : 'ok';
}
