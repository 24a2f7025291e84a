/**
 * Turns a batch lookup into a one-key lookup that shares queries between callers who ask at
 * about the same time: keys asked for in one turn of the event loop go out together, and
 * while `maxInFlight` batches run, keys asked for meanwhile wait and go together into the
 * next one. No answer is older than its question: every key is looked up by a query that
 * starts after it was asked for, so a caller that needs a fresh read (the send loop re-reading
 * a subscriber just before their message) gets one, with one round trip for many callers
 * instead of one each.
 *
 * A key missing from the batch's answer resolves `undefined`; a failed batch rejects every
 * caller in it, and the next batch is tried for whoever asked later.
 */
export function coalesceLookups<K, V>(
  lookUpMany: (keys: K[]) => Promise<readonly V[]>,
  keyOf: (value: V) => K,
  maxInFlight = 1,
): (key: K) => Promise<V | undefined> {
  type Caller = { resolve: (value: V | undefined) => void; reject: (error: unknown) => void };
  let waiting = new Map<K, Caller[]>();
  let inFlight = 0;
  let scheduled = false;

  const runBatch = async () => {
    const batch = waiting;
    waiting = new Map();
    inFlight += 1;
    try {
      const found = new Map((await lookUpMany([...batch.keys()])).map((value) => [keyOf(value), value]));
      for (const [key, callers] of batch) for (const caller of callers) caller.resolve(found.get(key));
    } catch (error) {
      for (const callers of batch.values()) for (const caller of callers) caller.reject(error);
    } finally {
      inFlight -= 1;
      schedule();
    }
  };

  // Started in a microtask, so the callers of one turn of the event loop share a batch.
  const schedule = () => {
    if (scheduled || waiting.size === 0 || inFlight >= maxInFlight) return;
    scheduled = true;
    queueMicrotask(() => {
      scheduled = false;
      if (waiting.size > 0 && inFlight < maxInFlight) void runBatch();
    });
  };

  return (key) =>
    new Promise<V | undefined>((resolve, reject) => {
      const callers = waiting.get(key);
      if (callers) callers.push({ resolve, reject });
      else waiting.set(key, [{ resolve, reject }]);
      schedule();
    });
}
