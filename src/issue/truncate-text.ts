const segmenter = new Intl.Segmenter('und', { granularity: 'grapheme' });

/**
 * `text` cut to at most `limit` user-perceived characters, ending in `…` when cut; it never
 * splits a surrogate pair, an emoji sequence or a base letter from its accents.
 */
export function truncateText(text: string, limit: number): string {
  // Every grapheme is at least one UTF-16 unit, so short strings need no segmenting.
  if (text.length <= limit) return text;
  // Segmenting is slow, so look at a prefix first: if it holds more than `limit`
  // graphemes, the first `limit` of them are complete whatever the prefix cut off.
  const prefix = text.slice(0, limit * 4);
  return (prefix.length < text.length && cutGraphemes(prefix, limit)) || cutGraphemes(text, limit) || text;
}

/** The cut text when `text` has more than `limit` graphemes, else undefined. */
function cutGraphemes(text: string, limit: number): string | undefined {
  let count = 0;
  let keepUntil = 0;
  for (const { index, segment } of segmenter.segment(text)) {
    count += 1;
    if (count === limit) keepUntil = index;
    if (count > limit) return `${text.slice(0, keepUntil).trimEnd()}…`;
    if (count < limit) keepUntil = index + segment.length;
  }
  return undefined;
}

/** `text` in double quotes for a diagnostic, cut to 60 characters: a line of a terminal, not the whole of a huge value. */
export function quoteForMessage(text: string): string {
  return `"${truncateText(text, 60)}"`;
}
