import { dayjs, utcPlugin } from '../vendor/dayjs.ts';
import type { Locale } from '../config/schema.ts';
import { LetterpressError } from '../util/errors.ts';
import { instantToIso, offsetMinutesAt } from '../util/timezone.ts';

dayjs.extend(utcPlugin);

const DAYJS_LOCALES: Record<Locale, string> = { en: 'en', 'zh-CN': 'zh-cn' };

/** Where and how a date is shown: the site's locale and IANA timezone. */
export interface DateContext {
  locale: Locale;
  timezone: string;
}

function parseInstant(iso: string): dayjs.Dayjs {
  const parsed = dayjs(iso);
  if (typeof iso !== 'string' || iso === '' || !parsed.isValid()) {
    throw new LetterpressError('E_RENDER', `"${String(iso)}" is not an ISO 8601 date`);
  }
  return parsed;
}

/**
 * Formats an instant with a dayjs pattern in the site's timezone and locale, so an issue
 * dated 2024-05-05T16:30:00Z reads 2024年5月6日 in Asia/Shanghai whatever the machine's zone.
 */
export function formatDate(iso: string, pattern: string, context: DateContext): string {
  const instant = parseInstant(iso).valueOf();
  // Shift to the zone's wall clock and format that as UTC; `Z` patterns are not used here.
  return dayjs
    .utc(instant + offsetMinutesAt(instant, context.timezone) * 60_000)
    .locale(DAYJS_LOCALES[context.locale] ?? 'en')
    .format(pattern);
}

/** The instant as ISO 8601 with the site timezone's offset, for `<time datetime>`. */
export function formatIsoDate(iso: string, context: DateContext): string {
  return instantToIso(parseInstant(iso).valueOf(), context.timezone);
}

/** The instant as a UTC `Date`, rejecting unparsable strings with a clear error. */
export function toInstant(iso: string): Date {
  return parseInstant(iso).toDate();
}
