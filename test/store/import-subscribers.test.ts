import { describe, expect, it } from 'vitest';
import { formatImportReport, importSubscribers, type ImportReport } from '../../src/store/import-subscribers.ts';
import type { CsvRow } from '../../src/store/subscriber-csv.ts';
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
    expect(report).toEqual({ added: 3, updated: 0, unchanged: 0, refused: [], invalid: [] });
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
      { line: 2, value: 'bad@@x', reason: 'has more than one @' },
      { line: 3, value: 'a@b.c\r\nBcc: x@y.z', reason: 'contains a line break' },
      { line: 4, value: '用户@例子.测试', reason: expect.stringMatching(/^local part contains non-ASCII/) },
      { line: 6, value: '', reason: 'is empty' },
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
      { line: 5, value: 'bad@', reason: 'domain (after the @) is empty' },
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

  it('lets a store failure propagate instead of counting it as a row outcome', async () => {
    const store = {
      async upsertSubscriber(): Promise<never> {
        throw new Error('disk full');
      },
    };
    await expect(importSubscribers({ ...base, store, rows: [row(2, 'a@example.com')] })).rejects.toThrow('disk full');
  });
});

describe('formatImportReport', () => {
  const empty: ImportReport = { added: 0, updated: 0, unchanged: 0, refused: [], invalid: [] };

  it('starts with the summary line', () => {
    expect(formatImportReport({ ...empty, added: 3, updated: 2, unchanged: 1 })).toEqual([
      '3 added, 2 updated, 1 unchanged, 0 refused, 0 invalid',
    ]);
  });

  it('lists refused and invalid rows together in line order', () => {
    const lines = formatImportReport({
      ...empty,
      added: 1,
      refused: [{ line: 5, email: 'd@example.com', reason: 'unsubscribed on 2024-05-01' }],
      invalid: [
        { line: 7, value: 'bad@@x', reason: 'has more than one @' },
        { line: 3, value: 'a@example.com', reason: 'duplicate of line 2' },
      ],
    });
    expect(lines).toEqual([
      '1 added, 0 updated, 0 unchanged, 1 refused, 2 invalid',
      'line 3: a@example.com: duplicate of line 2',
      'line 5: d@example.com: unsubscribed on 2024-05-01',
      'line 7: bad@@x: has more than one @',
    ]);
  });

  it('escapes line breaks and terminal escapes in values and shows an empty value', () => {
    const lines = formatImportReport({
      ...empty,
      invalid: [
        { line: 2, value: 'a@b.c\r\nBcc: x@y.z', reason: 'contains a line break' },
        { line: 3, value: '\u001b[2Jx@y.z', reason: 'contains a control character (U+001B)' },
        { line: 4, value: '', reason: 'is empty' },
      ],
    });
    expect(lines.slice(1)).toEqual([
      'line 2: a@b.c\\r\\nBcc: x@y.z: contains a line break',
      'line 3: \\u001b[2Jx@y.z: contains a control character (U+001B)',
      'line 4: (empty): is empty',
    ]);
    expect(lines.join('')).not.toMatch(/[\r\n\u001b]/);
  });

  it('shortens very long values', () => {
    const [, line] = formatImportReport({ ...empty, invalid: [{ line: 2, value: 'x'.repeat(500), reason: 'has no @' }] });
    expect(line).toBe(`line 2: ${'x'.repeat(79)}…: has no @`);
  });

  it('caps the detail lines at 50 and says how many more there are', () => {
    const invalid = Array.from({ length: 120 }, (_, index) => ({ line: index + 2, value: `v${index}`, reason: 'has no @' }));
    const lines = formatImportReport({ ...empty, invalid });
    expect(lines).toHaveLength(52);
    expect(lines[0]).toBe('0 added, 0 updated, 0 unchanged, 0 refused, 120 invalid');
    expect(lines[50]).toBe('line 51: v49: has no @');
    expect(lines[51]).toBe('… and 70 more');
    expect(formatImportReport({ ...empty, invalid }, { maxLines: 5 })).toHaveLength(7);
  });

  it('adds no "more" line when the details fit exactly', () => {
    const invalid = Array.from({ length: 50 }, (_, index) => ({ line: index + 2, value: 'v', reason: 'has no @' }));
    expect(formatImportReport({ ...empty, invalid })).toHaveLength(51);
  });
});
