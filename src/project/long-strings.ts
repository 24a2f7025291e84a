import { setImmediate as yieldToEventLoop } from 'node:timers/promises';

/**
 * Moving big results between the server process and the parser process without stalling the
 * server. A rendition or the feeds of a big issue hold strings of many megabytes; sent as
 * one message, the server copies and decodes all of it in one go (tens of milliseconds, during
 * which it answers nothing). Instead, every string longer than `PIECE_CHARS` travels as
 * pieces, one message each, and the value that follows holds a marker in its place. The
 * receiver keeps the pieces as they come and puts each string back together on its own turn
 * of the event loop.
 *
 * Values are plain data (objects, arrays, strings, numbers, byte arrays, dates): a plain
 * object whose only key is the marker's is taken for a marker.
 */

/** Longest piece of a string sent in one message: decoding one costs well under a millisecond. */
export const PIECE_CHARS = 128 * 1024;

/** Stands in for a string sent as pieces: how many pieces, in order, after those before it. */
const MARKER = '\u0000letterpress:pieces';
type Marker = { [MARKER]: number };

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype;
}

/** Sets `key` as an own property even when it is `__proto__`, which plain assignment would not. */
function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}

/**
 * `value` with every string longer than `PIECE_CHARS` replaced by a marker, and the pieces
 * those strings were cut into, in the order `joinLongStrings` takes them back. Only the
 * arrays and plain objects on the way to such a string are copied; `value` itself is never
 * changed, and comes back as it is when it holds none.
 */
export function splitLongStrings<T>(value: T): { value: T; pieces: string[] } {
  const pieces: string[] = [];
  const walk = (node: unknown): unknown => {
    if (typeof node === 'string') {
      if (node.length <= PIECE_CHARS) return node;
      const count = Math.ceil(node.length / PIECE_CHARS);
      for (let i = 0; i < count; i++) pieces.push(node.slice(i * PIECE_CHARS, (i + 1) * PIECE_CHARS));
      return { [MARKER]: count } satisfies Marker;
    }
    if (Array.isArray(node)) {
      let copy: unknown[] | undefined;
      for (let i = 0; i < node.length; i++) {
        const child: unknown = node[i];
        const split = walk(child);
        if (split !== child) (copy ??= node.slice())[i] = split;
      }
      return copy ?? node;
    }
    if (isPlainObject(node)) {
      let copy: Record<string, unknown> | undefined;
      for (const key of Object.keys(node)) {
        const child = node[key];
        const split = walk(child);
        if (split === child) continue;
        if (!copy) {
          copy = {};
          for (const own of Object.keys(node)) setOwn(copy, own, node[own]);
        }
        setOwn(copy, key, split);
      }
      return copy ?? node;
    }
    return node;
  };
  return { value: walk(value) as T, pieces };
}

/**
 * The value `splitLongStrings` split, with its strings joined again from `pieces`, in place:
 * `value` is what the channel just decoded, owned by the caller. Finding the markers is one
 * synchronous walk; each string is then joined on a turn of its own, so no turn copies more
 * than one. `keepPieces`: each long string is left as its array of pieces instead, for a
 * caller that only writes it out (see `writeFileAtomic`). Throws when the pieces do not add
 * up (a message lost or out of order).
 */
export async function joinLongStrings<T>(value: T, pieces: readonly string[], options: { keepPieces?: boolean } = {}): Promise<T> {
  if (pieces.length === 0) return value;
  let root: unknown = value;
  // Where each marker sits, in the order the pieces were cut.
  const slots: { set: (joined: string | string[]) => void; count: number }[] = [];
  const walk = (node: unknown, set: (joined: string | string[]) => void): void => {
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++) walk(node[i], (joined) => void (node[i] = joined));
    } else if (isPlainObject(node)) {
      if (MARKER in node) slots.push({ set, count: Number((node as Marker)[MARKER]) });
      else for (const key of Object.keys(node)) walk(node[key], (joined) => setOwn(node, key, joined));
    }
  };
  walk(value, (joined) => void (root = joined));

  let next = 0;
  for (const { set, count } of slots) {
    if (next + count > pieces.length) throw new Error(`a long string needs ${count} pieces, ${pieces.length - next} are left`);
    if (options.keepPieces) {
      set(pieces.slice(next, next + count));
    } else {
      // The next turn of the event loop: what is waiting (a request, a signal) runs first.
      await yieldToEventLoop();
      set(pieces.slice(next, next + count).join(''));
    }
    next += count;
  }
  if (next !== pieces.length) throw new Error(`${pieces.length - next} pieces of long strings were left over`);
  return root as T;
}
