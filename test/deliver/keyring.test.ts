import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadKeyring, rotateKeyring } from '../../src/deliver/keyring.ts';
import { signToken, verifyToken } from '../../src/deliver/tokens.ts';
import { openSqliteStore } from '../../src/store/sqlite-store.ts';
import type { SecretStore } from '../../src/store/types.ts';

const NOW = new Date('2024-05-06T01:00:00Z');
const ENV_SECRET = 'correct horse battery staple, twice over';

/** The two methods of SecretStore, in memory: enough for the key ring, which needs nothing else. */
function memoryStore(initial: { kid: string; secret: string; createdAt: string }[] = []) {
  const rows = [...initial];
  const store: SecretStore & { rows: typeof rows } = {
    rows,
    async listSecrets() {
      return rows.map((row) => ({ ...row }));
    },
    async addSecret(kid, secret, at) {
      if (rows.some((row) => row.kid === kid)) throw new Error(`duplicate kid ${kid}`);
      rows.push({ kid, secret, createdAt: at });
    },
  };
  return store;
}

function fill(byte: number): () => Buffer {
  return () => Buffer.alloc(32, byte);
}

describe('loadKeyring', () => {
  it('uses LETTERPRESS_SECRET as the current key, with a kid derived from it', async () => {
    const store = memoryStore();
    const keyring = await loadKeyring({ envSecret: ENV_SECRET, store, now: NOW });
    const expectedKid = 'e' + createHash('sha256').update(ENV_SECRET).digest('hex').slice(0, 8);
    expect(keyring.current.kid).toBe(expectedKid);
    expect(keyring.current.secret.equals(Buffer.from(ENV_SECRET))).toBe(true);
    expect(store.rows).toEqual([]); // nothing generated or stored
    // A second process with the same secret verifies the first one's tokens.
    const again = await loadKeyring({ envSecret: ENV_SECRET, store, now: NOW });
    const token = signToken(keyring, { purpose: 'unsub', subscriberId: 9 });
    expect(verifyToken(again, token, { purpose: 'unsub', now: NOW })).toEqual({ ok: true, subscriberId: 9 });
  });

  it('refuses a short LETTERPRESS_SECRET with E_SECRET', async () => {
    for (const secret of ['', 'short', 'x'.repeat(31)]) {
      await expect(loadKeyring({ envSecret: secret, store: memoryStore(), now: NOW })).rejects.toMatchObject({
        code: 'E_SECRET',
        message: expect.stringContaining('at least 32 characters'),
      });
    }
    await expect(loadKeyring({ envSecret: 'x'.repeat(32), store: memoryStore(), now: NOW })).resolves.toBeDefined();
  });

  it('keeps stored keys valid for verification when the env secret signs', async () => {
    const store = memoryStore();
    const generated = await loadKeyring({ store, now: NOW, generate: fill(1) });
    const oldToken = signToken(generated, { purpose: 'unsub', subscriberId: 4 });
    const withEnv = await loadKeyring({ envSecret: ENV_SECRET, store, now: NOW });
    expect(withEnv.current.kid).not.toBe(generated.current.kid);
    expect(verifyToken(withEnv, oldToken, { purpose: 'unsub', now: NOW })).toEqual({ ok: true, subscriberId: 4 });
  });

  it('generates, stores and reuses a key when there is no env secret', async () => {
    const store = memoryStore();
    const first = await loadKeyring({ store, now: NOW, generate: fill(7) });
    expect(first.current.kid).toMatch(/^k[0-9a-f]{8}$/);
    expect(first.current.secret.equals(Buffer.alloc(32, 7))).toBe(true);
    expect(store.rows).toEqual([
      { kid: first.current.kid, secret: Buffer.alloc(32, 7).toString('base64url'), createdAt: NOW.toISOString() },
    ]);
    const second = await loadKeyring({ store, now: new Date(NOW.getTime() + 60_000), generate: fill(8) });
    expect(second.current.kid).toBe(first.current.kid);
    expect(store.rows).toHaveLength(1);
  });

  it('generates 32 random bytes by default', async () => {
    const store = memoryStore();
    const keyring = await loadKeyring({ store, now: NOW });
    expect(keyring.current.secret).toHaveLength(32);
    expect(keyring.current.secret.equals(Buffer.alloc(32))).toBe(false);
  });

  it('refuses damaged store rows instead of trusting them', async () => {
    const bad = [
      { kid: 'k.bad', secret: Buffer.alloc(32, 1).toString('base64url'), createdAt: NOW.toISOString() },
      { kid: 'kshort', secret: 'abc', createdAt: NOW.toISOString() },
      { kid: 'kdate', secret: Buffer.alloc(32, 1).toString('base64url'), createdAt: 'yesterday' },
    ];
    for (const row of bad) {
      await expect(loadKeyring({ store: memoryStore([row]), now: NOW })).rejects.toMatchObject({ code: 'E_SECRET' });
    }
  });
});

