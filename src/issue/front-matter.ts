import { LineCounter, isMap, isScalar, parseDocument, type Document, type Node } from '../vendor/yaml.ts';
import type { Diagnostic } from './diagnostic.ts';
import type { SourcePosition } from './model.ts';
import { findAliasBombs } from './find-alias-bomb.ts';
import { parseFrontMatterDate } from './parse-front-matter-date.ts';
import { removeControlChars } from './remove-control-chars.ts';
import { quoteForMessage } from './truncate-text.ts';

/** The front-matter fields Letterpress understands, validated and normalised. */
export interface FrontMatterFields {
  title?: string;
  number?: number;
  /** ISO 8601 with offset. */
  date?: string;
  slug?: string;
  summary?: string;
  /** ISO 8601 with offset. */
  publishAt?: string;
  draft?: boolean;
  /** `false`: on the site and in the feeds only, never emailed (state `archived`). */
  email?: boolean;
}

export interface FrontMatter {
  fields: FrontMatterFields;
  /** Where each field's value sits in the file, for diagnostics raised later. */
  positions: { [K in keyof FrontMatterFields]?: SourcePosition };
  /** The text after the closing fence (all of the text when there is no front matter). */
  body: string;
  /** The 1-based file line on which `body` starts. */
  bodyStartLine: number;
  diagnostics: Diagnostic[];
}

/** Slugs end up in URLs and file names: lowercase ASCII, digits and dashes, at most 80. */
export const SLUG_PATTERN = /^[a-z0-9][a-z0-9-]{0,79}$/;

const KNOWN_KEYS = ['title', 'number', 'date', 'slug', 'summary', 'publish_at', 'draft', 'email'] as const;
type KnownKey = (typeof KNOWN_KEYS)[number];

/**
 * Known fields are scalars: a handful of aliases is plenty, more is an expansion attack. A
 * scan of the text refuses a known field that expands to more before it is converted; the
 * yaml package's own count, applied when a value is read, backs it up.
 */
const MAX_ALIAS_COUNT = 100;

const ALIAS_BOMB_ADVICE =
  'it expands aliases (`*name`) too many times, which looks like an alias bomb; write the value out instead';

/**
 * Deeper YAML is refused before the yaml package sees it: it recurses per level, and
 * thousands of levels exhaust the stack (repeatedly, it has crashed the whole process).
 */
const MAX_YAML_DEPTH = 64;

const OPENING_FENCE = /^---[ \t]*$/;
const CLOSING_FENCE = /^(?:---|\.\.\.)[ \t]*$/;

/**
 * Splits `---` front matter off the top of an issue and validates its fields, so that every
 * mistake in it is reported at its real file line. `text` must be LF-only and without a BOM.
 * Front matter is read with the YAML core schema: dates stay strings and are read in
 * `options.timezone`. A `null` value (`date:` with nothing after it) counts as not given.
 */
