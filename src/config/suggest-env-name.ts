/**
 * Edit distance with adjacent transpositions (optimal string alignment, a restricted
 * Damerau-Levenshtein): `TITEL` → `TITLE` is one edit, the typo people make most.
 */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i < rows; i += 1) {
    for (let j = 1; j < cols; j += 1) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

const PREFIX = 'LETTERPRESS_';

/**
 * The known variable closest to `name` (case aside), or undefined when none is close enough
 * to be a likely typo: at most a third of the name's length in edits (at least 2), so
 * `LETTERPRESS_SMTP_PASSWORD` finds `LETTERPRESS_SMTP_PASS` but `LETTERPRESS_FOO` finds nothing.
 * The shared `LETTERPRESS_` prefix is left out of the count. Ties go to the earlier known name.
 */
export function suggestEnvName(name: string, known: readonly string[]): string | undefined {
  const strip = (value: string) => (value.toUpperCase().startsWith(PREFIX) ? value.slice(PREFIX.length) : value).toUpperCase();
  const wanted = strip(name);
  const limit = Math.max(2, Math.floor(wanted.length / 3));
  let best: { name: string; distance: number } | undefined;
  for (const candidate of known) {
    const distance = editDistance(wanted, strip(candidate));
    if (distance <= limit && (best === undefined || distance < best.distance)) best = { name: candidate, distance };
  }
  return best?.name;
}
