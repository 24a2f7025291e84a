import { describe, expect, it } from 'vitest';
import { joinLongStrings, PIECE_CHARS, splitLongStrings } from '../../src/project/long-strings.ts';

describe('long strings in pieces', () => {
  const long = (char: string, pieces: number) => char.repeat(PIECE_CHARS * pieces - 1);

  it('cuts every string longer than a piece and joins the value back as it was', async () => {
    const value = {
      slug: 'one',
      html: long('a', 3),
      nested: [{ text: long('例', 2), short: 'kept' }, 7, null, long('b', 1) + 'bb'],
      bytes: new Uint8Array([1, 2, 3]),
    };
    const split = splitLongStrings(value);
    expect(split.pieces).toHaveLength(3 + 2 + 2);
    expect(split.pieces.every((piece) => piece.length <= PIECE_CHARS)).toBe(true);
    // What crosses to the other process holds no long string.
    expect(JSON.stringify(split.value, (_key, v: unknown) => (ArrayBuffer.isView(v) ? [] : v)).length).toBeLessThan(1000);
    // Through a structured clone, as the IPC channel copies it.
    const received = structuredClone(split.value);
    expect(await joinLongStrings(received, split.pieces)).toEqual(value);
  });

  it('never changes what it splits, and copies only the way to a long string', () => {
    const untouched = { items: Array.from({ length: 100 }, (_, i) => ({ title: `item ${i}` })) };
    const value = { untouched, body: { html: long('a', 2) } };
    const split = splitLongStrings(value);
    expect(value.body.html).toHaveLength(PIECE_CHARS * 2 - 1);
    expect(split.value).not.toBe(value);
    expect(split.value.untouched).toBe(untouched);
  });

  it('keeps an own __proto__ key as data, and a long string on its own', async () => {
    const value = JSON.parse(`{"__proto__": ${JSON.stringify(long('p', 2))}, "x": 1}`) as Record<string, unknown>;
    const split = splitLongStrings(value);
    const joined = await joinLongStrings(structuredClone(split.value), split.pieces);
    expect(Object.getPrototypeOf(joined)).toBe(Object.prototype);
    expect(Object.keys(joined)).toEqual(['__proto__', 'x']);
    expect(joined).toEqual(value);
    const alone = splitLongStrings(long('s', 3));
    expect(await joinLongStrings(alone.value, alone.pieces)).toBe(long('s', 3));
  });

  it('passes a value with no long string through untouched', async () => {
    const value = { a: 'short', b: [1, 2] };
    const split = splitLongStrings(value);
    expect(split.pieces).toEqual([]);
    expect(split.value).toBe(value);
    expect(await joinLongStrings(value, [])).toBe(value);
  });

  it('refuses pieces that do not add up', async () => {
    const split = splitLongStrings({ a: long('a', 2), b: long('b', 2) });
    await expect(joinLongStrings(structuredClone(split.value), split.pieces.slice(0, 3))).rejects.toThrow(/needs 2 pieces, 1 are left/);
    await expect(joinLongStrings(structuredClone(split.value), [...split.pieces, 'extra'])).rejects.toThrow(/1 pieces of long strings were left over/);
  });

  it('joins each long string on a turn of its own, so other work runs between them', async () => {
    const split = splitLongStrings({ a: long('a', 2), b: long('b', 2), c: long('c', 2) });
    const order: string[] = [];
    const joining = joinLongStrings(split.value, split.pieces).then(() => order.push('joined'));
    // Work queued between the joins: each immediate runs before the next string is joined.
    const between = async () => {
      for (let i = 0; i < 3; i++) {
        await new Promise((resolve) => setImmediate(resolve));
        order.push('turn');
      }
    };
    await Promise.all([joining, between()]);
    // Joined all at once, the three strings would be done before the second turn.
    expect(order.slice(0, order.indexOf('joined')).filter((entry) => entry === 'turn').length).toBeGreaterThanOrEqual(2);
  });
});
