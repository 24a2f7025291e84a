/**
 * Moving big results between the server process and the parser process without stalling the
 * server. A rendition or the feeds of a big issue hold strings of many megabytes; sent as
 * one message, the server copies and decodes all of it in one go (tens of milliseconds, during
 * which it answers nothing). Instead, every string longer than `PIECE_CHARS` travels as
 * pieces, one message each, and the value that follows holds a marker in its place. The
 * receiver keeps the pieces as they come and puts each string back together on its own turn
 * of the event loop.
 */

/** Longest piece of a string sent in one message: decoding one costs well under a millisecond. */
export const PIECE_CHARS = 128 * 1024;

/** Stands in for a string sent as pieces: how many pieces, in order, after those before it. */
const MARKER = '\u0000letterpress:pieces';
type Marker = { [MARKER]: number };

function isMarker(value: unknown): value is Marker {
  return typeof value === 'object' && value !== null && MARKER in value;
}

/**
 * `value` with every string longer than `PIECE_CHARS` replaced by a marker, and the pieces
 * those strings were cut into, in the order `joinLongStrings` takes them back. Arrays and
 * plain objects are copied where they hold such a string; everything else (byte arrays,
 * numbers, short strings) is passed as is.
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
    if (Array.isArray(node)) return node.map(walk);
    if (typeof node === 'object' && node !== null && Object.getPrototypeOf(node) === Object.prototype) {
      const copy: Record<string, unknown> = {};
      for (const [key, child] of Object.entries(node)) copy[key] = walk(child);
      return copy;
    }
    return node;
  };
  const split = walk(value) as T;
  return { value: pieces.length === 0 ? value : split, pieces };
}

/** Waits for the next turn of the event loop: what is waiting (a request, a signal) runs first. */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * The value `splitLongStrings` split, with its strings joined again from `pieces`. Each
 * string longer than a piece is joined on a turn of its own, so no turn copies more than one.
 * Throws when the pieces do not add up (a message lost or out of order).
 */
export async function joinLongStrings<T>(value: T, pieces: readonly string[]): Promise<T> {
  if (pieces.length === 0) return value;
  let next = 0;
  const walk = async (node: unknown): Promise<unknown> => {
    if (isMarker(node)) {
      const count = node[MARKER];
      if (next + count > pieces.length) throw new Error(`a long string needs ${count} pieces, ${pieces.length - next} are left`);
      await nextTurn();
      const joined = pieces.slice(next, next + count).join('');
      next += count;
      return joined;
    }
    if (Array.isArray(node)) {
      const out: unknown[] = [];
      for (const child of node) out.push(await walk(child));
      return out;
    }
    if (typeof node === 'object' && node !== null && Object.getPrototypeOf(node) === Object.prototype) {
      const copy: Record<string, unknown> = {};
      for (const [key, child] of Object.entries(node)) copy[key] = await walk(child);
      return copy;
    }
    return node;
  };
  const joined = (await walk(value)) as T;
  if (next !== pieces.length) throw new Error(`${pieces.length - next} pieces of long strings were left over`);
  return joined;
}
