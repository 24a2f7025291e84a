import { describe, expect, it } from 'vitest';
import {
  formatCsvRow,
  formatSubscriberCsv,
  parseSubscriberCsv,
  SUBSCRIBER_CSV_HEADER,
  toExportFields,
} from '../../src/store/subscriber-csv.ts';
import type { Subscriber } from '../../src/store/types.ts';

const FILE = 'subscribers.csv';
const parse = (text: string | Buffer) => parseSubscriberCsv(text, FILE);

function subscriber(overrides: Partial<Subscriber>): Subscriber {
  return {
    id: 1,
    email: 'ann@example.com',
    name: 'Ann Lee',
    status: 'active',
    source: 'import',
    createdAt: '2024-05-06T01:00:00.000Z',
    updatedAt: '2024-05-06T01:00:00.000Z',
    confirmedAt: '2024-05-06T01:00:00.000Z',
    unsubscribedAt: null,
    ...overrides,
  };
}

describe('parseSubscriberCsv', () => {
  it('reads email, name and status with line numbers', () => {
    const { rows, problems } = parse('email,name,status\nann@example.com,Ann Lee,active\nbob@example.com,,unsubscribed\n');
    expect(problems).toEqual([]);
    expect(rows).toEqual([
      { line: 2, email: 'ann@example.com', name: 'Ann Lee', status: 'active' },
      { line: 3, email: 'bob@example.com', name: null, status: 'unsubscribed' },
    ]);
  });

  it('needs only the email column and leaves status absent', () => {
    const { rows, problems } = parse('email\nann@example.com\n');
    expect(problems).toEqual([]);
    expect(rows).toEqual([{ line: 2, email: 'ann@example.com', name: null }]);
    expect(rows[0]).not.toHaveProperty('status');
  });

  it('matches header names case-insensitively, ignoring surrounding spaces, in any order', () => {
    const { rows, problems } = parse(' Status , NAME,Email \nActive,Ann,ann@example.com\n');
    expect(problems).toEqual([]);
    expect(rows).toEqual([{ line: 2, email: 'ann@example.com', name: 'Ann', status: 'active' }]);
  });

  it('keeps the email as written; validation belongs to the import', () => {
    const { rows } = parse('email\n  Ann@Example.COM \nnot an address\n');
    expect(rows.map((row) => row.email)).toEqual(['  Ann@Example.COM ', 'not an address']);
  });

  it('treats an empty status as absent', () => {
    const { rows } = parse('email,status\nann@example.com,\nbob@example.com,  \n');
    expect(rows).toEqual([
      { line: 2, email: 'ann@example.com', name: null },
      { line: 3, email: 'bob@example.com', name: null },
    ]);
  });

  it('reports an unknown status with its line and the allowed values', () => {
    const { rows, problems } = parse('email,status\nann@example.com,active\nbob@example.com,subscribed\n');
    expect(rows).toHaveLength(1);
    expect(problems).toEqual([
      {
        line: 3,
        value: 'bob@example.com',
        message: 'unknown status "subscribed"; use one of pending, active, unsubscribed, bounced, complained (or leave it empty)',
      },
    ]);
  });

  it('strips a UTF-8 BOM from a Buffer and from a string', () => {
    const text = '\uFEFFemail,name\nann@example.com,张伟\n';
    for (const input of [Buffer.from(text, 'utf8'), text]) {
      const { rows, problems } = parse(input);
      expect(problems).toEqual([]);
      expect(rows).toEqual([{ line: 2, email: 'ann@example.com', name: '张伟' }]);
    }
    expect(Buffer.from(text, 'utf8').subarray(0, 3)).toEqual(Buffer.from([0xef, 0xbb, 0xbf]));
  });

  it('reads CRLF files, and lone-CR files from old spreadsheet exports', () => {
    const crlf = parse('email,name\r\nann@example.com,Ann\r\nbob@example.com,Bob\r\n');
    expect(crlf.problems).toEqual([]);
    expect(crlf.rows).toEqual([
      { line: 2, email: 'ann@example.com', name: 'Ann' },
      { line: 3, email: 'bob@example.com', name: 'Bob' },
    ]);
    const cr = parse('email,name\rann@example.com,Ann\rbob@example.com,Bob');
    expect(cr.rows.map((row) => [row.line, row.name])).toEqual([
      [2, 'Ann'],
      [3, 'Bob'],
    ]);
  });

  it('reads quoted fields with commas and doubled quotes', () => {
    const { rows, problems } = parse('email,name\n"ann@example.com","Lee, Ann ""Annie"""\n');
    expect(problems).toEqual([]);
    expect(rows).toEqual([{ line: 2, email: 'ann@example.com', name: 'Lee, Ann "Annie"' }]);
  });

  it('keeps line numbers on the physical line where each record starts across quoted line breaks', () => {
    const text = [
      'email,name,status', // 1
      'ann@example.com,"Ann', // 2
      'Lee",active', // 3
      'bob@example.com,"Bob\r\n\r\nBrown",', // 4-6 (CRLF inside the quotes)
      'cat@example.com,Cat,nonsense', // 7
      '"dan@example.com', // 8
      '",Dan,', // 9
    ].join('\n');
    const { rows, problems } = parse(text);
    expect(rows).toEqual([
      { line: 2, email: 'ann@example.com', name: 'Ann\nLee', status: 'active' },
      { line: 4, email: 'bob@example.com', name: 'Bob\r\n\r\nBrown' },
      { line: 8, email: 'dan@example.com\n', name: 'Dan' },
    ]);
    expect(problems).toEqual([
      { line: 7, value: 'cat@example.com', message: expect.stringMatching(/^unknown status "nonsense"/) },
    ]);
  });

  it('counts physical lines in a CRLF file whose quoted fields hold CRLF line breaks', () => {
    const text = [
      'email,name,status', // 1
      'ann@example.com,"Ann', // 2
      '', // 3
      'Lee",active', // 4
      'bob@example.com,Bob,actve', // 5
      'cat@example.com,"Cat', // 6
      'Jones",active,extra', // 7
      'dan@example.com', // 8
    ].join('\r\n');
    const { rows, problems } = parse(`\uFEFF${text}\r\n`);
    expect(rows.map((row) => [row.line, row.email])).toEqual([
      [2, 'ann@example.com'],
      [8, 'dan@example.com'],
    ]);
    expect(problems.map((problem) => [problem.line, problem.value])).toEqual([
      [5, 'bob@example.com'],
      [6, 'cat@example.com'],
    ]);
  });

  it('skips blank lines and rows of empty fields', () => {
    const { rows, problems } = parse('\n\nemail,name\n\nann@example.com,Ann\n,\n  ,  \r\n\nbob@example.com,Bob\n\n');
    expect(problems).toEqual([]);
    expect(rows.map((row) => [row.line, row.email])).toEqual([
      [5, 'ann@example.com'],
      [9, 'bob@example.com'],
    ]);
  });

  it('reads short rows with the missing trailing fields empty', () => {
    const { rows, problems } = parse('email,name,status\nann@example.com\nbob@example.com,Bob\ncat@example.com,Cat,pending\n');
    expect(problems).toEqual([]);
    expect(rows).toEqual([
      { line: 2, email: 'ann@example.com', name: null },
      { line: 3, email: 'bob@example.com', name: 'Bob' },
      { line: 4, email: 'cat@example.com', name: 'Cat', status: 'pending' },
    ]);
  });

  it('reports a row with an extra field once, naming the columns, and keeps reading', () => {
    const { rows, problems } = parse('email,name\nann@example.com,Lee, Ann\nbob@example.com,Bob,,\ncat@example.com,Cat\n');
    expect(rows.map((row) => row.email)).toEqual(['bob@example.com', 'cat@example.com']);
    expect(problems).toEqual([
      {
        line: 2,
        value: 'ann@example.com',
        message:
          'has 3 fields, but the header has 2 columns (email, name); remove the extra field, or put a value that holds a comma in double quotes',
      },
    ]);
  });

  it('keeps stray quotes as text instead of losing the rest of the file', () => {
    const { rows, problems } = parse('email,name\nann@example.com,Ann "Annie" Lee\n"bob"@example.com,Bob\ncat@example.com,Cat\n');
    expect(problems).toEqual([]);
    // The address with quotes is kept as written; the import refuses it as an address.
    expect(rows).toEqual([
      { line: 2, email: 'ann@example.com', name: 'Ann "Annie" Lee' },
      { line: 3, email: '"bob"@example.com', name: 'Bob' },
      { line: 4, email: 'cat@example.com', name: 'Cat' },
    ]);
  });

  it('reports a quote that is never closed at the line where it opens, as one problem', () => {
    const { rows, problems } = parse('email,name\r\nann@example.com,Ann\r\nbob@example.com,"Bob\r\ncat@example.com,Cat\r\n');
    expect(rows.map((row) => row.email)).toEqual(['ann@example.com']);
    expect(problems).toEqual([
      {
        line: 3,
        message:
          'a quoted field that starts on line 3 is never closed, so the rest of the file was read as part of it; check for a missing "',
      },
    ]);
  });

  it('undoes the formula guard that the export adds', () => {
    const { rows } = parse("email,name\n'-ann@example.com,'=HYPERLINK(1)\nbob@example.com,'Bob'\n");
    expect(rows).toEqual([
      { line: 2, email: '-ann@example.com', name: '=HYPERLINK(1)' },
      { line: 3, email: 'bob@example.com', name: "'Bob'" },
    ]);
  });

  describe('file-level problems yield one problem and no rows', () => {
    it.each([
      ['', 1, 'file is empty: expected a header row such as "email,name,status"'],
      ['\n \n', 1, 'file is empty: expected a header row such as "email,name,status"'],
      [
        'ann@example.com,Ann\nbob@example.com,Bob\n',
        1,
        'the first row must be a header naming the columns (email, name, status), but it holds an address; add a header row',
      ],
      ['mail,name\nann@example.com,Ann\n', 1, 'the header has no "email" column (found: "mail", "name")'],
      [
        'email;name\nann@example.com;Ann\n',
        1,
        'the header "email;name" looks separated by semicolons; columns must be separated by commas (save as "CSV UTF-8")',
      ],
      [
        'email,phone,City\nann@example.com,1,x\n',
        1,
        'unknown columns "phone", "city"; the columns are email (required), name and status; delete the others before importing',
      ],
      ['email,name,\nann@example.com,Ann,\n', 1, 'header column 3 has no name; name it or delete the column'],
      ['email,name,Email\na,b,c\n', 1, 'the column "email" appears more than once in the header'],
      ['\n\nname,e-mail\n', 3, 'the header has no "email" column (found: "name", "e-mail")'],
      ['email,"name\n', 1, expect.stringMatching(/^header row: a quoted field that starts on line 1 is never closed/)],
    ])('%j → line %i', (text, line, message) => {
      expect(parse(text)).toEqual({ rows: [], problems: [], fileProblem: { line, message } });
    });
  });

  it('accepts the columns its own export writes, so an export can be imported again', () => {
    const exported = formatSubscriberCsv([
      subscriber({ email: 'ann@example.com', name: 'Lee, Ann', status: 'active' }),
      subscriber({ id: 2, email: '-bob@example.com', name: '=1+1', status: 'unsubscribed', source: 'form' }),
      subscriber({ id: 3, email: 'cat@bücher.example', name: null, status: 'pending' }),
    ]);
    const { rows, problems } = parse(Buffer.from(exported, 'utf8'));
    expect(problems).toEqual([]);
    expect(rows).toEqual([
      { line: 2, email: 'ann@example.com', name: 'Lee, Ann', status: 'active' },
      { line: 3, email: '-bob@example.com', name: '=1+1', status: 'unsubscribed' },
      { line: 4, email: 'cat@bücher.example', name: null, status: 'pending' },
    ]);
  });

  it('round-trips awkward values through its own export', () => {
    const names = ['Lee, Ann', 'say "hi"', 'two\nlines', 'cr\ronly', ' padded ', '=1+1', '+49 30', '-x', '@home', '\ttab', '张伟'];
    const exported = formatSubscriberCsv(
      names.map((name, index) => subscriber({ id: index + 1, email: `r${index}@example.com`, name })),
    );
    const { rows, problems } = parse(Buffer.from(`\uFEFF${exported}`, 'utf8'));
    expect(problems).toEqual([]);
    expect(rows.map((row) => row.name)).toEqual(names);
    expect(rows.map((row) => row.line)).toEqual([2, 3, 4, 6, 8, 9, 10, 11, 12, 13, 14]);
  });

  it('names the first line that is not UTF-8 in a GBK file', () => {
    // "中文" in GBK is D6 D0 CE C4, which is not UTF-8.
    const bytes = Buffer.concat([
      Buffer.from('email,name\r\nann@example.com,Ann\r\nbob@example.com,', 'utf8'),
      Buffer.from([0xd6, 0xd0, 0xce, 0xc4]),
      Buffer.from('\r\ncat@example.com,', 'utf8'),
      Buffer.from([0xd6, 0xd0]),
      Buffer.from('\r\n', 'utf8'),
    ]);
    const { rows, problems, fileProblem } = parse(bytes);
    expect(rows).toEqual([]);
    expect(problems).toEqual([]);
    expect(fileProblem?.line).toBe(3);
    expect(fileProblem?.message).toMatch(/^the file is not UTF-8: .*GBK.*"CSV UTF-8".*iconv -f GBK -t UTF-8 subscribers\.csv/);
  });

  it('counts lines in the raw bytes, quoted line breaks and lone CRs included', () => {
    const bytes = Buffer.concat([
      Buffer.from('email,name\rann@example.com,"Ann\n\nLee"\r\nbob@example.com,', 'utf8'),
      Buffer.from([0xe9]), // "é" in Latin-1
      Buffer.from('\n', 'utf8'),
    ]);
    expect(parseSubscriberCsv(bytes, 'my list.csv').fileProblem).toEqual({
      line: 5,
      message: expect.stringContaining("iconv -f GBK -t UTF-8 'my list.csv'"),
    });
  });

  it('recognises a UTF-16 file', () => {
    const bytes = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('email\nann@example.com\n', 'utf16le')]);
    expect(parse(bytes)).toEqual({
      rows: [],
      problems: [],
      fileProblem: { line: 1, message: 'the file is UTF-16 ("Unicode text"), not UTF-8; save it as "CSV UTF-8"' },
    });
  });

  it('recognises UTF-16 without a BOM by its NUL characters', () => {
    const { rows, fileProblem } = parse(Buffer.from('email\nann@example.com\n', 'utf16le'));
    expect(rows).toEqual([]);
    expect(fileProblem).toEqual({ line: 1, message: expect.stringMatching(/^contains NUL characters/) });
  });
});

