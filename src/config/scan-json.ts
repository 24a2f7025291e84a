/**
 * A small JSON reader that knows where things are: the offset of the first syntax error with
 * a reason in plain words, and the offsets of every property key and value. JSON.parse stays
 * the parser of record; this runs beside it because V8's messages ("Expected double-quoted
 * property name in JSON at position 305") carry no line, name no cause a person recognises
 * (a trailing comma, a comment) and change wording between Node versions.
 */

/** Where a key path (`site.url`, `list.0`) sits in the text: its key and its value. */
export interface JsonLocation {
  keyOffset?: number;
  valueOffset: number;
}

export interface JsonScan {
  /** The first syntax error, or undefined when the text is valid JSON. */
  error?: { offset: number; reason: string };
  /** Every object key and array element reached before the error, by dotted path. */
  locations: Map<string, JsonLocation>;
}

class JsonSyntaxError extends Error {
  constructor(
    readonly offset: number,
    readonly reason: string,
  ) {
    super(reason);
  }
}

const WHITESPACE = new Set([' ', '\t', '\n', '\r']);
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const WORD = /[A-Za-z_$][\w$-]*/y;

/** Scans `text` (without a BOM) and reports its first syntax error and where each key is. */
export function scanJson(text: string): JsonScan {
  const locations = new Map<string, JsonLocation>();
  let at = 0;

  const fail = (offset: number, reason: string): never => {
    throw new JsonSyntaxError(offset, reason);
  };

  const skipSpace = (): void => {
    for (;;) {
      while (at < text.length && WHITESPACE.has(text[at]!)) at += 1;
      if (text.startsWith('//', at) || text.startsWith('/*', at)) {
        fail(at, `a comment (\`${text.slice(at, at + 2)}\`): JSON allows no comments; remove it`);
      }
      if (text[at] === '\uFEFF' || text[at] === '\u00A0' || text[at] === '\u3000') {
        fail(at, 'an invisible or full-width space: JSON allows only plain spaces, tabs and line breaks here');
      }
      return;
    }
  };

  const describeHere = (): string => {
    if (at >= text.length) return 'the end of the file';
    WORD.lastIndex = at;
    const word = WORD.exec(text);
    return word ? `\`${word[0]}\`` : `\`${String.fromCodePoint(text.codePointAt(at)!)}\``;
  };

  const readString = (): string => {
    const start = at;
    at += 1;
    let value = '';
    while (at < text.length) {
      const ch = text[at]!;
      if (ch === '"') {
        at += 1;
        return value;
      }
      if (ch === '\n' || ch === '\r') fail(start, 'this string is not closed on its line: add the closing `"` (write a line break as \\n)');
      if (ch < ' ') fail(at, 'a control character (such as a tab) inside a string: write it as an escape (\\t, \\n)');
      if (ch === '\\') {
        const next = text[at + 1];
        if (next === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(at + 2, at + 6))) fail(at, 'a \\u escape needs four hex digits');
          value += String.fromCharCode(Number.parseInt(text.slice(at + 2, at + 6), 16));
          at += 6;
          continue;
        }
        const escapes: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
        if (next === undefined || escapes[next] === undefined) {
          fail(at, `\`\\${next ?? ''}\` is not a JSON escape (write a backslash as \\\\)`);
        }
        value += escapes[next!];
        at += 2;
        continue;
      }
      value += ch;
      at += 1;
    }
    return fail(start, 'this string is never closed: add the closing `"`');
  };

  const readValue = (keyPath: string[]): void => {
    skipSpace();
    const ch = text[at];
    if (ch === undefined) fail(at, 'the file ends where a value should be');
    if (keyPath.length) {
      const key = keyPath.join('.');
      locations.set(key, { ...locations.get(key), valueOffset: at });
    }
    if (ch === '{') return readObject(keyPath);
    if (ch === '[') return readArray(keyPath);
    if (ch === '"') {
      readString();
      return;
    }
    if (ch === "'") fail(at, "single quotes: JSON strings need double quotes (\"…\")");
    if (ch === '-' || (ch! >= '0' && ch! <= '9')) {
      NUMBER.lastIndex = at;
      const number = NUMBER.exec(text);
      const after = number ? text[at + number[0].length] : undefined;
      if (!number || (after !== undefined && /[0-9.eExX]/.test(after))) {
        fail(at, 'not a JSON number (no leading zeros, hex, or a trailing dot)');
      }
      at += number![0].length;
      return;
    }
    WORD.lastIndex = at;
    const word = WORD.exec(text)?.[0];
    if (word === 'true' || word === 'false' || word === 'null') {
      at += word.length;
      return;
    }
    if (word === 'undefined' || word === 'NaN' || word === 'Infinity' || ch === '+' || ch === '.') {
      fail(at, `${describeHere()} is not a JSON value (use a number, a "string", true, false or null)`);
    }
    if (ch === ',' || ch === '}' || ch === ']') fail(at, `a value is missing before \`${ch}\``);
    fail(at, word ? `${describeHere()} is not a JSON value: a string needs double quotes ("${word}")` : `unexpected ${describeHere()}: a value should start here`);
  };

  const readObject = (keyPath: string[]): void => {
    at += 1;
    skipSpace();
    if (text[at] === '}') {
      at += 1;
      return;
    }
    for (;;) {
      skipSpace();
      const ch = text[at];
      if (ch !== '"') {
        if (ch === undefined) fail(at, 'the file ends inside an object: a `}` is missing');
        if (ch === "'") fail(at, 'single quotes: property names need double quotes ("name")');
        WORD.lastIndex = at;
        const word = WORD.exec(text)?.[0];
        if (word) fail(at, `property names need double quotes ("${word}")`);
        fail(at, `expected a property name in double quotes, found ${describeHere()}`);
      }
      const keyOffset = at;
      const key = readString();
      const childPath = [...keyPath, key];
      locations.set(childPath.join('.'), { keyOffset, valueOffset: keyOffset });
      skipSpace();
      if (text[at] !== ':') fail(at, `a \`:\` is missing after the property name "${key}"`);
      at += 1;
      readValue(childPath);
      skipSpace();
      const after = text[at];
      if (after === '}') {
        at += 1;
        return;
      }
      if (after === ',') {
        const comma = at;
        at += 1;
        skipSpace();
        if (text[at] === '}') fail(comma, 'a trailing comma: JSON allows no comma after the last property; remove it');
        continue;
      }
      if (after === undefined) fail(at, 'the file ends inside an object: a `}` is missing');
      if (after === '"') fail(at, 'a comma is missing before this property');
      if (after === ']') fail(at, 'a `]` where this object should be closed with `}`');
      fail(at, `expected \`,\` or \`}\` after the value of "${key}", found ${describeHere()}`);
    }
  };

  const readArray = (keyPath: string[]): void => {
    at += 1;
    skipSpace();
    if (text[at] === ']') {
      at += 1;
      return;
    }
    for (let index = 0; ; index += 1) {
      readValue([...keyPath, String(index)]);
      skipSpace();
      const after = text[at];
      if (after === ']') {
        at += 1;
        return;
      }
      if (after === ',') {
        const comma = at;
        at += 1;
        skipSpace();
        if (text[at] === ']') fail(comma, 'a trailing comma: JSON allows no comma after the last element; remove it');
        continue;
      }
      if (after === undefined) fail(at, 'the file ends inside a list: a `]` is missing');
      if (after === '}') fail(at, 'a `}` where this list should be closed with `]`');
      fail(at, `expected \`,\` or \`]\` after a list element, found ${describeHere()}`);
    }
  };

  try {
    skipSpace();
    if (at >= text.length) fail(at, 'the file is empty: it should hold one JSON object, {…}');
    readValue([]);
    skipSpace();
    if (at < text.length) fail(at, `${describeHere()} after the end of the JSON value: remove it, or merge it into the one object`);
    return { locations };
  } catch (error) {
    if (error instanceof JsonSyntaxError) return { error: { offset: error.offset, reason: error.reason }, locations };
    throw error;
  }
}

/** 1-based line and column (in characters) of `offset` in `text`. */
export function lineColumnAt(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const lineStart = before.lastIndexOf('\n') + 1;
  const line = before.split('\n').length;
  return { line, column: [...before.slice(lineStart)].length + 1 };
}
