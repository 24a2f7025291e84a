import { describe, expect, it } from 'vitest';
import { coalesceLookups } from '../../src/util/coalesce-lookups.ts';

interface Row {
  id: number;
  version: number;
}

/**
 * A table whose rows change. A batch reads the rows when it starts, as a query's snapshot is
 * taken when it runs, and answers when the test releases it.
 */
function table() {
  const versions = new Map<number, number>([
    [1, 0],
    [2, 0],
    [3, 0],
  ]);
  const batches: { keys: number[]; release: () => void }[] = [];
  const lookUpMany = (keys: number[]) =>
    new Promise<Row[]>((resolve) => {
      const read = keys.filter((id) => versions.has(id)).map((id) => ({ id, version: versions.get(id)! }));
      batches.push({ keys, release: () => resolve(read) });
    });
  return { versions, batches, lookUpMany };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('coalesceLookups', () => {
  it('answers the callers of one turn with one batch, and a missing key with undefined', async () => {
    const { batches, lookUpMany } = table();
    const lookUp = coalesceLookups(lookUpMany, (row: Row) => row.id);
    const answers = Promise.all([lookUp(1), lookUp(2), lookUp(1), lookUp(9)]);
    await turn();
    expect(batches.map((batch) => batch.keys)).toEqual([[1, 2, 9]]);
    batches[0]!.release();
    expect(await answers).toEqual([{ id: 1, version: 0 }, { id: 2, version: 0 }, { id: 1, version: 0 }, undefined]);
  });

  it('never answers a key asked for during a batch with that batch: it waits for the next one', async () => {
    const { versions, batches, lookUpMany } = table();
    const lookUp = coalesceLookups(lookUpMany, (row: Row) => row.id);
    const early = lookUp(1);
    await turn();
    // Asked while the first batch (which holds key 1) is in flight; the row changes meanwhile.
    const late = [lookUp(1), lookUp(3)];
    versions.set(1, 1);
    await turn();
    expect(batches).toHaveLength(1);
    batches[0]!.release();
    expect(await early).toEqual({ id: 1, version: 0 });
    await turn();
    expect(batches.map((batch) => batch.keys)).toEqual([[1], [1, 3]]);
    batches[1]!.release();
    expect(await Promise.all(late)).toEqual([
      { id: 1, version: 1 },
      { id: 3, version: 0 },
    ]);
  });

  it('with maxInFlight 2, a key asked for during one batch starts a second at once, and a third waits for a free place', async () => {
    const { batches, lookUpMany } = table();
    const lookUp = coalesceLookups(lookUpMany, (row: Row) => row.id, 2);
    const first = lookUp(1);
    await turn();
    const second = lookUp(2);
    await turn();
    const third = [lookUp(3), lookUp(1)];
    await turn();
    expect(batches.map((batch) => batch.keys)).toEqual([[1], [2]]);
    batches[1]!.release();
    expect(await second).toEqual({ id: 2, version: 0 });
    await turn();
    expect(batches.map((batch) => batch.keys)).toEqual([[1], [2], [3, 1]]);
    batches[0]!.release();
    batches[2]!.release();
    expect(await first).toEqual({ id: 1, version: 0 });
    expect(await Promise.all(third)).toEqual([{ id: 3, version: 0 }, { id: 1, version: 0 }]);
  });

  it('rejects the callers of a failed batch and serves later callers with a new one', async () => {
    let fail = true;
    const calls: number[][] = [];
    const lookUp = coalesceLookups(async (keys: number[]) => {
      calls.push(keys);
      if (fail) throw new Error('store is busy');
      return keys.map((id) => ({ id, version: 0 }));
    }, (row: Row) => row.id);
    await expect(Promise.all([lookUp(1), lookUp(2)])).rejects.toThrow('store is busy');
    fail = false;
    expect(await lookUp(2)).toEqual({ id: 2, version: 0 });
    expect(calls).toEqual([[1, 2], [2]]);
  });
});