describe('formatCsvRow', () => {
  it('ends each record with CRLF and leaves plain fields unquoted', () => {
    expect(formatCsvRow(['ann@example.com', 'Ann Lee', 'active'])).toBe('ann@example.com,Ann Lee,active\r\n');
    expect(formatCsvRow(['', ''])).toBe(',\r\n');
  });

  it('quotes fields with commas, quotes, line breaks and edge spaces (RFC 4180)', () => {
    expect(formatCsvRow(['Lee, Ann', 'say "hi"', 'a\nb', 'a\r\nb', ' Ann'])).toBe(
      '"Lee, Ann","say ""hi""","a\nb","a\r\nb"," Ann"\r\n',
    );
  });

  it.each([
    ['=HYPERLINK("http://x")', `"'=HYPERLINK(""http://x"")"`],
    ['+1', "'+1"],
    ['-2+3', "'-2+3"],
    ['@SUM(A1)', "'@SUM(A1)"],
    ['\tx', "'\tx"],
    ['\rx', `"'\rx"`],
  ])('guards %j against formula injection', (field, expected) => {
    expect(formatCsvRow([field])).toBe(`${expected}\r\n`);
  });

  it('leaves fields that merely contain formula characters alone', () => {
    expect(formatCsvRow(['a=b', 'x+y@example.com', "'quoted"])).toBe("a=b,x+y@example.com,'quoted\r\n");
  });
});

