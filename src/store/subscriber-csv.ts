import { parse, type CsvError, type Info } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import type { Subscriber, SubscriberStatus } from './types.ts';

/**
 * Subscriber lists as CSV (RFC 4180), the format every mailing tool and spreadsheet speaks,
 * read with csv-parse and written with csv-stringify.
 *
 * Reading: a header row names the columns, case-insensitively: `email` (required), `name` and
 * `status`. `created_at` and `source`, which the export writes, are accepted and ignored (the
 * store sets both), so an export can be imported again. Any other column is an error naming it
 * rather than a warning: a column the operator expected to import (`first_name`, `tags`) must
 * not vanish silently. A file-level problem (encoding, header) yields no rows; a bad data row
 * yields one problem for that row and the other rows still parse, so every data row ends up
 * either in `rows` or in `problems`, exactly once. Rows may stop early (an email-only row
 * without trailing commas): missing fields are empty. Lines are physical lines of the file
 * (header = 1), counted in the bytes, so quoted line breaks and CRLF count as they look.
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
  /** The row's address as written, when the row has one, so a report can show which row it is. */
  value?: string;
}

export interface SubscriberCsv {
  /** Data rows that were read. */
  rows: CsvRow[];
  /** One per data row that could not be read; each is one `invalid` row of an import. */
  problems: CsvProblem[];
  /** Set when the file as a whole cannot be read (encoding, header); rows and problems are then empty. */
  fileProblem?: CsvProblem;
}

const STATUSES: readonly SubscriberStatus[] = ['pending', 'active', 'unsubscribed', 'bounced', 'complained'];
const READ_COLUMNS = ['email', 'name', 'status'] as const;
/** Written by `formatSubscriberCsv`; accepted on import and ignored. */
const IGNORED_COLUMNS = ['created_at', 'source'] as const;
const EXPORT_HEADER = ['email', 'name', 'status', 'created_at', 'source'];

const FORMULA_START = /^[=+\-@\t\r]/;
const GUARDED_START = /^'[=+\-@\t\r]/;

const LF = 0x0a;
const CR = 0x0d;

interface CsvRecord {
  line: number;
  fields: string[];
  error?: string;
}

/**
 * Reads a subscriber CSV into rows and problems with line numbers, so an operator can fix a
 * file from a spreadsheet (BOM, CRLF, quoted line breaks, a wrong encoding) without guessing.
 */
export function parseSubscriberCsv(input: string | Uint8Array, file: string): SubscriberCsv {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  const fileProblem = (problem: CsvProblem): SubscriberCsv => ({ rows: [], problems: [], fileProblem: problem });

  const encodingProblem = checkUtf8(bytes, file);
  if (encodingProblem) return fileProblem(encodingProblem);
  const nul = bytes.indexOf(0);
  if (nul >= 0) {
    return fileProblem({
      line: lineAt(bytes, nul),
      message:
        'contains NUL characters: this looks like a UTF-16 ("Unicode text") or binary file; save it as "CSV UTF-8"',
    });
  }

  const records = readCsvRecords(bytes).filter((record) => record.error !== undefined || !isBlank(record.fields));
  const headerRecord = records[0];
  if (!headerRecord) {
    return fileProblem({ line: 1, message: 'file is empty: expected a header row such as "email,name,status"' });
  }
  const header = readHeader(headerRecord);
  if ('problem' in header) return fileProblem(header.problem);

  const rows: CsvRow[] = [];
  const problems: CsvProblem[] = [];
  for (const record of records.slice(1)) {
    const result = readRow(record, header);
    if ('message' in result) problems.push(result);
    else rows.push(result);
  }
  return { rows, problems };
}

/** One data record as a row, or the one problem that keeps it out of the import. */
function readRow(record: CsvRecord, header: Exclude<Header, { problem: CsvProblem }>): CsvRow | CsvProblem {
  const { line, fields } = record;
  const field = (index: number) => (index < 0 ? '' : unguardFormula(fields[index] ?? ''));
  const email = field(header.email);
  const problem = (message: string): CsvProblem => ({ line, message, ...(email.trim() === '' ? {} : { value: email }) });
  if (record.error !== undefined) return { line, message: record.error };

  // Missing trailing fields are empty; extra fields are an error unless they are empty too
  // (spreadsheets pad rows with commas), since a value there belongs to no column.
  const extra = fields.slice(header.names.length);
  if (extra.some((value) => value.trim() !== '')) {
    return problem(
      `has ${plural(fields.length, 'field')}, but the header has ${plural(header.names.length, 'column')} ` +
        `(${header.names.join(', ')}); remove the extra field, or put a value that holds a comma in double quotes`,
    );
  }
  const rawStatus = field(header.status).trim();
  const status = rawStatus.toLowerCase();
  if (status !== '' && !STATUSES.includes(status as SubscriberStatus)) {
    return problem(`unknown status "${rawStatus}"; use one of ${STATUSES.join(', ')} (or leave it empty)`);
  }
  const name = field(header.name);
  return {
    line,
    email,
    name: name.trim() === '' ? null : name,
    ...(status === '' ? {} : { status: status as SubscriberStatus }),
  };
}

