import { setImmediate as yieldToEventLoop } from 'node:timers/promises';

/** Characters serialised between two turns of the event loop: well under a millisecond's work. */
const STEP_CHARS = 64 * 1024;

/**
 * Exactly `JSON.stringify(value, null, 1)` of plain JSON data (objects, arrays, strings,
 * numbers, booleans, null; `toJSON` is honoured), nested `depth` levels down (each line after
 * the first indented by `depth` more spaces), with a turn of the event loop every 64 Ki
 * characters. A build-state record holds an issue's whole feed entry: serialising one of a
 * megabyte in one go, plus re-indenting it, held a server in the same process for 50–100 ms.
 */
export async function stringifyInSteps(value: unknown, depth = 0): Promise<string> {
  return (await stringifyInStepsToParts(value, depth)).join('');
}

/**
 * The text of `stringifyInSteps` in the parts it was made of, for a caller that writes it
 * (`writeFileAtomic` takes parts): joined, a record of many megabytes is one long copy. No
 * part ends between the two halves of a surrogate pair.
 */
export async function stringifyInStepsToParts(value: unknown, depth = 0): Promise<string[]> {
  const parts: string[] = [];
  let sinceYield = 0;
  const emit = async (text: string) => {
    parts.push(text);
    sinceYield += text.length;
    if (sinceYield >= STEP_CHARS) {
      sinceYield = 0;
      await yieldToEventLoop();
    }
  };

  const write = async (item: unknown, key: string, indent: string): Promise<void> => {
    let current = item;
    if (typeof (current as { toJSON?: unknown } | null)?.toJSON === 'function') {
      current = (current as { toJSON: (key: string) => unknown }).toJSON(key);
    }
    if (typeof current === 'string') return writeString(current);
    if (current === null || typeof current !== 'object') {
      await emit(JSON.stringify(current) ?? 'null');
      return;
    }
    const inner = `${indent} `;
    if (Array.isArray(current)) {
      if (current.length === 0) return emit('[]');
      for (const [index, element] of current.entries()) {
        await emit(`${index === 0 ? '[' : ','}\n${inner}`);
        if (!isSerialisable(element)) await emit('null');
        else await write(element, String(index), inner);
      }
      return emit(`\n${indent}]`);
    }
    const entries = Object.entries(current).filter(([, member]) => isSerialisable(member));
    if (entries.length === 0) return emit('{}');
    for (const [index, [name, member]] of entries.entries()) {
      await emit(`${index === 0 ? '{' : ','}\n${inner}${JSON.stringify(name)}: `);
      await write(member, name, inner);
    }
    return emit(`\n${indent}}`);
  };

  // A long string is escaped a slice at a time, never between the halves of a surrogate pair
  // (a lone half would be escaped as `\udxxx`, which the whole string does not contain).
  const writeString = async (text: string): Promise<void> => {
    if (text.length <= STEP_CHARS) return emit(JSON.stringify(text));
    await emit('"');
    for (let start = 0; start < text.length; ) {
      let end = Math.min(text.length, start + STEP_CHARS);
      const last = text.charCodeAt(end - 1);
      if (end < text.length && last >= 0xd800 && last <= 0xdbff) end -= 1;
      await emit(JSON.stringify(text.slice(start, end)).slice(1, -1));
      start = end;
    }
    await emit('"');
  };

  await write(value, '', ' '.repeat(depth));
  return parts;
}

/** What JSON.stringify keeps as a member (it drops undefined, functions and symbols). */
function isSerialisable(value: unknown): boolean {
  return value !== undefined && typeof value !== 'function' && typeof value !== 'symbol';
}