export function parseFrontMatter(text: string, file: string, options: { timezone: string }): FrontMatter {
  const lines = text.split('\n');
  const result: FrontMatter = { fields: {}, positions: {}, body: text, bodyStartLine: 1, diagnostics: [] };
  if (!OPENING_FENCE.test(lines[0] ?? '')) return result;

  const report = (severity: Diagnostic['severity'], code: Diagnostic['code'], position: SourcePosition, message: string) =>
    result.diagnostics.push({ file, ...position, severity, code, message });

  const closing = lines.findIndex((line, index) => index > 0 && CLOSING_FENCE.test(line));
  if (closing < 0) {
    report('error', 'E_FRONT_MATTER', { line: 1, column: 1 }, 'front matter opened with `---` on line 1 is never closed: add a `---` line after the last field');
    result.body = lines.slice(1).join('\n');
    result.bodyStartLine = 2;
    return result;
  }
  result.body = lines.slice(closing + 1).join('\n');
  result.bodyStartLine = closing + 2;

  // The YAML source starts on file line 2, right after the opening fence.
  const lineCounter = new LineCounter();
  const toFilePosition = (offset: number): SourcePosition => {
    const { line, col } = lineCounter.linePos(offset);
    return { line: line + 1, column: col };
  };
  const yamlSource = lines.slice(1, closing).join('\n');
  const tooDeep = findExcessiveNesting(yamlSource, MAX_YAML_DEPTH);
  if (tooDeep) {
    report(
      'error',
      'E_FRONT_MATTER',
      { line: tooDeep.line + 1, column: tooDeep.column },
      `front matter is nested more than ${MAX_YAML_DEPTH} levels deep; front-matter fields are single values`,
    );
    return result;
  }
  // A known field that would expand aliases past the limit is refused here and never
  // converted: the yaml package would walk every alias of it before its own count stopped it.
  const bombs = findAliasBombs(yamlSource, KNOWN_KEYS, MAX_ALIAS_COUNT);
  for (const bomb of bombs) {
    report(
      'error',
      'E_FRONT_MATTER',
      { line: bomb.line + 1, column: bomb.column },
      `front-matter field "${bomb.field}" could not be read: ${ALIAS_BOMB_ADVICE}`,
    );
  }
  const refused = new Set(bombs.map((bomb) => bomb.field));
  let doc: Document;
  try {
    doc = parseDocument(yamlSource, { schema: 'core', prettyErrors: false, lineCounter, uniqueKeys: true });
  } catch (error) {
    // The yaml package throws on some hostile input (deep nesting exhausts the stack).
    report('error', 'E_FRONT_MATTER', { line: 2, column: 1 }, `front matter could not be read as YAML: ${describeThrown(error)}`);
    return result;
  }

  if (doc.errors.length > 0) {
    for (const error of doc.errors) {
      report('error', 'E_FRONT_MATTER', toFilePosition(error.pos[0]), `front matter is not valid YAML: ${error.message}`);
    }
    return result;
  }
  if (doc.contents === null) return result; // `---` followed directly by `---`: no fields
  if (!isMap(doc.contents)) {
    const start = doc.contents.range?.[0] ?? 0;
    report('error', 'E_FRONT_MATTER', toFilePosition(start), 'front matter must be `key: value` lines (a YAML mapping)');
    return result;
  }

  for (const pair of doc.contents.items) {
    const keyNode = pair.key as Node | null;
    const valueNode = pair.value as Node | null;
    const keyPosition = toFilePosition(keyNode?.range?.[0] ?? 0);
    const key = isScalar(keyNode) ? String(keyNode.value) : undefined;
    if (key === undefined || !(KNOWN_KEYS as readonly string[]).includes(key)) {
      const name = key ?? String(keyNode);
      const suggestion = suggestKey(name);
      report(
        'warning',
        'W_UNKNOWN_FIELD',
        keyPosition,
        `unknown front-matter field "${name}" is ignored` +
          (suggestion ? `; did you mean "${suggestion}"?` : ` (known fields: ${KNOWN_KEYS.join(', ')})`),
      );
      continue;
    }
    if (refused.has(key)) continue;
    const position = valueNode?.range ? toFilePosition(valueNode.range[0]) : keyPosition;
    let value: unknown;
    try {
      // An alias bomb (aliases of lists of aliases) would expand exponentially: the yaml
      // package counts expansions and throws past the limit; any throw is this file's error.
      value = valueNode === null ? null : (valueNode.toJS(doc, { maxAliasCount: MAX_ALIAS_COUNT }) as unknown);
    } catch (error) {
      report('error', 'E_FRONT_MATTER', position, `front-matter field "${key}" could not be read: ${describeThrown(error)}`);
      continue;
    }
    if (value === null) continue;
    const problem = readField(key as KnownKey, value, result, options.timezone);
    if (problem) report('error', 'E_FIELD', position, `front-matter field "${key}" ${problem}`);
    else result.positions[fieldName(key as KnownKey)] = position;
  }
  return result;
}

