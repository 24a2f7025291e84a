import type { Subscriber, SubscriberStatus } from './types.ts';

/**
 * Subscriber lists as CSV (RFC 4180), the format every mailing tool and spreadsheet speaks.
 *
 * Reading: a header row names the columns, case-insensitively: `email` (required), `name` and
 * `status`. `created_at` and `source`, which the export writes, are accepted and ignored (the
 * store sets both), so an export can be imported again. Any other column is an error naming it
 * rather than a warning: a column the operator expected to import (`first_name`, `tags`) must
 * not vanish silently. A file-level problem (encoding, header) yields no rows; a bad data line
 * yields a problem for that line and the other lines still parse. Callers decide whether to
 * import the good rows; the CLI shows every problem.
 *
 * Writing: fields that start with `=`, `+`, `-`, `@`, TAB or CR get a leading `'`, because
 * spreadsheets run such cells as formulas and an address or a name typed into the public
 * subscribe form is attacker-controlled. Reading undoes exactly that prefix (a `'` followed by
 * one of those characters), so export → import round-trips; the cost is that a value that
 * really starts with such a pair loses its `'`, which no real address or name does.
 */

export interface CsvRow {
  /** Physical line (1-based) where the record starts, for messages. */
  line: number;
  /** The address as written; `normalizeEmail` validates it during import. */
  email: string;
  /** The name as written, or null when the column is missing or the field empty. */
  name: string | null;
  /** Absent when the file has no `status` column or the field is empty. */
  status?: SubscriberStatus;
}

export interface CsvProblem {
  line: number;
  message: string;
}

const STATUSES: readonly SubscriberStatus[] = ['pending', 'active', 'unsubscribed', 'bounced', 'complained'];
const READ_COLUMNS = ['email', 'name', 'status'] as const;
/** Written by `formatSubscriberCsv`; accepted on import and ignored. */
const IGNORED_COLUMNS = ['created_at', 'source'] as const;
const EXPORT_HEADER = ['email', 'name', 'status', 'created_at', 'source'];

const FORMULA_START = /^[=+\-@\t\r]/;
const GUARDED_START = /^'[=+\-@\t\r]/;

/**
 * Reads a subscriber CSV into rows and problems with line numbers, so an operator can fix a
 * file from a spreadsheet (BOM, CRLF, quoted line breaks, a wrong encoding) without guessing.
 */
export function parseSubscriberCsv(text: string | Buffer, file: string): { rows: CsvRow[]; problems: CsvProblem[] } {
  const decoded = typeof text === 'string' ? { text: text.replace(/^\uFEFF/, '') } : decodeCsvBytes(text, file);
  if ('problem' in decoded) return { rows: [], problems: [decoded.problem] };

  const nul = decoded.text.indexOf('\u0000');
  if (nul >= 0) {
    return {
      rows: [],
      problems: [
        {
          line: lineOfIndex(decoded.text, nul),
          message:
            'contains NUL characters: this looks like a UTF-16 ("Unicode text") or binary file; ' +
            'save it as "CSV UTF-8"',
        },
      ],
    };
  }

  const records = splitCsvRecords(decoded.text).filter((record) => record.error || !isBlank(record.fields));
  const headerRecord = records[0];
  if (!headerRecord) {
    return {
      rows: [],
      problems: [{ line: 1, message: 'file is empty: expected a header row such as "email,name,status"' }],
    };
  }
  const header = readHeader(headerRecord);
  if ('problem' in header) return { rows: [], problems: [header.problem] };

  const rows: CsvRow[] = [];
  const problems: CsvProblem[] = [];
  for (const record of records.slice(1)) {
    const { line, fields } = record;
    if (record.error) {
      problems.push({ line, message: record.error });
      continue;
    }
    if (fields.length !== header.width) {
      problems.push({
        line,
        message: `has ${plural(fields.length, 'field')}, but the header has ${plural(header.width, 'column')}`,
      });
      continue;
    }
    const field = (index: number) => (index < 0 ? '' : unguardFormula(fields[index] ?? ''));
    const rawStatus = field(header.status).trim().toLowerCase();
    if (rawStatus !== '' && !STATUSES.includes(rawStatus as SubscriberStatus)) {
      problems.push({
        line,
        message: `unknown status "${field(header.status).trim()}"; use one of ${STATUSES.join(', ')} (or leave it empty)`,
      });
      continue;
    }
    const name = field(header.name);
    rows.push({
      line,
      email: field(header.email),
      name: name.trim() === '' ? null : name,
      ...(rawStatus === '' ? {} : { status: rawStatus as SubscriberStatus }),
    });
  }
  return { rows, problems };
}

