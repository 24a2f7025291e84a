import { describe, expect, it } from 'vitest';
import { stringifyInSteps } from '../../src/site/stringify-in-steps.ts';

describe('stringifyInSteps', () => {
  it('gives exactly JSON.stringify(value, null, 1), nested or not', async () => {
    // Long strings are escaped in slices: CJK, quotes, newlines and an emoji across a slice edge.
    const long = `${'a'.repeat(65_535)}😀${'“摘要”\n"q"\\'.repeat(30_000)}`;
    const values: unknown[] = [
      {},
      [],
      'x',
      null,
      { a: 1, b: [1, 'two', { c: null, d: [] }, [[]]], e: {}, f: true, skipped: undefined, g: Number.NaN },
      [undefined, () => 1, { toJSON: () => 'shown' }],
      { when: new Date('2024-05-06T00:00:00.000Z'), feedEntry: { contentHtml: long, categories: ['a', 'b'] } },
    ];
    for (const value of values) {
      expect(await stringifyInSteps(value)).toBe(JSON.stringify(value, null, 1));
      expect(await stringifyInSteps(value, 2)).toBe(JSON.stringify(value, null, 1).replace(/\n/g, '\n  '));
    }
  });

  it('lets the event loop run while it serialises a long string', async () => {
    let turns = 0;
    const ticking = setInterval(() => (turns += 1), 0);
    const text = await stringifyInSteps({ contentHtml: 'x'.repeat(5_000_000) });
    clearInterval(ticking);
    expect(text.length).toBe(5_000_000 + 22);
    expect(turns).toBeGreaterThan(0);
  });
});
