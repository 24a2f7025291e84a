/**
 * Timezone arithmetic on IANA names with one cached Intl formatter per zone. dayjs's
 * timezone plugin does the same work far more slowly, and builds format thousands of dates.
 */

const formatters = new Map<string, Intl.DateTimeFormat>();

/** Offset of `timezone` from UTC at instant `utcMs`, in minutes (one cached formatter per zone). */
export function offsetMinutesAt(utcMs: number, timezone: string): number {
  let formatter = formatters.get(timezone);
  if (formatter === undefined) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timezone, formatter);
  }
  const field: Record<string, number> = {};
  for (const part of formatter.formatToParts(utcMs)) field[part.type] = Number(part.value);
  const localAsUtc = Date.UTC(field.year!, field.month! - 1, field.day!, field.hour!, field.minute!, field.second!);
  return Math.round((localAsUtc - Math.floor(utcMs / 1000) * 1000) / 60_000);
}

const pad = (n: number) => String(n).padStart(2, '0');

/**
 * The instant a wall-clock time (given as if it were UTC) names in `timezone`, formatted
 * `YYYY-MM-DDTHH:mm:ss±HH:MM`. A time in a DST gap moves forward by the gap (02:30 on a
 * spring-forward night becomes 03:30); in an overlap the earlier instant wins.
 */
export function wallClockToIso(wallMs: number, timezone: string): string {
  const before = offsetMinutesAt(wallMs - 86_400_000, timezone);
  const after = offsetMinutesAt(wallMs + 86_400_000, timezone);
  const candidates = [...new Set([before, after])]
    .map((offset) => wallMs - offset * 60_000)
    .filter((instant) => wallMs - offsetMinutesAt(instant, timezone) * 60_000 === instant)
    .sort((a, b) => a - b);
  // No candidate maps back: the wall time is in a gap; the pre-transition offset moves it forward.
  const instant = candidates[0] ?? wallMs - Math.min(before, after) * 60_000;
  return instantToIso(instant, timezone);
}

/** `+08:00` / `-04:00` for an offset in minutes. */
export function formatOffset(offsetMinutes: number): string {
  const abs = Math.abs(offsetMinutes);
  return `${offsetMinutes < 0 ? '-' : '+'}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

/** An instant as `YYYY-MM-DDTHH:mm:ss±HH:MM` in `timezone`. */
export function instantToIso(instant: number, timezone: string): string {
  const offset = offsetMinutesAt(instant, timezone);
  const local = new Date(instant + offset * 60_000);
  return (
    `${local.getUTCFullYear()}-${pad(local.getUTCMonth() + 1)}-${pad(local.getUTCDate())}` +
    `T${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}:${pad(local.getUTCSeconds())}` +
    formatOffset(offset)
  );
}


/**
 * An instant (ISO string or ms) as people read it in `timezone`: `YYYY-MM-DD HH:mm`, with the
 * seconds when `seconds` is set. Human output uses this; JSON keeps UTC ISO 8601.
 */
export function formatLocalTime(instant: string | number, timezone: string, options: { seconds?: boolean } = {}): string {
  const ms = typeof instant === 'number' ? instant : Date.parse(instant);
  if (Number.isNaN(ms)) return String(instant);
  const iso = instantToIso(ms, timezone);
  return `${iso.slice(0, 10)} ${iso.slice(11, options.seconds ? 19 : 16)}`;
}