/** Writes a whole subscriber export (header included) for lists small enough to hold in memory. */
export function formatSubscriberCsv(subscribers: Iterable<Subscriber>): string {
  let out = formatCsvRow(EXPORT_HEADER);
  for (const subscriber of subscribers) out += formatCsvRow(toExportFields(subscriber));
  return out;
}

/** The export's header fields, for callers that stream pages of subscribers through `formatCsvRow`. */
export const SUBSCRIBER_CSV_HEADER: readonly string[] = EXPORT_HEADER;

/** The export fields of one subscriber, in header order, for streaming exports. */
export function toExportFields(subscriber: Subscriber): string[] {
  return [subscriber.email, subscriber.name ?? '', subscriber.status, subscriber.createdAt, subscriber.source];
}

/**
 * One CSV record ending in CRLF, so an export of a million subscribers can be written page by
 * page; every field gets the formula guard described at the top of this file.
 */
export function formatCsvRow(fields: readonly string[]): string {
  return `${fields.map(formatCsvField).join(',')}\r\n`;
}

function formatCsvField(value: string): string {
  const guarded = FORMULA_START.test(value) ? `'${value}` : value;
  // Quoting leading or trailing spaces keeps readers that trim unquoted fields from losing them.
  return /[",\r\n]|^\s|\s$/.test(guarded) ? `"${guarded.replace(/"/g, '""')}"` : guarded;
}

function unguardFormula(value: string): string {
  return GUARDED_START.test(value) ? value.slice(1) : value;
}

interface CsvRecord {
  line: number;
  fields: string[];
  error?: string;
}

/**
 * Splits RFC 4180 text into records. Line breaks are CRLF, LF or a lone CR (old Mac exports);
 * inside quotes they belong to the field, and `line` stays the physical line where the record
 * starts. A malformed record keeps its first error and parsing goes on at the next record.
 */
function splitCsvRecords(text: string): CsvRecord[] {
  const records: CsvRecord[] = [];
  const length = text.length;
  let i = 0;
  let line = 1;
  while (i < length) {
    const record: CsvRecord = { line, fields: [] };
    const fail = (message: string) => {
      record.error ??= message;
    };
    for (;;) {
      let value: string;
      if (text[i] === '"') {
        const chunks: string[] = [];
        let start = i + 1;
        let closed = false;
        i = start;
        while (i < length) {
          const character = text[i];
          if (character === '"') {
            chunks.push(text.slice(start, i));
            if (text[i + 1] === '"') {
              chunks.push('"');
              i += 2;
              start = i;
              continue;
            }
            i += 1;
            closed = true;
            break;
          }
          if (character === '\n' || (character === '\r' && text[i + 1] !== '\n')) line += 1;
          i += 1;
        }
        if (!closed) {
          chunks.push(text.slice(start, i));
          fail(`a quoted field that starts on line ${record.line} is never closed; check for a missing "`);
        }
        value = chunks.join('');
        const stop = findFieldEnd(text, i);
        if (stop > i) {
          fail('has text after the closing quote of a field; put the whole field in quotes and double any " inside it');
          i = stop;
        }
      } else {
        const stop = findFieldEnd(text, i);
        value = text.slice(i, stop);
        if (value.includes('"')) {
          fail('has a " inside an unquoted field; put the whole field in quotes and double the " inside it');
        }
        i = stop;
      }
      record.fields.push(value);
      if (text[i] === ',') {
        i += 1;
        continue;
      }
      if (text[i] === '\r') i += text[i + 1] === '\n' ? 2 : 1;
      else if (text[i] === '\n') i += 1;
      line += 1;
      break;
    }
    records.push(record);
  }
  return records;
}

/** Index of the comma or line break (or the end) that ends an unquoted field starting at `from`. */
function findFieldEnd(text: string, from: number): number {
  let i = from;
  while (i < text.length) {
    const character = text[i];
    if (character === ',' || character === '\n' || character === '\r') break;
    i += 1;
  }
  return i;
}