/**
 * Splits the file into records with csv-parse, each with the physical line where it starts.
 * csv-parse's own `info.lines` miscounts CRLF inside quoted fields, so lines are counted here
 * from the byte offsets it reports (`info.bytes`, where each record ends). Relaxed quotes and
 * column counts leave only one error it can raise: a quote never closed, which runs to the end
 * of the file.
 */
function readCsvRecords(bytes: Buffer): CsvRecord[] {
  const records: CsvRecord[] = [];
  const lines = createLineCounter(bytes);
  let recordStart = 0;
  parse(bytes, {
    bom: true,
    record_delimiter: ['\r\n', '\n', '\r'],
    relax_quotes: true,
    relax_column_count: true,
    skip_records_with_error: true,
    on_record: (fields: string[], info: Info) => {
      records.push({ line: lines.lineAt(recordStart), fields });
      recordStart = info.bytes;
      // Collected here, in file order with the skipped ones; nothing needs the returned array.
      return null;
    },
    on_skip: (error: CsvError | undefined) => {
      const line = lines.lineAt(recordStart);
      const message =
        error?.code === 'CSV_QUOTE_NOT_CLOSED'
          ? `a quoted field that starts on line ${line} is never closed, so the rest of the file was read as part of it; check for a missing "`
          : `cannot be read as CSV: ${error?.message ?? 'unknown error'}`;
      records.push({ line, fields: [], error: message });
      if (typeof error?.bytes === 'number') recordStart = error.bytes;
      return undefined;
    },
  });
  return records;
}

/**
 * Physical line numbers of byte offsets, for offsets asked in increasing order: LF, CRLF and a
 * lone CR (old Mac exports) each end a line, as they do for csv-parse with the delimiters above.
 */
function createLineCounter(bytes: Buffer): { lineAt(offset: number): number } {
  let counted = 0;
  let line = 1;
  return {
    lineAt(offset: number): number {
      for (; counted < offset && counted < bytes.length; counted += 1) {
        const byte = bytes[counted];
        if (byte === LF || (byte === CR && bytes[counted + 1] !== LF)) line += 1;
      }
      return line;
    },
  };
}

function lineAt(bytes: Buffer, offset: number): number {
  return createLineCounter(bytes).lineAt(offset);
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
  return stringify([fields.map(guardFormula)], {
    record_delimiter: 'windows',
    // csv-stringify quotes only what holds its own delimiters, so a lone LF or CR inside a
    // field would break the record; quoting edge spaces keeps readers that trim from losing them.
    quoted_match: [/[\r\n]/, /^\s/, /\s$/],
  });
}

function guardFormula(value: string): string {
  return FORMULA_START.test(value) ? `'${value}` : value;
}

function unguardFormula(value: string): string {
  return GUARDED_START.test(value) ? value.slice(1) : value;
}

function isBlank(fields: readonly string[]): boolean {
  return fields.every((field) => field.trim() === '');
}

type Header = { names: string[]; email: number; name: number; status: number } | { problem: CsvProblem };

/** Column positions from the header record, or the one problem that makes the file unreadable. */
function readHeader(record: CsvRecord): Header {
  const problem = (message: string): Header => ({ problem: { line: record.line, message } });
  if (record.error !== undefined) return problem(`header row: ${record.error}`);
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
  return { names, email: names.indexOf('email'), name: names.indexOf('name'), status: names.indexOf('status') };
}

/**
 * Checks that the bytes are UTF-8 (a BOM is fine), or names the first line that is not, with a
 * hint at the usual culprits (UTF-16 "Unicode text", GBK and Latin-1 spreadsheet exports).
 * csv-parse would decode such bytes to U+FFFD without a word.
 */
function checkUtf8(bytes: Uint8Array, file: string): CsvProblem | undefined {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return undefined;
  } catch {
    if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) {
      return { line: 1, message: 'the file is UTF-16 ("Unicode text"), not UTF-8; save it as "CSV UTF-8"' };
    }
    return {
      line: firstLineNotUtf8(bytes),
      message:
        'the file is not UTF-8: this line holds bytes that are not UTF-8 text (probably GBK, Latin-1 or ' +
        'another legacy encoding); save it as "CSV UTF-8" or convert it, e.g. ' +
        `\`iconv -f GBK -t UTF-8 ${quoteForShell(file)} > subscribers-utf8.csv\``,
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
    if (i < bytes.length && byte !== LF && byte !== CR) continue;
    try {
      decoder.decode(bytes.subarray(start, i));
    } catch {
      return line;
    }
    if (byte === CR && bytes[i + 1] === LF) i += 1;
    start = i + 1;
    line += 1;
  }
  return 1;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

function quoteForShell(file: string): string {
  return /^[\w./-]+$/.test(file) ? file : `'${file.replace(/'/g, `'\\''`)}'`;
}
