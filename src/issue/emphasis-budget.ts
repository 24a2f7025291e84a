import type { Token } from '../vendor/markdown-it.ts';

/**
 * More `*` and `_` than this in one paragraph (or one line) and its emphasis is not parsed.
 * markdown-it's emphasis handling is linear, but each delimiter becomes a token of its own and
 * goes through pairing: a paragraph made of `*a_` repeated costs several times what prose
 * does per byte. No paragraph an editor writes comes near this many markers.
 */
export const EMPHASIS_DELIMITER_LIMIT = 1000;

/** True when `text` holds more emphasis markers than the limit; stops counting there. */
export function exceedsEmphasisBudget(text: string): boolean {
  let count = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    // `*` and `_`
    if ((code === 0x2a || code === 0x5f) && ++count > EMPHASIS_DELIMITER_LIMIT) return true;
  }
  return false;
}

/** True for an inline token that `budgetInline` (inline-budget.ts) parsed without emphasis. */
export function isEmphasisOff(token: Token | undefined): boolean {
  return (token?.meta as { emphasisOff?: boolean } | null | undefined)?.emphasisOff === true;
}

/** Emphasis markers removed from text, for plain-text outputs of a paragraph parsed without emphasis. */
export function stripEmphasisMarkers(text: string): string {
  return text.replace(/[*_]+/g, '');
}