describe('formatSubscriberCsv', () => {
  it('writes the header and one CRLF row per subscriber', () => {
    const csv = formatSubscriberCsv([
      subscriber({}),
      subscriber({ id: 2, email: 'bob@bücher.example', name: null, status: 'bounced', source: 'form' }),
    ]);
    expect(csv).toBe(
      'email,name,status,created_at,source\r\n' +
        'ann@example.com,Ann Lee,active,2024-05-06T01:00:00.000Z,import\r\n' +
        'bob@bücher.example,,bounced,2024-05-06T01:00:00.000Z,form\r\n',
    );
  });

  it('writes only the header for no subscribers', () => {
    expect(formatSubscriberCsv([])).toBe('email,name,status,created_at,source\r\n');
  });

  it('matches a streamed export built from the header and per-subscriber fields', () => {
    const list = [subscriber({ name: '=evil()' }), subscriber({ id: 2, email: 'b@example.com' })];
    const streamed = formatCsvRow(SUBSCRIBER_CSV_HEADER) + list.map((s) => formatCsvRow(toExportFields(s))).join('');
    expect(streamed).toBe(formatSubscriberCsv(list));
    expect(streamed).toContain(",'=evil(),");
  });

  it('accepts any iterable, such as a generator', () => {
    function* generate() {
      yield subscriber({});
    }
    expect(formatSubscriberCsv(generate()).split('\r\n')).toHaveLength(3);
  });
});
