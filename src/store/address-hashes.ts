import { createHash } from 'node:crypto';
import { emailKey, mailboxKey } from './email-address.ts';

/**
 * How an address is named inside the store: `emailKey` (its case-insensitive identity, the
 * UNIQUE column), and the sha256 hex of that key (`emailHash`: suppressions and the
 * confirmation log, which keep no address in clear) and of its mailbox with `+tag`s folded
 * (`mailboxHash`: the per-mailbox confirmation budget). Every driver keys rows the same way,
 * so a store can move between them.
 */
export interface AddressKeys {
  emailKey: string;
  emailHash: string;
  mailboxHash: string;
}

export function addressKeys(email: string): AddressKeys {
  const key = emailKey(email);
  return { emailKey: key, emailHash: hashKey(key), mailboxHash: hashKey(mailboxKey(email)) };
}

/** The suppression / confirmation-log hash of an address. */
export function emailHash(email: string): string {
  return hashKey(emailKey(email));
}

function hashKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}
