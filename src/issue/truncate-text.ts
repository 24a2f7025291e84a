const segmenter = new Intl.Segmenter('und', { granularity: 'grapheme' });

/**
 * `text` cut to at most `limit` user-perceived characters, ending in `…` when cut; it never
 * splits a surrogate pair, an emoji sequence or a base letter from its accents.
 */
export function truncateText(text: string, limit: number): string {
  const graphemes = Array.from(segmenter.segment(text), (s) => s.segment);
  if (graphemes.length <= limit) return text;
  return `${graphemes.slice(0, limit - 1).join('').trimEnd()}…`;
}
