import { describe, expect, it } from 'vitest';
import { parseFrontMatterDate } from '../../src/issue/parse-front-matter-date.ts';

describe('parseFrontMatterDate', () => {
  it.each([
    ['2024-05-06', 'Asia/Shanghai', '2024-05-06T00:00:00+08:00'],
    ['2024-05-06', 'UTC', '2024-05-06T00:00:00+00:00'],
    ['2024-05-06', 'America/New_York', '2024-05-06T00:00:00-04:00'],
    ['2024-01-06', 'America/New_York', '2024-01-06T00:00:00-05:00'],
    ['2024-05-06 09:30', 'Asia/Shanghai', '2024-05-06T09:30:00+08:00'],
    ['2024-05-06T09:30:15', 'Europe/Berlin', '2024-05-06T09:30:15+02:00'],
    ['2024-05-06T09:00+08:00', 'UTC', '2024-05-06T09:00:00+08:00'],
    ['2024-05-06T09:00:00Z', 'Asia/Shanghai', '2024-05-06T09:00:00+00:00'],
    ['2024-05-06T09:00-0330', 'UTC', '2024-05-06T09:00:00-03:30'],
    ['2024-05-06 09:00 +08', 'UTC', '2024-05-06T09:00:00+08:00'],
    ['2024-02-29', 'UTC', '2024-02-29T00:00:00+00:00'],
    ['1900-01-01', 'UTC', '1900-01-01T00:00:00+00:00'],
  ])('%s in %s → %s', (value, timezone, iso) => {
    expect(parseFrontMatterDate(value, timezone)).toEqual({ iso });
  });

  it.each([
    ['tomorrow', 'is not a date'],
    ['2024/05/06', 'is not a date'],
    ['2024-5-6', 'is not a date'],
    ['2023-02-29', 'is not a calendar date'],
    ['2024-13-01', 'is not a calendar date'],
    ['0001-01-01', 'is out of range: the year 0001 is before 1900'],
    ['0099-02-29', 'is out of range'],
    ['1899-12-31', 'is out of range'],
    ['2024-05-06 24:00', 'impossible time'],
    ['2024-05-06T09:00+15:00', 'impossible UTC offset'],
  ])('rejects %s', (value, problem) => {
    expect(parseFrontMatterDate(value, 'UTC').problem).toContain(problem);
  });

  it('throws on a timezone that is not IANA (a config bug, not the file’s)', () => {
    expect(() => parseFrontMatterDate('2024-05-06', 'Mars/Olympus')).toThrow(/IANA/);
  });
});

describe('parseFrontMatterDate across DST transitions', () => {
  it('moves a wall time in a spring-forward gap forward, and takes the earlier instant in an overlap', () => {
    expect(parseFrontMatterDate('2024-03-10 02:30', 'America/New_York').iso).toBe('2024-03-10T03:30:00-04:00');
    expect(parseFrontMatterDate('2024-11-03 01:30', 'America/New_York').iso).toBe('2024-11-03T01:30:00-04:00');
    expect(parseFrontMatterDate('2024-11-03 03:00', 'America/New_York').iso).toBe('2024-11-03T03:00:00-05:00');
    expect(parseFrontMatterDate('2024-03-31 02:15', 'Europe/Berlin').iso).toBe('2024-03-31T03:15:00+02:00');
    expect(parseFrontMatterDate('2024-05-06', 'Asia/Kolkata').iso).toBe('2024-05-06T00:00:00+05:30');
    expect(parseFrontMatterDate('2024-05-06 09:00', 'Asia/Shanghai').iso).toBe('2024-05-06T09:00:00+08:00');
  });
});
