import { describe, expect, it } from 'vitest';
import { formatImportProblems, formatImportSummary, importSubscribers, type ImportReport } from '../../src/store/import-subscribers.ts';
import type { CsvProblem, CsvRow } from '../../src/store/subscriber-csv.ts';
import type { SubscriberStore, UpsertOutcome } from '../../src/store/types.ts';

type UpsertInput = Parameters<SubscriberStore['upsertSubscriber']>[0];

/**
 * A recording stand-in for the store: the import is orchestration, and what it must get right
 * is which calls it makes, in which order, and how it counts the answers.
 */
function recordingStore(answer: (input: UpsertInput) => { outcome: UpsertOutcome; reason?: string } = () => ({ outcome: 'added' })) {
  const calls: UpsertInput[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  return {
    calls,
    get maxInFlight() {
      return maxInFlight;
    },
    async upsertSubscriber(input: UpsertInput) {
      calls.push(input);
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((resolve) => setTimeout(resolve, 0));
      inFlight -= 1;
      return answer(input);
    },
  };
}

const row = (line: number, email: string, extra: Partial<CsvRow> = {}): CsvRow => ({ line, email, name: null, ...extra });
const base = { defaultStatus: 'active' as const, resubscribe: false, source: 'import' as const };

describe('importSubscribers', () => {
  it('upserts normalized addresses in file order, one at a time', async () => {
    const store = recordingStore();
    const report = await importSubscribers({
      ...base,
      store,
      rows: [row(2, ' Ann@Example.COM '), row(3, 'bob@Bücher.Example'), row(4, 'cat@example.org')],
    });
    expect(store.calls.map((call) => call.email)).toEqual(['Ann@example.com', 'bob@bücher.example', 'cat@example.org']);
    expect(store.maxInFlight).toBe(1);
    expect(report).toEqual({ rows: 3, dryRun: false, added: 3, updated: 0, unchanged: 0, refused: [], invalid: [] });
  });

  it('uses defaultStatus for rows without one and keeps a row status', async () => {
    const store = recordingStore();
    await importSubscribers({
      ...base,
      defaultStatus: 'pending',
      store,
      rows: [row(2, 'ann@example.com'), row(3, 'bob@example.com', { status: 'unsubscribed' })],
    });
    expect(store.calls.map((call) => call.status)).toEqual(['pending', 'unsubscribed']);
  });

  it('passes source and resubscribe through', async () => {
    const store = recordingStore();
    await importSubscribers({ ...base, source: 'api', resubscribe: true, store, rows: [row(2, 'ann@example.com')] });
    expect(store.calls).toEqual([{ email: 'ann@example.com', status: 'active', source: 'api', resubscribe: true }]);
  });

  it('sanitizes names and leaves an empty name out, so a stored name is never cleared', async () => {
    const store = recordingStore();
    await importSubscribers({
      ...base,
      store,
      rows: [
        row(2, 'ann@example.com', { name: '  Ann\r\nBcc: x@y.z ' }),
        row(3, 'bob@example.com', { name: ' \t ' }),
        row(4, 'cat@example.com'),
      ],
    });
    expect(store.calls[0]?.name).toBe('Ann Bcc: x@y.z');
    expect(store.calls[1]).not.toHaveProperty('name');
    expect(store.calls[2]).not.toHaveProperty('name');
  });

  it('counts each outcome and lists refused rows with the store reason', async () => {
    const outcomes: Record<string, { outcome: UpsertOutcome; reason?: string }> = {
      'a@example.com': { outcome: 'added' },
      'b@example.com': { outcome: 'updated' },
      'c@example.com': { outcome: 'unchanged' },
      'd@example.com': { outcome: 'refused', reason: 'unsubscribed on 2024-05-01; use --resubscribe' },
      'e@example.com': { outcome: 'refused' },
      'f@example.com': { outcome: 'unchanged' },
    };
    const store = recordingStore((input) => outcomes[input.email] ?? { outcome: 'added' });
    const report = await importSubscribers({
      ...base,
      store,
      rows: ['a', 'b', 'c', 'd', 'e', 'f'].map((local, index) => row(index + 2, `${local}@Example.com`)),
    });
    expect(report).toEqual({
      rows: 6,
      dryRun: false,
      added: 1,
      updated: 1,
      unchanged: 2,
      refused: [
        { line: 5, email: 'd@example.com', reason: 'unsubscribed on 2024-05-01; use --resubscribe' },
        { line: 6, email: 'e@example.com', reason: 'refused by the store' },
      ],
      invalid: [],
    });
  });

  it('reports invalid addresses with the value as written and never sends them to the store', async () => {
    const store = recordingStore();
    const report = await importSubscribers({
      ...base,
      store,
      rows: [row(2, 'bad@@x'), row(3, 'a@b.c\r\nBcc: x@y.z'), row(4, '用户@例子.测试'), row(5, 'ok@example.com'), row(6, '')],
    });
    expect(store.calls.map((call) => call.email)).toEqual(['ok@example.com']);
    expect(report.invalid).toEqual([
      { line: 2, value: 'bad@@x', reason: 'not a valid address: has more than one @' },
      { line: 3, value: 'a@b.c\r\nBcc: x@y.z', reason: 'not a valid address: contains a line break' },
      { line: 4, value: '用户@例子.测试', reason: expect.stringMatching(/^not a valid address: local part contains non-ASCII/) },
      { line: 6, value: '', reason: 'not a valid address: is empty' },
    ]);
    expect(report.added).toBe(1);
  });

  it('reports a repeated address (case-insensitive, Unicode or punycode) as a duplicate of its first line', async () => {
    const store = recordingStore();
    const report = await importSubscribers({
      ...base,
      store,
      rows: [
        row(2, 'Ann@example.com'),
        row(3, 'user@bücher.example'),
        row(4, 'ANN@EXAMPLE.COM'),
        row(5, 'bad@'),
        row(6, 'User@xn--bcher-kva.example'),
        row(7, ' ann@Example.com'),
      ],
    });
    expect(store.calls.map((call) => call.email)).toEqual(['Ann@example.com', 'user@bücher.example']);
    expect(report.invalid).toEqual([
      { line: 4, value: 'ANN@EXAMPLE.COM', reason: 'duplicate of line 2' },
      { line: 5, value: 'bad@', reason: 'not a valid address: domain (after the @) is empty' },
      { line: 6, value: 'User@xn--bcher-kva.example', reason: 'duplicate of line 3' },
      { line: 7, value: ' ann@Example.com', reason: 'duplicate of line 2' },
    ]);
  });

  it('counts a refused first occurrence and still flags the repeat as a duplicate', async () => {
    const store = recordingStore(() => ({ outcome: 'refused', reason: 'bounced' }));
    const report = await importSubscribers({ ...base, store, rows: [row(2, 'a@example.com'), row(3, 'A@example.com')] });
    expect(store.calls).toHaveLength(1);
    expect(report.refused).toEqual([{ line: 2, email: 'a@example.com', reason: 'bounced' }]);
    expect(report.invalid).toEqual([{ line: 3, value: 'A@example.com', reason: 'duplicate of line 2' }]);
  });

  it('counts rows the reader could not read as invalid, in line order, so every row is counted once', async () => {
    const store = recordingStore((input) =>
      input.email === 'cat@example.com' ? { outcome: 'refused', reason: 'unsubscribed on 2024-05-01; use --resubscribe to add it again' } : { outcome: 'added' },
    );
    const problems: CsvProblem[] = [
      { line: 4, value: 'bob@example.com', message: 'unknown status "actve"' },
      { line: 7, message: 'a quoted field that starts on line 7 is never closed' },
    ];
    const report = await importSubscribers({
      ...base,
      store,
      rows: [row(2, 'ann@example.com'), row(3, 'nope'), row(5, 'cat@example.com'), row(6, 'ann@example.com')],
      problems,
    });
    expect(report.invalid).toEqual([
      { line: 3, value: 'nope', reason: 'not a valid address: has no @' },
      { line: 4, value: 'bob@example.com', reason: 'unknown status "actve"' },
      { line: 6, value: 'ann@example.com', reason: 'duplicate of line 2' },
      { line: 7, value: null, reason: 'a quoted field that starts on line 7 is never closed' },
    ]);
    expect(report.rows).toBe(6);
    expect(report.added + report.updated + report.unchanged + report.refused.length + report.invalid.length).toBe(report.rows);
  });

  it('asks the store for a dry run when told to, and says so in the report', async () => {
    const store = recordingStore();
    const report = await importSubscribers({ ...base, dryRun: true, store, rows: [row(2, 'ann@example.com')] });
    expect(store.calls).toEqual([{ email: 'ann@example.com', status: 'active', source: 'import', resubscribe: false, dryRun: true }]);
    expect(report).toMatchObject({ dryRun: true, rows: 1, added: 1 });
  });

  it('lets a store failure propagate instead of counting it as a row outcome', async () => {
    const store = {
      async upsertSubscriber(): Promise<never> {
        throw new Error('disk full');
      },
    };
    await expect(importSubscribers({ ...base, store, rows: [row(2, 'a@example.com')] })).rejects.toThrow('disk full');
  });
});

describe('formatImportSummary', () => {
  const empty: ImportReport = { rows: 0, dryRun: false, added: 0, updated: 0, unchanged: 0, refused: [], invalid: [] };

  it('names the file and the rows read, which the counts add up to', () => {
    expect(formatImportSummary({ ...empty, rows: 6, added: 3, updated: 2, unchanged: 1 }, 'people.csv')).toEqual([
      'people.csv: 6 rows read: 3 added, 2 updated, 1 unchanged, 0 refused, 0 invalid.',
    ]);
    expect(formatImportSummary({ ...empty, rows: 1, added: 1 }, 'one.csv')[0]).toMatch(/^one\.csv: 1 row read: /);
  });

  it('says a dry run changed nothing', () => {
    expect(formatImportSummary({ ...empty, rows: 1, added: 1, dryRun: true }, 'a.csv')).toEqual([
      'a.csv: 1 row read: 1 added, 0 updated, 0 unchanged, 0 refused, 0 invalid.',
      'dry run: nothing changed.',
    ]);
  });
});

describe('formatImportProblems', () => {
  const empty: ImportReport = { rows: 0, dryRun: false, added: 0, updated: 0, unchanged: 0, refused: [], invalid: [] };

  it('lists refused and invalid rows together in line order as file:line: value: reason', () => {
    const lines = formatImportProblems(
      {
        ...empty,
        rows: 5,
        added: 1,
        refused: [{ line: 5, email: 'd@example.com', reason: 'unsubscribed on 2024-05-01' }],
        invalid: [
          { line: 3, value: 'a@example.com', reason: 'duplicate of line 2' },
          { line: 7, value: 'bad@@x', reason: 'not a valid address: has more than one @' },
          { line: 9, value: null, reason: 'a quoted field that starts on line 9 is never closed' },
        ],
      },
      'bad.csv',
    );
    expect(lines).toEqual([
      'bad.csv:3: a@example.com: duplicate of line 2',
      'bad.csv:5: d@example.com: refused: unsubscribed on 2024-05-01',
      'bad.csv:7: bad@@x: not a valid address: has more than one @',
      'bad.csv:9: a quoted field that starts on line 9 is never closed',
    ]);
  });

  it('escapes line breaks and terminal escapes in values and reasons and shows an empty value', () => {
    const lines = formatImportProblems(
      {
        ...empty,
        invalid: [
          { line: 2, value: 'a@b.c\r\nBcc: x@y.z', reason: 'not a valid address: contains a line break' },
          { line: 3, value: '\u001b[2Jx@y.z', reason: 'contains a control character (U+001B)' },
          { line: 4, value: '', reason: 'is empty' },
          { line: 5, value: 'e@example.com', reason: 'unknown status "\u001b[31mred"' },
        ],
      },
      'f.csv',
    );
    expect(lines).toEqual([
      'f.csv:2: a@b.c\\r\\nBcc: x@y.z: not a valid address: contains a line break',
      'f.csv:3: \\u001b[2Jx@y.z: contains a control character (U+001B)',
      'f.csv:4: (empty): is empty',
      'f.csv:5: e@example.com: unknown status "\\u001b[31mred"',
    ]);
    expect(lines.join('')).not.toMatch(/[\r\n\u001b]/);
  });

  it('shortens very long values', () => {
    const [line] = formatImportProblems({ ...empty, invalid: [{ line: 2, value: 'x'.repeat(500), reason: 'has no @' }] }, 'f.csv');
    expect(line).toBe(`f.csv:2: ${'x'.repeat(79)}…: has no @`);
  });

  it('caps the lines at 50 and says how many more there are', () => {
    const invalid = Array.from({ length: 120 }, (_, index) => ({ line: index + 2, value: `v${index}`, reason: 'has no @' }));
    const lines = formatImportProblems({ ...empty, invalid }, 'f.csv');
    expect(lines).toHaveLength(51);
    expect(lines[49]).toBe('f.csv:51: v49: has no @');
    expect(lines[50]).toBe('… and 70 more (--json lists them all)');
    expect(formatImportProblems({ ...empty, invalid }, 'f.csv', { maxLines: 5 })).toHaveLength(6);
  });

  it('adds no "more" line when the details fit exactly', () => {
    const invalid = Array.from({ length: 50 }, (_, index) => ({ line: index + 2, value: 'v', reason: 'has no @' }));
    expect(formatImportProblems({ ...empty, invalid }, 'f.csv')).toHaveLength(50);
  });
});
