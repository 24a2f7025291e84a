import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  CONFIRM_TOKEN_TTL_MS,
  confirmTokenExpiry,
  signToken,
  verifyToken,
  type Keyring,
  type SigningKey,
} from '../../src/deliver/tokens.ts';
import { LetterpressError } from '../../src/util/errors.ts';

const NOW = new Date('2024-05-06T01:00:00Z');

function key(kid: string, fill: number): SigningKey {
  return { kid, secret: Buffer.alloc(32, fill) };
}

function ring(current: SigningKey, ...others: SigningKey[]): Keyring {
  return { current, keys: new Map([current, ...others].map((k) => [k.kid, k])) };
}

/** Re-signs a token's payload after editing it, as someone holding the key would. */
function resign(secret: Buffer, payload: string): string {
  return `${payload}.${createHmac('sha256', secret).update(payload).digest('base64url')}`;
}

describe('signToken / verifyToken', () => {
  const k1 = key('k0000000a', 1);

  it('signs unsubscribe tokens in the documented format, never expiring', () => {
    const token = signToken(ring(k1), { purpose: 'unsub', subscriberId: 42 });
    expect(token).toMatch(/^v1\.k0000000a\.unsub\.42\.0\.[A-Za-z0-9_-]{43}$/);
    const payload = 'v1.k0000000a.unsub.42.0';
    expect(token).toBe(resign(k1.secret, payload));
    const far = new Date('2124-01-01T00:00:00Z');
    expect(verifyToken(ring(k1), token, { purpose: 'unsub', now: far })).toEqual({ ok: true, subscriberId: 42 });
  });

  it('expires confirm tokens after seven days', () => {
    expect(CONFIRM_TOKEN_TTL_MS).toBe(7 * 24 * 3600 * 1000);
    const expiresAt = confirmTokenExpiry(NOW);
    const token = signToken(ring(k1), { purpose: 'confirm', subscriberId: 7, expiresAt });
    expect(token.split('.')[4]).toBe(String(expiresAt.getTime() / 1000));
    const justBefore = new Date(expiresAt.getTime() - 1000);
    expect(verifyToken(ring(k1), token, { purpose: 'confirm', now: justBefore })).toEqual({
      ok: true,
      subscriberId: 7,
      expiresAt,
    });
    expect(verifyToken(ring(k1), token, { purpose: 'confirm', now: expiresAt })).toEqual({ ok: false, reason: 'expired' });
  });

  it('refuses to sign a confirm token without an expiry, or for a bad subscriber id', () => {
    expect(() => signToken(ring(k1), { purpose: 'confirm', subscriberId: 1 })).toThrow(LetterpressError);
    for (const id of [0, -1, 1.5, Number.NaN, 2 ** 60]) {
      expect(() => signToken(ring(k1), { purpose: 'unsub', subscriberId: id })).toThrow(/positive integer/);
    }
  });

  it('never lets a token for one purpose pass as another', () => {
    const unsub = signToken(ring(k1), { purpose: 'unsub', subscriberId: 5 });
    expect(verifyToken(ring(k1), unsub, { purpose: 'confirm', now: NOW })).toEqual({ ok: false, reason: 'wrong-purpose' });
  });

  it('detects any change to the payload or the MAC', () => {
    const token = signToken(ring(k1), { purpose: 'unsub', subscriberId: 5 });
    const parts = token.split('.');
    const tampered = [
      [...parts.slice(0, 3), '6', ...parts.slice(4)].join('.'),
      [...parts.slice(0, 2), 'confirm', ...parts.slice(3)].join('.'),
      [...parts.slice(0, 4), '1999999999', parts[5]].join('.'),
      [...parts.slice(0, 5), flipFirst(parts[5]!)].join('.'),
    ];
    for (const bad of tampered) {
      expect(verifyToken(ring(k1), bad, { purpose: 'unsub', now: NOW })).toEqual({ ok: false, reason: 'bad-signature' });
    }
    // Same kid, different secret: a forged token.
    const forged = signToken(ring(key('k0000000a', 9)), { purpose: 'unsub', subscriberId: 5 });
    expect(verifyToken(ring(k1), forged, { purpose: 'unsub', now: NOW })).toEqual({ ok: false, reason: 'bad-signature' });
  });

  it('refuses a non-canonical MAC spelling of the same bytes', () => {
    const token = signToken(ring(k1), { purpose: 'unsub', subscriberId: 5 });
    const mac = token.slice(token.lastIndexOf('.') + 1);
    // The last base64url character of 32 bytes carries 2 unused bits; setting one decodes the same.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = alphabet.indexOf(mac.at(-1)!);
    const variant = mac.slice(0, -1) + alphabet[last | 1]!;
    expect(Buffer.from(variant, 'base64url').equals(Buffer.from(mac, 'base64url'))).toBe(true);
    const bad = token.slice(0, token.lastIndexOf('.') + 1) + variant;
    expect(verifyToken(ring(k1), bad, { purpose: 'unsub', now: NOW })).toEqual({ ok: false, reason: 'bad-signature' });
  });

  it('keeps tokens of older keys valid after rotation, and names unknown keys', () => {
    const old = signToken(ring(k1), { purpose: 'unsub', subscriberId: 3 });
    const k2 = key('k0000000b', 2);
    const rotated = ring(k2, k1);
    expect(signToken(rotated, { purpose: 'unsub', subscriberId: 3 })).toContain('.k0000000b.');
    expect(verifyToken(rotated, old, { purpose: 'unsub', now: NOW })).toEqual({ ok: true, subscriberId: 3 });
    expect(verifyToken(ring(k2), old, { purpose: 'unsub', now: NOW })).toEqual({ ok: false, reason: 'unknown-key' });
  });

  it('rejects malformed input before touching a key', () => {
    const good = signToken(ring(k1), { purpose: 'unsub', subscriberId: 12 });
    const mac = good.slice(good.lastIndexOf('.') + 1);
    const malformed = [
      '',
      'v1',
      good + '.x',
      good.replace(/^v1/, 'v2'),
      `v1.k0000000a.unsub.012.0.${mac}`, // leading zero
      `v1.k0000000a.unsub.+12.0.${mac}`, // sign
      `v1.k0000000a.unsub.-12.0.${mac}`,
      `v1.k0000000a.unsub.12.00.${mac}`,
      `v1.k0000000a.unsub.12.-0.${mac}`,
      `v1.k0000000a.unsub.1e3.0.${mac}`,
      `v1.k0000000a.unsub. 12.0.${mac}`,
      `v1.k0000000a.unsub.0.0.${mac}`,
      `v1.k0000000a.unsub.99999999999999999.0.${mac}`,
      `v1.k0000000a.unsub.12.99999999999999.${mac}`, // beyond what a Date can hold
      `v1.k0000000a.other.12.0.${mac}`,
      `v1.k0000000a.unsub.12.0.${mac}=`,
      `v1.k0000000a.unsub.12.0.${mac.slice(1)}`,
      `v1.k0000000a.unsub.12.0.${mac.slice(0, -1)}+`,
      `v1..unsub.12.0.${mac}`,
      `v1.${'k'.repeat(33)}.unsub.12.0.${mac}`,
      `v1.k00/0000a.unsub.12.0.${mac}`,
      `v1.k0000000a.unsub.12.0.${mac}`.padEnd(257, 'A'),
      good.replace('unsub', 'Unsub'),
    ];
    for (const token of malformed) {
      expect(verifyToken(ring(k1), token, { purpose: 'unsub', now: NOW }), token).toEqual({ ok: false, reason: 'malformed' });
    }
    expect(verifyToken(ring(k1), 'x'.repeat(10_000), { purpose: 'unsub', now: NOW })).toEqual({ ok: false, reason: 'malformed' });
  });

  it('verifies a token whose numbers are re-signed in canonical form only', () => {
    // A key holder could sign "012", but verification refuses it before the MAC: one value, one spelling.
    const token = resign(k1.secret, 'v1.k0000000a.unsub.012.0');
    expect(verifyToken(ring(k1), token, { purpose: 'unsub', now: NOW })).toEqual({ ok: false, reason: 'malformed' });
  });
});

function flipFirst(mac: string): string {
  return (mac[0] === 'A' ? 'B' : 'A') + mac.slice(1);
}
