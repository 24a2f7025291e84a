import { describe, expect, it } from 'vitest';
import { mayReserveConfirmation, mayUnplan, planUpsert } from '../../src/store/subscriber-rules.ts';
import type { Subscriber } from '../../src/store/types.ts';

const existing: Subscriber = {
  id: 4,
  email: 'ann@example.org',
  name: 'Ann',
  status: 'unsubscribed',
  source: 'import',
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-02-03T00:00:00.000Z',
  confirmedAt: null,
  unsubscribedAt: '2026-02-02T00:00:00.000Z',
};

describe('planUpsert', () => {
  it('refuses a sticky status and an erased address with the flag that overrides it', () => {
    expect(planUpsert({ email: 'ann@example.org', status: 'active', source: 'import' }, existing, undefined)).toEqual({
      action: 'answer',
      result: { outcome: 'refused', subscriber: existing, reason: 'unsubscribed on 2026-02-02; use --resubscribe to add it again' },
    });
    expect(planUpsert({ email: 'ann@example.org', status: 'active', source: 'add' }, undefined, { createdAt: '2026-03-04T05:06:07.000Z' })).toEqual({
      action: 'answer',
      result: { outcome: 'refused', reason: 'erased on 2026-03-04; use --resubscribe to add it again' },
    });
  });

  it('lifts a suppression on resubscribe, except in a dry run, and never lets the form change a subscriber', () => {
    const erased = { createdAt: '2026-03-04T05:06:07.000Z' };
    expect(planUpsert({ email: 'a@example.org', status: 'active', source: 'add', resubscribe: true }, undefined, erased)).toEqual({ action: 'insert', liftSuppression: true });
    expect(planUpsert({ email: 'a@example.org', status: 'active', source: 'add', resubscribe: true, dryRun: true }, undefined, erased)).toEqual({ action: 'answer', result: { outcome: 'added' } });
    expect(planUpsert({ email: 'ann@example.org', status: 'pending', source: 'form' }, existing, undefined)).toMatchObject({ action: 'answer', result: { outcome: 'unchanged' } });
    expect(planUpsert({ email: 'ann@example.org', status: 'active', source: 'import', resubscribe: true }, existing, undefined)).toEqual({ action: 'update', existing, name: 'Ann', status: 'active' });
  });
});

describe('the confirmation and unplan rules', () => {
  it('reserves outside the cool-down and under the count only', () => {
    const limits = { cooldownSince: '2026-03-01T10:00:00.000Z', maxCount: 2 };
    expect(mayReserveConfirmation({ lastSentAt: null, windowCount: 0 }, limits)).toBe(true);
    expect(mayReserveConfirmation({ lastSentAt: '2026-03-01T10:00:00.001Z', windowCount: 0 }, limits)).toBe(false);
    expect(mayReserveConfirmation({ lastSentAt: '2026-03-01T09:00:00.000Z', windowCount: 2 }, limits)).toBe(false);
  });

  it('unplans a published or planned issue with no touched row only', () => {
    expect(mayUnplan({ state: 'planned' }, 0)).toBe(true);
    expect(mayUnplan({ state: 'published' }, 1)).toBe(false);
    expect(mayUnplan({ state: 'sending' }, 0)).toBe(false);
    expect(mayUnplan(undefined, 0)).toBe(false);
  });
});
