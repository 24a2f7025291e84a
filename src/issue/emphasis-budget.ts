import type { MarkdownIt, StateCore, Token } from 'markdown-it';

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

/** True for an inline token that `budgetEmphasis` parsed without emphasis. */
export function isEmphasisOff(token: Token | undefined): boolean {
  return (token?.meta as { emphasisOff?: boolean } | null | undefined)?.emphasisOff === true;
}

/** Emphasis markers removed from text, for plain-text outputs of a paragraph parsed without emphasis. */
export function stripEmphasisMarkers(text: string): string {
  return text.replace(/[*_]+/g, '');
}

/**
 * Makes `md` parse a paragraph with too many emphasis markers with `plain` instead: the same
 * configuration without the emphasis rule, so its markers stay text (one scan, no tokens of
 * their own). Such paragraphs are marked (`isEmphasisOff`) so plain-text outputs can drop
 * the markers; every other paragraph is parsed exactly as before.
 */
export function budgetEmphasis(md: MarkdownIt, plain: MarkdownIt): void {
  plain.disable('emphasis');
  md.core.ruler.at('inline', (state: StateCore) => {
    for (const token of state.tokens) {
      if (token.type !== 'inline') continue;
      if (exceedsEmphasisBudget(token.content)) {
        token.meta = { ...(token.meta as object | null), emphasisOff: true };
        plain.inline.parse(token.content, plain, state.env, token.children ?? (token.children = []));
      } else {
        state.md.inline.parse(token.content, state.md, state.env, token.children ?? (token.children = []));
      }
    }
  });
}
