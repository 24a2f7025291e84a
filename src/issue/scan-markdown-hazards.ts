import { classifyUrl } from './classify-url.ts';
import type { Diagnostic } from './diagnostic.ts';
import type { SourceLine } from './to-source-lines.ts';

// A complete tag on one line (`<b>`, `</div>`, `<img src=x onerror=alert(1)>`) or a comment.
const HTML_TAG = /<\/?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?\/?>|<!--/g;
// Openers of the dangerous tags, even when the tag runs on past the end of the line.
const DANGEROUS_OPENER = /<(?:script|iframe|object|embed|style|img|svg|link|meta|form|input|base)\b/gi;
const UNSAFE_SCHEME_WORD = /javascript|vbscript|data/i;

// Where Markdown takes a link destination: inline links and images, autolinks,
// reference definitions and a line that is nothing but a URL. Each pattern runs only on a line
// holding what it needs (`needs`): a file of links, one per line, is scanned once per line
// for `](` instead of four times.
const LINK_DESTINATIONS: readonly { pattern: RegExp; needs: (text: string) => boolean }[] = [
  { pattern: /\]\(\s*<?((?:[^\s()<>]|\([^\s()]*\))*)/g, needs: (text) => text.includes('](') },
  { pattern: /<([A-Za-z][A-Za-z0-9+.-]{1,31}:[^\s<>]*)>/g, needs: (text) => text.includes('<') },
  { pattern: /^ {0,3}\[[^\]]+\]:\s*<?([^\s>]+)/g, needs: (text) => text.includes(']:') },
  { pattern: /^\s*((?:javascript|vbscript|data)\s*:\S*)\s*$/gi, needs: (text) => UNSAFE_SCHEME_WORD.test(text) },
];

// Every hazard above needs one of these: a tag or autolink `<`, a link's `](`, a reference
// definition's `]:`, or a bare unsafe scheme. Most lines have none and skip the patterns.
const MAY_HOLD_HAZARD = /<|\]\(|\]:|javascript|vbscript|data/i;

/**
 * Warns about what the renderer will neutralise, so the editor is never surprised by it: raw
 * HTML (shown as text, since markdown-it runs with `html: false`) and javascript:/vbscript:/
 * data: links (never made clickable, and dropped as item links). Fenced code and inline code
 * spans are exempt: what is written there is shown as code anyway.
 */
export function scanMarkdownHazards(lines: readonly SourceLine[], file: string): Diagnostic[] {
  const diagnostics: Diagnostic[] = [];
  for (const { text, line, code } of lines) {
    if (code || !MAY_HOLD_HAZARD.test(text)) continue;
    // Blank out inline code spans, keeping columns right.
    const prose = text.includes('`') ? text.replace(/(`+)(?:(?!\1).)+?\1/g, (span) => ' '.repeat(span.length)) : text;

    // One warning per line, at its first tag, naming every tag on it.
    const tags = !prose.includes('<')
      ? []
      : [HTML_TAG, DANGEROUS_OPENER]
          .flatMap((pattern) => [...prose.matchAll(pattern)])
          .sort((a, b) => a.index - b.index)
          .filter((match, i, all) => i === 0 || match.index !== all[i - 1]?.index);
    const firstTag = tags[0];
    if (firstTag) {
      const shown = tags.map((match) => (match[0].length > 40 ? `${match[0].slice(0, 40)}…` : match[0])).join(' ');
      diagnostics.push({
        file,
        line,
        column: firstTag.index + 1,
        severity: 'warning',
        code: 'W_RAW_HTML',
        message: `raw HTML ${shown} is shown as text, never run or rendered; write Markdown instead`,
      });
    }

    // Made only for a line with an unsafe link: most lines of links have none.
    let linkColumns: Set<number> | undefined;
    for (const { pattern, needs } of LINK_DESTINATIONS) {
      if (!needs(prose)) continue;
      // exec on the shared pattern, not matchAll: matchAll copies the pattern on every call.
      pattern.lastIndex = 0;
      for (let match = pattern.exec(prose); match; match = pattern.exec(prose)) {
        if (match[0] === '') pattern.lastIndex += 1;
        const url = match[1] ?? '';
        if (classifyUrl(url) !== 'unsafe') continue;
        const column = match.index + match[0].indexOf(url) + 1;
        if (linkColumns?.has(column)) continue;
        (linkColumns ??= new Set()).add(column);
        diagnostics.push({
          file,
          line,
          column,
          severity: 'warning',
          code: 'W_UNSAFE_LINK',
          message: `unsafe link "${url.length > 40 ? `${url.slice(0, 40)}…` : url}" is neutralised: it is never made clickable in any output`,
        });
      }
    }
  }
  return diagnostics;
}
