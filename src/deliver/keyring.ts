import { createHash, randomBytes } from 'node:crypto';
import type { SecretStore } from '../store/types.ts';
import { LetterpressError } from '../util/errors.ts';
import { isValidKid, type Keyring, type SigningKey } from './tokens.ts';

/**
 * Where the token keys come from (DESIGN §4a): LETTERPRESS_SECRET when the operator sets one,
 * else keys generated on first use and kept in the store, so links survive restarts and
 * rotations. Keys in the store always stay valid for verification.
 */

/** Shortest LETTERPRESS_SECRET accepted: anything shorter is guessable offline from one token. */
export const MIN_ENV_SECRET_LENGTH = 32;
/** Size of generated keys: the full 256-bit strength of HMAC-SHA256. */
export const GENERATED_SECRET_BYTES = 32;
/** Stored keys shorter than this are refused as damaged rather than trusted. */
const MIN_STORED_SECRET_BYTES = 16;

export interface LoadKeyringInput {
  /** LETTERPRESS_SECRET, when set. */
  envSecret?: string;
  store: SecretStore;
  now: Date;
  /** Key material for a new key; random bytes unless a test injects its own. */
  generate?: () => Buffer;
}

/**
 * Builds the key ring a process signs and verifies with: the env secret (when set) or the
 * newest stored key signs; every stored key verifies. A store with no key gets one.
 */
export async function loadKeyring(input: LoadKeyringInput): Promise<Keyring> {
  const { envSecret, store, now } = input;
  let stored = await readStoredKeys(store);

  if (envSecret !== undefined) {
    if (envSecret.length < MIN_ENV_SECRET_LENGTH) {
      throw new LetterpressError(
        'E_SECRET',
        `LETTERPRESS_SECRET must be at least ${MIN_ENV_SECRET_LENGTH} characters (it is ${envSecret.length}); ` +
          'generate one with: openssl rand -base64 32',
      );
    }
    const secret = Buffer.from(envSecret, 'utf8');
    const current: SigningKey = { kid: envKid(secret), secret };
    return { current, keys: collectKeys(current, stored) };
  }

  if (stored.length === 0) {
    await addGeneratedKey(store, now, input.generate);
    // Read back rather than trust what was written: if two processes started at once, both
    // then pick the same newest key from what the store holds.
    stored = await readStoredKeys(store);
    if (stored.length === 0) throw new LetterpressError('E_SECRET', 'the store did not keep the generated token key');
  }
  const current = newestKey(stored).key;
  return { current, keys: collectKeys(current, stored) };
}

/**
 * Adds a fresh key to the store; it becomes the signing key of every key ring loaded from now
 * on (without LETTERPRESS_SECRET), while older keys keep verifying. Returns the new key id.
 */
export async function rotateKeyring(input: { store: SecretStore; now: Date; generate?: () => Buffer }): Promise<string> {
  const stored = await readStoredKeys(input.store);
  // Strictly after the newest key, so "newest" is unambiguous even when the clock stands still.
  let at = input.now.getTime();
  if (stored.length > 0) at = Math.max(at, newestKey(stored).createdAt + 1);
  return addGeneratedKey(input.store, new Date(at), input.generate);
}

/** The id of the env key: derived from the secret, so every process agrees without storing it. */
function envKid(secret: Buffer): string {
  return `e${createHash('sha256').update(secret).digest('hex').slice(0, 8)}`;
}

interface StoredKey {
  key: SigningKey;
  createdAt: number;
}

async function readStoredKeys(store: SecretStore): Promise<StoredKey[]> {
  const rows = await store.listSecrets();
  return rows.map((row) => {
    if (!isValidKid(row.kid)) {
      throw new LetterpressError('E_SECRET', `the store holds a token key with an invalid id "${row.kid}"`);
    }
    const secret = Buffer.from(row.secret, 'base64url');
    if (secret.length < MIN_STORED_SECRET_BYTES) {
      throw new LetterpressError('E_SECRET', `the store's token key "${row.kid}" is too short or not base64url`);
    }
    const createdAt = Date.parse(row.createdAt);
    if (Number.isNaN(createdAt)) {
      throw new LetterpressError('E_SECRET', `the store's token key "${row.kid}" has an invalid date "${row.createdAt}"`);
    }
    return { key: { kid: row.kid, secret }, createdAt };
  });
}

/** Newest by creation time; ties broken by kid so every process picks the same key. */
function newestKey(stored: readonly StoredKey[]): StoredKey {
  let best = stored[0]!;
  for (const candidate of stored) {
    if (candidate.createdAt > best.createdAt || (candidate.createdAt === best.createdAt && candidate.key.kid > best.key.kid)) {
      best = candidate;
    }
  }
  return best;
}

function collectKeys(current: SigningKey, stored: readonly StoredKey[]): ReadonlyMap<string, SigningKey> {
  const keys = new Map<string, SigningKey>();
  for (const { key } of stored) keys.set(key.kid, key);
  keys.set(current.kid, current);
  return keys;
}

async function addGeneratedKey(store: SecretStore, at: Date, generate?: () => Buffer): Promise<string> {
  const secret = generate ? generate() : randomBytes(GENERATED_SECRET_BYTES);
  if (secret.length < MIN_STORED_SECRET_BYTES) {
    throw new LetterpressError('E_SECRET', `a generated token key must be at least ${MIN_STORED_SECRET_BYTES} bytes`);
  }
  const kid = `k${randomBytes(4).toString('hex')}`;
  await store.addSecret(kid, secret.toString('base64url'), at.toISOString());
  return kid;
}
