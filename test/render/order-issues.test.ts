import { describe, expect, it } from 'vitest';
import { sortNewestFirst, type OrderFacts } from '../../src/render/order-issues.ts';

const slugs = (entries: OrderFacts[]) => sortNewestFirst(entries).map((entry) => entry.slug);

describe('sortNewestFirst', () => {
  it('orders undated issues by the title year and number, never by when they were first seen', () => {
    // First-seen dates as a back-catalogue import leaves them: shuffled commit dates in 2026.
    const entries: OrderFacts[] = [
      { slug: 'n18', year: 2024, number: 18, published: '2026-11-22T10:00:00+08:00' },
      { slug: 'n26', year: 2024, number: 26, published: '2026-11-26T10:00:00+08:00' },
      { slug: 'n27', year: 2024, number: 27, published: '2026-11-21T10:00:00+08:00' },
      { slug: 'n29', year: 2024, number: 29, published: '2026-11-25T10:00:00+08:00' },
      { slug: 'n32', year: 2024, number: 32, published: '2026-11-24T10:00:00+08:00' },
    ];
    expect(slugs(entries)).toEqual(['n32', 'n29', 'n27', 'n26', 'n18']);
  });

  it('orders dated issues by date and meets undated ones by year, then number', () => {
    const entries: OrderFacts[] = [
      { slug: 'd26', year: 2024, number: 26, date: '2024-07-08T00:00:00+08:00', published: '2024-07-08T00:00:00+08:00' },
      { slug: 'u29', year: 2024, number: 29, published: '2026-11-20T00:00:00+08:00' },
      { slug: 'd32', year: 2024, number: 32, date: '2024-08-12T00:00:00+08:00', published: '2024-08-12T00:00:00+08:00' },
      { slug: 'u18', year: 2024, number: 18, published: '2026-11-25T00:00:00+08:00' },
      { slug: 'u27', year: 2024, number: 27, published: '2026-11-22T00:00:00+08:00' },
      { slug: 'u2023', year: 2023, number: 50, published: '2026-11-30T00:00:00+08:00' },
      { slug: 'd2025', number: 1, date: '2025-01-06T00:00:00+08:00', published: '2025-01-06T00:00:00+08:00' },
    ];
    expect(slugs(entries)).toEqual(['d2025', 'd32', 'u29', 'u27', 'd26', 'u18', 'u2023']);
  });

  it('falls back to the first-seen date for an undated issue whose title has no year', () => {
    const entries: OrderFacts[] = [
      { slug: 'old', number: 1, published: '2024-01-01T00:00:00Z' },
      { slug: 'new', number: 2, published: '2024-02-01T00:00:00Z' },
      { slug: 'dated', number: 3, date: '2024-01-15T00:00:00Z', published: '2024-01-15T00:00:00Z' },
    ];
    expect(slugs(entries)).toEqual(['new', 'dated', 'old']);
  });

  it('gives one order whatever order it is given', () => {
    const entries: OrderFacts[] = [
      { slug: 'a', year: 2024, number: 20, date: '2024-06-01T00:00:00Z' },
      { slug: 'b', year: 2024, number: 19, date: '2024-06-08T00:00:00Z' }, // contradicts the numbers
      { slug: 'c', year: 2024, number: 21 },
      { slug: 'd', year: 2024, number: 18 },
    ];
    const expected = slugs(entries);
    expect(slugs([...entries].reverse())).toEqual(expected);
    expect(slugs([entries[2]!, entries[0]!, entries[3]!, entries[1]!])).toEqual(expected);
  });
});