describe('rotateKeyring', () => {
  it('adds a key that becomes current while old tokens keep verifying', async () => {
    const store = memoryStore();
    const before = await loadKeyring({ store, now: NOW, generate: fill(1) });
    const oldToken = signToken(before, { purpose: 'unsub', subscriberId: 11 });

    // Same instant as the first key: rotation still has to win.
    const kid = await rotateKeyring({ store, now: NOW, generate: fill(2) });
    expect(kid).toMatch(/^k[0-9a-f]{8}$/);
    const after = await loadKeyring({ store, now: NOW });
    expect(after.current.kid).toBe(kid);
    expect(after.current.secret.equals(Buffer.alloc(32, 2))).toBe(true);
    expect([...after.keys.keys()].sort()).toEqual([before.current.kid, kid].sort());

    const newToken = signToken(after, { purpose: 'unsub', subscriberId: 11 });
    expect(newToken).toContain(`.${kid}.`);
    expect(verifyToken(after, oldToken, { purpose: 'unsub', now: NOW })).toEqual({ ok: true, subscriberId: 11 });
    expect(verifyToken(before, newToken, { purpose: 'unsub', now: NOW })).toEqual({ ok: false, reason: 'unknown-key' });
  });

  it('picks the newest stored key whatever order the store lists them in', async () => {
    const rows = [
      { kid: 'knew', secret: Buffer.alloc(32, 2).toString('base64url'), createdAt: '2024-05-02T00:00:00.000Z' },
      { kid: 'kold', secret: Buffer.alloc(32, 1).toString('base64url'), createdAt: '2024-05-01T00:00:00.000Z' },
    ];
    expect((await loadKeyring({ store: memoryStore(rows), now: NOW })).current.kid).toBe('knew');
    expect((await loadKeyring({ store: memoryStore(rows.reverse()), now: NOW })).current.kid).toBe('knew');
  });
});

describe('key ring on the SQLite store', () => {
  it('generates once, survives reopening, and rotates', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'letterpress-keyring-'));
    const file = path.join(dir, 'letterpress.db');
    try {
      let store = await openSqliteStore({ file });
      const first = await loadKeyring({ store, now: NOW });
      const token = signToken(first, { purpose: 'unsub', subscriberId: 1 });
      await store.close();

      store = await openSqliteStore({ file });
      const reopened = await loadKeyring({ store, now: new Date(NOW.getTime() + 1000) });
      expect(reopened.current.kid).toBe(first.current.kid);
      expect(reopened.current.secret.equals(first.current.secret)).toBe(true);

      const kid = await rotateKeyring({ store, now: NOW });
      const rotated = await loadKeyring({ store, now: NOW });
      expect(rotated.current.kid).toBe(kid);
      expect(verifyToken(rotated, token, { purpose: 'unsub', now: NOW })).toEqual({ ok: true, subscriberId: 1 });
      await store.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