/** Stores a valid value in `result.fields`, or returns what is wrong with it. */
function readField(key: KnownKey, value: unknown, result: FrontMatter, timezone: string): string | undefined {
  const fields = result.fields;
  switch (key) {
    case 'title':
    case 'summary': {
      if (typeof value !== 'string') return `must be text, not ${describe(value)} (put it in quotes)`;
      const text = removeControlChars(value).trim();
      if (key === 'title') {
        if (text === '') return 'is empty';
        fields.title = text;
      } else if (text !== '') {
        fields.summary = text;
      }
      return undefined;
    }
    case 'number':
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
        return `must be a positive whole number such as 18, not ${describe(value)}`;
      }
      fields.number = value;
      return undefined;
    case 'date':
    case 'publish_at': {
      if (typeof value !== 'string') return `must be a date like 2024-05-06 or 2024-05-06T09:00+08:00, not ${describe(value)}`;
      const parsed = parseFrontMatterDate(value, timezone);
      if (parsed.problem !== undefined) return `${describe(value)} ${parsed.problem}`;
      if (key === 'date') fields.date = parsed.iso;
      else fields.publishAt = parsed.iso;
      return undefined;
    }
    case 'slug':
      if (typeof value !== 'string' || !SLUG_PATTERN.test(value)) {
        return (
          `must be lowercase ASCII letters, digits and dashes, starting with a letter or digit, ` +
          `at most 80 characters (like 2024-18), not ${describe(value)}`
        );
      }
      fields.slug = value;
      return undefined;
    case 'draft':
    case 'email':
      if (typeof value !== 'boolean') return `must be true or false, not ${describe(value)}`;
      fields[key] = value;
      return undefined;
  }
}

function fieldName(key: KnownKey): keyof FrontMatterFields {
  return key === 'publish_at' ? 'publishAt' : key;
}

/**
 * Where YAML nesting first goes deeper than `limit` (1-based line within `source`, column),
 * counting flow brackets outside quotes and comments, block indentation levels and `- `
 * entries that open on one line. A linear scan that errs on the side of the yaml package.
 */
function findExcessiveNesting(source: string, limit: number): { line: number; column: number } | undefined {
  const indents: number[] = [];
  let flow = 0; // open flow brackets, which may span lines
  const lines = source.split('\n');
  for (let index = 0; index < lines.length; index++) {
    const text = lines[index] ?? '';
    let at = 0;
    while (text[at] === ' ') at++;
    if (at === text.length || text[at] === '#') continue;
    while (indents.length > 0 && (indents.at(-1) ?? 0) >= at) indents.pop();
    indents.push(at);
    let depth = indents.length + flow;
    while (text[at] === '-' && (text[at + 1] === ' ' || text[at + 1] === undefined)) {
      depth += 1;
      at += 2;
      while (text[at] === ' ') at++;
    }
    if (depth > limit) return { line: index + 1, column: at + 1 };
    let quote: string | undefined;
    for (let col = at; col < text.length; col++) {
      const ch = text[col];
      if (quote !== undefined) {
        if (ch === '\\' && quote === '"') col++;
        else if (ch === quote) quote = undefined;
      } else if (ch === '"' || ch === "'") {
        quote = ch;
      } else if (ch === '#' && (col === 0 || text[col - 1] === ' ')) {
        break;
      } else if (ch === '[' || ch === '{') {
        flow += 1;
        if (depth + 1 > limit) return { line: index + 1, column: col + 1 };
        depth += 1;
      } else if ((ch === ']' || ch === '}') && flow > 0) {
        flow -= 1;
        depth -= 1;
      }
    }
  }
  return undefined;
}

/** What a throw from the yaml package says, without its stack. */
function describeThrown(error: unknown): string {
  if (error instanceof RangeError) return 'it is nested too deeply';
  if (error instanceof ReferenceError && /alias/i.test(error.message)) return ALIAS_BOMB_ADVICE;
  return error instanceof Error ? error.message : String(error);
}

function describe(value: unknown): string {
  if (typeof value === 'string') return quoteForMessage(value);
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object' && value !== null) return 'a nested mapping';
  return String(value);
}

/** The known key an unknown one was probably meant to be (`publishAt`, `Title`, `tilte`). */
function suggestKey(name: string): string | undefined {
  const squash = (key: string) => key.toLowerCase().replace(/[-_\s]/g, '');
  return KNOWN_KEYS.find(
    (known) => squash(known) === squash(name) || (name.length > 3 && editDistance(squash(known), squash(name)) <= 2),
  );
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