function isBlank(fields: readonly string[]): boolean {
  return fields.every((field) => field.trim() === '');
}

type Header = { width: number; email: number; name: number; status: number } | { problem: CsvProblem };

/** Column positions from the header record, or the one problem that makes the file unreadable. */
function readHeader(record: CsvRecord): Header {
  const problem = (message: string): Header => ({ problem: { line: record.line, message } });
  if (record.error) return problem(`header row ${record.error}`);
  const names = record.fields.map((field) => field.trim().toLowerCase());

  if (!names.includes('email')) {
    if (names.some((name) => name.includes('@'))) {
      return problem(
        'the first row must be a header naming the columns (email, name, status), but it holds an address; ' +
          'add a header row',
      );
    }
    const joined = record.fields.join(',');
    if (joined.includes(';') || joined.includes('\t')) {
      return problem(
        `the header "${joined}" looks separated by ${joined.includes(';') ? 'semicolons' : 'tabs'}; ` +
          'columns must be separated by commas (save as "CSV UTF-8")',
      );
    }
    return problem(`the header has no "email" column (found: ${names.map((name) => `"${name}"`).join(', ')})`);
  }

  const known: readonly string[] = [...READ_COLUMNS, ...IGNORED_COLUMNS];
  const unnamed = names.flatMap((name, index) => (name === '' ? [index + 1] : []));
  if (unnamed.length > 0) {
    return problem(`header column ${unnamed.join(', ')} has no name; name it or delete the column`);
  }
  const unknown = names.filter((name) => !known.includes(name));
  if (unknown.length > 0) {
    return problem(
      `unknown column${unknown.length === 1 ? '' : 's'} ${unknown.map((name) => `"${name}"`).join(', ')}; ` +
        'the columns are email (required), name and status; delete the others before importing',
    );
  }
  const repeated = names.filter((name, index) => names.indexOf(name) !== index);
  if (repeated.length > 0) {
    return problem(`the column "${repeated[0]}" appears more than once in the header`);
  }
  return {
    width: names.length,
    email: names.indexOf('email'),
    name: names.indexOf('name'),
    status: names.indexOf('status'),
  };
}

/**
 * UTF-8 text without its BOM, or one problem at the first line that is not UTF-8, with a hint
 * at the usual culprits (UTF-16 "Unicode text", GBK and Latin-1 spreadsheet exports).
 */
function decodeCsvBytes(bytes: Uint8Array, file: string): { text: string } | { problem: CsvProblem } {
  try {
    // ignoreBOM: false (the default) strips a leading UTF-8 BOM.
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(bytes) };
  } catch {
    if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) {
      return {
        problem: {
          line: 1,
          message: 'the file is UTF-16 ("Unicode text"), not UTF-8; save it as "CSV UTF-8"',
        },
      };
    }
    return {
      problem: {
        line: firstLineNotUtf8(bytes),
        message:
          'the file is not UTF-8: this line holds bytes that are not UTF-8 text (probably GBK, Latin-1 or ' +
          'another legacy encoding); save it as "CSV UTF-8" or convert it, e.g. ' +
          `\`iconv -f GBK -t UTF-8 ${quoteForShell(file)} > subscribers-utf8.csv\``,
      },
    };
  }
}

/**
 * The 1-based physical line of the first invalid UTF-8 sequence. CR and LF bytes never occur
 * inside a multi-byte UTF-8 sequence, so each line can be decoded on its own.
 */
function firstLineNotUtf8(bytes: Uint8Array): number {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let line = 1;
  let start = 0;
  for (let i = 0; i <= bytes.length; i++) {
    const byte = bytes[i];
    if (i < bytes.length && byte !== 0x0a && byte !== 0x0d) continue;
    try {
      decoder.decode(bytes.subarray(start, i));
    } catch {
      return line;
    }
    if (byte === 0x0d && bytes[i + 1] === 0x0a) i += 1;
    start = i + 1;
    line += 1;
  }
  return 1;
}

function lineOfIndex(text: string, index: number): number {
  const before = text.slice(0, index);
  return (before.match(/\r\n|\r|\n/g)?.length ?? 0) + 1;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

function quoteForShell(file: string): string {
  return /^[\w./-]+$/.test(file) ? file : `'${file.replace(/'/g, `'\\''`)}'`;
}
