import { describe, expect, it } from 'vitest';
import { retryDelayMs, shouldGiveUp } from '../../src/deliver/retry-policy.ts';

describe('retryDelayMs', () => {
  const policy = { baseMs: 1000, maxMs: 60_000 };

  it('doubles with each attempt, between half and all of the ceiling', () => {
    expect(retryDelayMs(1, policy, () => 0)).toBe(500);
    expect(retryDelayMs(1, policy, () => 1)).toBe(1000);
    expect(retryDelayMs(3, policy, () => 0)).toBe(2000);
    expect(retryDelayMs(3, policy, () => 1)).toBe(4000);
  });

  it('never exceeds the maximum, however many attempts', () => {
    expect(retryDelayMs(50, policy, () => 1)).toBe(60_000);
    expect(retryDelayMs(10_000, policy, () => 0.5)).toBe(45_000);
  });
});

describe('shouldGiveUp', () => {
  it('gives up once the row is older than the configured age', () => {
    const policy = { giveUpMs: 3_600_000 };
    expect(shouldGiveUp('2026-01-01T00:00:00Z', new Date('2026-01-01T00:59:59Z'), policy)).toBe(false);
    expect(shouldGiveUp('2026-01-01T00:00:00Z', new Date('2026-01-01T01:00:00Z'), policy)).toBe(true);
  });
});
