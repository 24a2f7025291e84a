import { LetterpressError } from '../util/errors.ts';
import { wallClockToIso } from '../util/timezone.ts';

// YYYY-MM-DD, optionally followed by [T ]HH:mm[:ss] and an offset (Z, +08:00, +0800, +08).
const DATE_PATTERN =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?(?:[ ]?(Z|[+-]\d{2}(?::?\d{2})?))?)?$/i;

/** The earliest year a front-matter date may have. */
export const MIN_YEAR = 1900;

/**
 * Reads a front-matter date (`2024-05-06`, `2024-05-06 09:30`, `2024-05-06T09:00+08:00`) as an
 * ISO 8601 instant with an explicit offset. Dates without an offset are wall-clock times in
 * `timezone` (IANA), never silently UTC; an explicit offset is kept as the editor wrote it.
 */
export function parseFrontMatterDate(
  value: string,
  timezone: string,
): { iso: string; problem?: undefined } | { iso?: undefined; problem: string } {
  assertTimezone(timezone);
  const match = DATE_PATTERN.exec(value.trim());
  if (!match) {
    return { problem: 'is not a date like 2024-05-06, 2024-05-06 09:30 or 2024-05-06T09:00+08:00' };
  }
  const [, year = '', month = '', day = '', hour = '00', minute = '00', second = '00', offset] = match;
  const y = Number(year);
  const m = Number(month);
  const d = Number(day);
  // Date.UTC reads years 0–99 as 1900–1999, and no newsletter predates 1900: an earlier year
  // is a typo or a placeholder (0001-01-01), not a date that does not exist.
  if (y < MIN_YEAR) {
    return { problem: `is out of range: the year ${year} is before ${MIN_YEAR} (dates from ${MIN_YEAR}-01-01 on are accepted); write the issue's real date` };
  }
  const calendar = new Date(Date.UTC(y, m - 1, d));
  if (calendar.getUTCFullYear() !== y || calendar.getUTCMonth() !== m - 1 || calendar.getUTCDate() !== d) {
    return { problem: `is not a calendar date (${year}-${month}-${day} does not exist)` };
  }
  if (Number(hour) > 23 || Number(minute) > 59 || Number(second) > 59) {
    return { problem: `has an impossible time of day (${hour}:${minute}:${second})` };
  }
  const wallClock = `${year}-${month}-${day}T${hour}:${minute}:${second}`;

  if (offset === undefined) {
    // A wall-clock time inside a DST gap moves forward to the next existing instant.
    return { iso: wallClockToIso(Date.UTC(y, m - 1, d, Number(hour), Number(minute), Number(second)), timezone) };
  }
  if (offset.toUpperCase() === 'Z') return { iso: `${wallClock}+00:00` };
  const offsetMatch = /^([+-])(\d{2}):?(\d{2})?$/.exec(offset);
  const sign = offsetMatch?.[1] ?? '+';
  const offsetHours = offsetMatch?.[2] ?? '00';
  const offsetMinutes = offsetMatch?.[3] ?? '00';
  if (Number(offsetHours) > 14 || Number(offsetMinutes) > 59) {
    return { problem: `has an impossible UTC offset (${offset})` };
  }
  return { iso: `${wallClock}${sign}${offsetHours}:${offsetMinutes}` };
}

/** A bad timezone is a configuration bug, not a problem of the issue file: fail loudly. */
const knownTimezones = new Set<string>();

function assertTimezone(timezone: string): void {
  // Checking builds an Intl formatter, which is slow; a name once valid stays valid.
  if (knownTimezones.has(timezone)) return;
  try {
    new Intl.DateTimeFormat('en', { timeZone: timezone });
  } catch (cause) {
    throw new LetterpressError('E_CONFIG', `timezone "${timezone}" is not an IANA timezone name`, { cause });
  }
  knownTimezones.add(timezone);
}
