import type { MarkdownIt, StateCore, Token } from '../vendor/markdown-it.ts';
import type { Diagnostic } from './diagnostic.ts';
import { exceedsEmphasisBudget } from './emphasis-budget.ts';
import type { SourceLine } from './to-source-lines.ts';

/**
 * More `[` left unclosed than this in one paragraph (or one line) and its links and images
 * are not parsed. For every `[` markdown-it's link rule scans ahead for the `]` that closes
 * it, through nested brackets up to its nesting limit, and finds none: `[` × 450,000 costs
 * five to six times what prose does per byte. A paragraph an editor writes leaves a few
 * brackets open at most.
 */
export const UNCLOSED_BRACKET_LIMIT = 1000;

/**
 * More runs of backticks than this in one paragraph and its code spans are not parsed: each
 * becomes tokens of its own, and `` `a`` `` repeated costs about three times prose per byte.
 */
export const BACKTICK_RUN_LIMIT = 2000;

/** What a paragraph over a budget is parsed without. */
export interface InlineBudgetVerdict {
  emphasisOff: boolean;
  linksOff: boolean;
  codeOff: boolean;
}

/**
 * Counts the `[` of `text` that no later `]` closes (a backslash-escaped bracket counts for
 * nothing) and stops once the count is past `limit`: `[a](b)`, `[[x]]` and a lone `]` leave
 * none open; `[` × 450,000 then `](` × 225,000 leaves 225,000.
 */
export function exceedsBracketBudget(text: string, limit = UNCLOSED_BRACKET_LIMIT): boolean {
  // Open brackets can still be closed later: the scan keeps the depth and remembers only
  // whether it ever had to go past the limit with no `]` in sight by the end. It jumps from
  // one `[`, `]` or `\` to the next with indexOf: a file of links is mostly other characters.
  let nextOpen = text.indexOf('[');
  if (nextOpen < 0) return false;
  let nextClose = text.indexOf(']', nextOpen);
  let nextEscape = text.indexOf('\\', nextOpen);
  let open = 0;
  for (;;) {
    // With no `[` left, later `]` can only lower the count.
    if (nextOpen < 0 && open <= limit) return false;
    const at = earliest(earliest(nextOpen, nextClose), nextEscape);
    if (at < 0) break;
    if (at === nextEscape) {
      // `\`: the next character is literal, whatever it is.
      const after = at + 2;
      if (nextOpen >= 0 && nextOpen < after) nextOpen = text.indexOf('[', after);
      if (nextClose >= 0 && nextClose < after) nextClose = text.indexOf(']', after);
      nextEscape = text.indexOf('\\', after);
    } else if (at === nextOpen) {
      open++;
      nextOpen = text.indexOf('[', at + 1);
    } else {
      if (open > 0) open--;
      nextClose = text.indexOf(']', at + 1);
    }
  }
  return open > limit;
}

/** The smaller of two indexOf results, -1 (none) counting as past every index. */
function earliest(a: number, b: number): number {
  if (a < 0) return b;
  if (b < 0) return a;
  return a < b ? a : b;
}

/** True when `text` holds more runs of backticks than the limit; stops counting there. */
export function exceedsBacktickBudget(text: string, limit = BACKTICK_RUN_LIMIT): boolean {
  let runs = 0;
  for (let i = text.indexOf('`'); i >= 0; i = text.indexOf('`', i + 1)) {
    if (text.charCodeAt(i - 1) !== 0x60 && ++runs > limit) return true;
  }
  return false;
}

/** Which budgets `text` (one paragraph's inline content) is over. */
export function judgeInlineBudget(text: string): InlineBudgetVerdict {
  return { emphasisOff: exceedsEmphasisBudget(text), linksOff: exceedsBracketBudget(text), codeOff: exceedsBacktickBudget(text) };
}

/** The budget verdict `budgetInline` left on an inline token, if it put one there. */
export function inlineBudgetOf(token: Token | undefined): Partial<InlineBudgetVerdict> {
  return (token?.meta as Partial<InlineBudgetVerdict> | null | undefined) ?? {};
}

/**
 * Makes `md` parse a paragraph that is over a budget with a variant of itself (made by
 * `createVariant`, the same configuration) without the rules the paragraph would make slow:
 * emphasis, links and images, or code spans. Their markers then stay text, in one scan.
 * Such paragraphs carry their verdict in `token.meta` (`inlineBudgetOf`), so plain-text
 * outputs can drop emphasis markers; every other paragraph is parsed exactly as before.
 */
export function budgetInline(md: MarkdownIt, createVariant: () => MarkdownIt): void {
  const variants = new Map<string, MarkdownIt>();
  const variantFor = (verdict: InlineBudgetVerdict): MarkdownIt => {
    const key = `${+verdict.emphasisOff}${+verdict.linksOff}${+verdict.codeOff}`;
    let variant = variants.get(key);
    if (!variant) {
      variant = createVariant();
      const off = [
        ...(verdict.emphasisOff ? ['emphasis'] : []),
        ...(verdict.linksOff ? ['link', 'image'] : []),
        ...(verdict.codeOff ? ['backticks'] : []),
      ];
      variant.disable(off);
      variants.set(key, variant);
    }
    return variant;
  };
  md.core.ruler.at('inline', (state: StateCore) => {
    for (const token of state.tokens) {
      if (token.type !== 'inline') continue;
      const children = token.children ?? (token.children = []);
      const verdict = judgeInlineBudget(token.content);
      if (verdict.emphasisOff || verdict.linksOff || verdict.codeOff) {
        token.meta = { ...(token.meta as object | null), ...verdict };
        const variant = variantFor(verdict);
        variant.inline.parse(token.content, variant, state.env, children);
      } else {
        state.md.inline.parse(token.content, state.md, state.env, children);
      }
    }
  });
}

/**
 * One warning per paragraph of the body that is over the bracket or backtick budget, at the
 * paragraph's first line, so the editor learns why its links or code show as written. A
 * paragraph here is a run of non-blank lines outside fenced code, as the renderer will see
 * at least as one block.
 */
export function scanInlineBudgets(lines: readonly SourceLine[], file: string): Diagnostic[] {
  const diagnostics: Diagnostic[] = [];
  let start = 0;
  const flush = (end: number) => {
    if (end > start) {
      const first = lines[start]!;
      const text = lines
        .slice(start, end)
        .map((l) => l.text)
        .join('\n');
      const where = { file, line: first.line, column: 1, severity: 'warning' as const };
      if (exceedsBracketBudget(text)) {
        diagnostics.push({
          ...where,
          code: 'W_UNCLOSED_BRACKETS',
          message: `this paragraph leaves more than ${UNCLOSED_BRACKET_LIMIT} \`[\` unclosed: its links are not parsed and its brackets show as written; close or escape them (\\[)`,
        });
      }
      if (exceedsBacktickBudget(text)) {
        diagnostics.push({
          ...where,
          code: 'W_BACKTICK_RUNS',
          message: `this paragraph holds more than ${BACKTICK_RUN_LIMIT} runs of backticks: its code spans are not parsed and its backticks show as written; split it or use a fenced code block`,
        });
      }
    }
    start = end + 1;
  };
  lines.forEach((line, index) => {
    if (line.code || line.text.trim() === '') flush(index);
  });
  flush(lines.length);
  return diagnostics;
}
