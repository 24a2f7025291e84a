/** What ordering an issue needs: its shown date (front matter only), title year and number. */
export interface OrderFacts {
  slug: string;
  number?: number;
  /** The year the title announces. */
  year?: number;
  /** Front matter `date` (ISO 8601 with offset); absent when the file gives none. */
  date?: string;
  /** The stable publication instant (front matter `date`, else first seen). */
  published?: string;
}

/**
 * Newest first, by the rule the README documents ("Importing a back catalogue"):
 * - issues with a front-matter `date` are ordered by it (then number, then slug);
 * - undated issues whose title carries a year are ordered by that year, then their number —
 *   never by a first-seen or commit date, which for a back catalogue is the import day;
 * - undated issues without a year in the title fall back to their first-seen date;
 * - a dated issue meets an undated one by year (the title's, else its date's), then number;
 *   on a tie the dated one comes first.
 * The two lists are each sorted and then merged, so the result is one consistent order even
 * when an editor's dates contradict the numbers (`check` warns about that).
 */
export function sortNewestFirst<T extends OrderFacts>(entries: readonly T[]): T[] {
  const byTitle = entries.filter((entry) => entry.date === undefined && entry.year !== undefined);
  const byDate = entries.filter((entry) => !(entry.date === undefined && entry.year !== undefined));
  byTitle.sort((a, b) => descending(a.year, b.year) || descending(a.number, b.number) || bySlug(a, b));
  byDate.sort(
    (a, b) => descending(instantOf(a), instantOf(b)) || descending(a.number, b.number) || bySlug(a, b),
  );
  const merged: T[] = [];
  let d = 0;
  let t = 0;
  while (d < byDate.length && t < byTitle.length) {
    const dated = byDate[d]!;
    const titled = byTitle[t]!;
    const order = descending(yearOf(dated), titled.year) || descending(dated.number, titled.number);
    if (order <= 0) {
      merged.push(dated);
      d += 1;
    } else {
      merged.push(titled);
      t += 1;
    }
  }
  return [...merged, ...byDate.slice(d), ...byTitle.slice(t)];
}

/** Larger first; a missing value sorts after any present one, two missing ones tie. */
function descending(a: number | undefined, b: number | undefined): number {
  if (a === undefined || Number.isNaN(a)) return b === undefined || Number.isNaN(b) ? 0 : 1;
  if (b === undefined || Number.isNaN(b)) return -1;
  return b - a;
}

function bySlug(a: OrderFacts, b: OrderFacts): number {
  return a.slug < b.slug ? 1 : a.slug > b.slug ? -1 : 0;
}

function instantOf(entry: OrderFacts): number | undefined {
  const iso = entry.date ?? entry.published;
  return iso === undefined ? undefined : Date.parse(iso);
}

/** The title's year, else the year its date was written in (the wall-clock year, offset kept). */
function yearOf(entry: OrderFacts): number | undefined {
  if (entry.year !== undefined) return entry.year;
  const iso = entry.date ?? entry.published;
  return iso === undefined ? undefined : Number(iso.slice(0, 4));
}
