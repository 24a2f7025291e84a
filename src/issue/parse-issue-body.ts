import { classifyUrl } from './classify-url.ts';
import type { Diagnostic } from './diagnostic.ts';
import type { IssueItem, IssueSection, SourcePosition } from './model.ts';
import { removeControlChars } from './remove-control-chars.ts';
import { toPlainText } from './to-plain-text.ts';
import type { SourceLine } from './to-source-lines.ts';
import { quoteForMessage as quoted } from './truncate-text.ts';

/** The body of an issue file (after front matter), structured. */
export interface IssueBody {
  /** The `# ` heading taken as the title (removed from the body), if any. */
  heading?: { title: string };
  isDigest: boolean;
  intro?: string;
  sections: IssueSection[];
  /**
   * Plain text of the first ordinary paragraph, for the derived summary of a plain file: all of
   * it, or at least `firstParagraphChars` characters of its opening when it is longer.
   */
  firstParagraph?: string;
  diagnostics: Diagnostic[];
}


// Item starts, tried in order: `**1.** **Title**`, `**1. Title**`, `1. **Title**`. Digits may be
// full-width; the separator may be `.`, `．`, `、`, `:`, `：` or `)`.
const NUMBER = '([0-9０-９]+)';
const SEPARATOR = '[.．、:：)）]';
const ITEM_STARTS: readonly RegExp[] = [
  new RegExp(`^( {0,3})\\*\\*${NUMBER}${SEPARATOR}?\\*\\*[ \\t\\u3000]*(\\S.*)$`),
  new RegExp(`^( {0,3})\\*\\*${NUMBER}${SEPARATOR}[ \\t\\u3000]*(\\S.*?)\\*\\*$`),
  new RegExp(`^( {0,3})${NUMBER}${SEPARATOR}[ \\t\\u3000]*(\\*\\*\\S.*?\\*\\*)$`),
];

// `**摘要:**`, `**摘要：**`, `**摘要**:`, `摘要：`, `**Summary:**`, `Summary:` at the start of a block.
// No two `[ \t]*` may touch (`**摘要` + 300k spaces tried every split of the run between them).
const SUMMARY_LABEL = /^ {0,3}(?:\*\*|__)?[ \t]*(?:摘要|summary)[ \t]*(?:(?:\*\*|__)[ \t]*)?[:：](?:[ \t]*(?:\*\*|__))?[ \t\u3000]*/i;

// The destination of `[Title](url)` in an item title: at most one level of parentheses, and
// greedy with disjoint alternatives, so a title of `](` × 50k is scanned once.
const TITLE_LINK = /\]\(\s*<?((?:[^\s<>()]|\([^\s<>()]*\))+)>?\s*\)/;

// A line that is only a link: a bare URL (optionally in angle brackets) or `[text](url "title")`.
const BARE_URL_LINE = /^<?((?:[A-Za-z][A-Za-z0-9+.-]*:\/\/|mailto:|javascript:|vbscript:|data:)[^\s<>]*)>?$/i;
const MARKDOWN_LINK_LINE = /^\[[^\]]*\]\(\s*<?(\S*?)>?(?:\s+(?:"[^"]*"|'[^']*'|\([^)]*\)))?\s*\)$/;

// A block that starts like something other than an ordinary paragraph.
const NOT_A_PARAGRAPH = /^(?: {4}|\t| {0,3}(?:#{1,6}(?:\s|$)|>|[-*+][ \t]|\d+[.)][ \t]|\||<|!\[|(?:-{3,}|\*{3,}|_{3,})\s*$))/;

interface ItemDraft {
  number: number;
  title: string;
  titleUrl?: string;
  position: SourcePosition;
  lines: SourceLine[];
}

interface SectionDraft {
  title: string;
  position: SourcePosition;
  introLines: SourceLine[];
  items: ItemDraft[];
}

/**
 * Reads the digest dialect (DESIGN.md §3) out of an issue body: the title heading, the intro,
 * `## ` sections and their numbered items with link, summary and notes. Every line the editor
 * wrote ends up somewhere in the result (title, an intro, an item field or notes), except
 * unsafe item links, which `scanMarkdownHazards` reports. A body without a single numbered
 * item under a section is a plain issue: its whole Markdown (minus the title) is the intro.
 *
 * The first `# ` heading outside code is the title heading. When front matter gives the title,
 * that heading is removed only if it repeats the title; a different one stays in the body.
 */
export function parseIssueBody(
  lines: readonly SourceLine[],
  file: string,
  options: {
    frontMatterTitle?: string;
    onProgress?: (line: number) => void;
    /** How much plain text of the first paragraph the caller needs (it keeps only a summary). */
    firstParagraphChars?: number;
  },
): IssueBody {
  const diagnostics: Diagnostic[] = [];
  const warn = (code: Diagnostic['code'], position: SourcePosition, message: string) =>
    diagnostics.push({ file, ...position, severity: 'warning', code, message });

  // Only the first `# ` heading (outside code) can be the title heading.
  let heading: IssueBody['heading'];
  let headingIndex = -1;
  const firstHeading = lines.findIndex((l) => !l.code && headingTitle(l.text) !== undefined);
  const firstHeadingLine = lines[firstHeading];
  if (firstHeadingLine) {
    const title = headingTitle(firstHeadingLine.text) ?? '';
    if (options.frontMatterTitle === undefined || title === options.frontMatterTitle) {
      headingIndex = firstHeading;
      heading = { title };
    }
  }
  const content = lines.filter((_, index) => index !== headingIndex);

  const introLines: SourceLine[] = [];
  const sections: SectionDraft[] = [];
  for (const line of content) {
    options.onProgress?.(line.line);
    const text = line.text.trimEnd();
    const section = sections.at(-1);
    if (!line.code) {
      const sectionMatch = matchHeading(text, 2);
      const sectionTitle = sectionMatch ? toPlainText(removeControlChars(sectionMatch.content)) : '';
      if (sectionMatch && sectionTitle !== '') {
        const position = { line: line.line, column: sectionMatch.indent + 1 };
        sections.push({ title: sectionTitle, position, introLines: [], items: [] });
        continue;
      }
      const item = section ? matchItemStart(text) : undefined;
      if (section && item) {
        section.items.push({ ...item, position: { line: line.line, column: item.indent + 1 }, lines: [] });
        continue;
      }
    }
    const item = section?.items.at(-1);
    (item ? item.lines : section ? section.introLines : introLines).push(line);
  }

  const isDigest = sections.some((s) => s.items.length > 0);
  if (!isDigest) {
    options.onProgress?.(content[0]?.line ?? 1);
    const firstParagraph = splitBlocks(content).find(isParagraph);
    return {
      heading,
      isDigest,
      intro: markdownOf(content),
      sections: [],
      firstParagraph:
        firstParagraph &&
        plainTextOpening(
          removeControlChars(firstParagraph.map((l) => l.text).join(' ')),
          options.firstParagraphChars ?? Number.POSITIVE_INFINITY,
        ),
      diagnostics,
    };
  }

  const built = sections.map((draft, sectionIndex): IssueSection => {
    const anchor = `s${sectionIndex + 1}`;
    let expected = 1;
    const items = draft.items.map((itemDraft, itemIndex) => {
      if (itemDraft.number !== expected) {
        const how = itemDraft.number < expected ? 'repeats an earlier number' : 'skips a number';
        warn('W_ITEM_NUMBER', itemDraft.position, `item number ${itemDraft.number} ${how}; expected ${expected} in section ${quoted(draft.title)}`);
      }
      expected = itemDraft.number + 1;
      options.onProgress?.(itemDraft.position.line);
      return buildItem(itemDraft, `${anchor}-i${itemIndex + 1}`, warn);
    });
    const intro = markdownOf(draft.introLines);
    return { title: draft.title, anchor, ...(intro !== undefined && { intro }), items, position: draft.position };
  });

  return { heading, isDigest, intro: markdownOf(introLines), sections: built, diagnostics };
}

/** Splits an item's lines into its link, summary and notes, warning about what is missing. */
function buildItem(
  draft: ItemDraft,
  anchor: string,
  warn: (code: Diagnostic['code'], position: SourcePosition, message: string) => void,
): IssueItem {
  const blocks = splitBlocks(draft.lines);
  let url: string | undefined;
  let linkBlock = -1; // index of the block that held the link line, if any
  let linkReported = false; // an unusable link line was already explained
  let summary: string | undefined;
  const notes: { block: SourceLine[]; index: number }[] = [];

  for (let index = 0; index < blocks.length; index++) {
    const block = blocks[index] ?? [];
    const first = block[0];
    if (!first || first.code) {
      notes.push({ block, index });
      continue;
    }
    const link = linkBlock < 0 ? matchLinkLine(first.text) : undefined;
    if (link !== undefined) {
      linkBlock = index;
      // Editors often write the summary right under the link, without a blank line.
      if (block.length > 1) blocks.splice(index + 1, 0, block.slice(1));
      block.splice(1);
      const kind = classifyUrl(link);
      if (kind === 'web') {
        url = link;
      } else if (kind === 'unsafe') {
        linkReported = true; // W_UNSAFE_LINK comes from scanMarkdownHazards; the link is dropped
      } else {
        linkReported = true;
        warn(
          'W_ITEM_NO_LINK',
          { line: first.line, column: indentOf(first.text) + 1 },
          `item ${quoted(draft.title)} link ${quoted(link)} is not an http(s) or mailto link; it is kept as text in the item's notes`,
        );
        notes.push({ block, index });
      }
      continue;
    }
    const label = summary === undefined ? SUMMARY_LABEL.exec(first.text) : null;
    if (label) {
      const rest = blockMarkdown([{ ...first, text: first.text.slice(label[0].length) }, ...block.slice(1)]);
      const next = blocks[index + 1];
      if (rest === '' && next?.[0] && !next[0].code) {
        summary = blockMarkdown(next); // the label stood alone on its line
        index += 1;
      } else {
        summary = rest;
      }
      continue;
    }
    notes.push({ block, index });
  }

  if (summary === undefined || summary === '') {
    // No labelled summary: the first ordinary paragraph after the link is the summary.
    const candidate = notes.findIndex((note) => note.index > linkBlock && isParagraph(note.block));
    const found = notes[candidate];
    if (found) {
      summary = blockMarkdown(found.block);
      notes.splice(candidate, 1);
    }
  }

  if (url === undefined && draft.titleUrl !== undefined && classifyUrl(draft.titleUrl) === 'web') {
    url = draft.titleUrl; // `**1.** **[Title](https://…)**`
  }
  if (url === undefined && !linkReported) {
    warn('W_ITEM_NO_LINK', draft.position, `item ${quoted(draft.title)} has no link: put its URL on the line after the title`);
  }
  if (summary === undefined || summary === '') {
    summary = undefined;
    warn(
      'W_ITEM_NO_SUMMARY',
      draft.position,
      `item ${quoted(draft.title)} has no summary: add a "**摘要:** …" or "Summary: …" paragraph after its link`,
    );
  }

  const notesMarkdown = notes.map((note) => blockMarkdown(note.block)).join('\n\n');
  return {
    number: draft.number,
    title: draft.title,
    ...(url !== undefined && { url }),
    ...(summary !== undefined && { summary }),
    ...(notesMarkdown !== '' && { notes: notesMarkdown }),
    anchor,
    position: draft.position,
  };
}

function matchItemStart(text: string): { number: number; title: string; titleUrl?: string; indent: number } | undefined {
  for (const pattern of ITEM_STARTS) {
    const match = pattern.exec(text);
    if (!match) continue;
    const rawTitle = removeControlChars(match[3] ?? '');
    const title = toPlainText(rawTitle);
    if (title === '') return undefined;
    const titleUrl = TITLE_LINK.exec(rawTitle)?.[1];
    return {
      number: Number((match[2] ?? '').normalize('NFKC')),
      title,
      ...(titleUrl !== undefined && { titleUrl }),
      indent: (match[1] ?? '').length,
    };
  }
  return undefined;
}

/** The URL of a line that is only a link, trimmed and without angle brackets or link text. */
function matchLinkLine(text: string): string | undefined {
  const line = text.trim();
  return (BARE_URL_LINE.exec(line) ?? MARKDOWN_LINK_LINE.exec(line))?.[1]?.trim();
}

function headingTitle(text: string): string | undefined {
  const match = matchHeading(text, 1);
  const title = match ? toPlainText(removeControlChars(match.content)) : '';
  return title === '' ? undefined : title;
}

/**
 * An ATX heading of exactly `level` (`## Section ##`): its indent and its text without the
 * optional closing `#`s. A scan rather than a pattern: `(.*?)(?:[ \t]+#+)?[ \t]*$` took
 * quadratic time on `# a` followed by 300k spaces.
 */
function matchHeading(text: string, level: number): { indent: number; content: string } | undefined {
  let at = 0;
  while (at < 3 && text[at] === ' ') at++;
  const indent = at;
  for (let i = 0; i < level; i++, at++) if (text[at] !== '#') return undefined;
  if (text[at] !== ' ' && text[at] !== '\t') return undefined;
  let content = text.slice(at).replace(LEADING_BLANKS, '').trimEnd();
  let hashes = content.length;
  while (hashes > 0 && content[hashes - 1] === '#') hashes--;
  if (hashes < content.length && (hashes === 0 || content[hashes - 1] === ' ' || content[hashes - 1] === '\t')) {
    content = content.slice(0, hashes).trimEnd();
  }
  return { indent, content };
}

const LEADING_BLANKS = /^[ \t]+/;

/** Blank lines (outside fenced code) separate blocks; fenced code stays one block. */
function splitBlocks(lines: readonly SourceLine[]): SourceLine[][] {
  const blocks: SourceLine[][] = [];
  let current: SourceLine[] = [];
  for (const line of lines) {
    if (!line.code && line.text.trim() === '') {
      if (current.length > 0) blocks.push(current);
      current = [];
    } else {
      current.push(line);
    }
  }
  if (current.length > 0) blocks.push(current);
  return blocks;
}

/**
 * Source characters of a paragraph plain-texted at first when it is longer: far more than
 * any paragraph an editor writes, so theirs are always read whole.
 */
const OPENING_SOURCE_CHARS = 16 * 1024;

/**
 * The plain text of `markdown`, or of an opening of it that yields more than `wanted`
 * characters. Only a summary is kept of it, and plain-texting all of a 900 KB paragraph was a
 * whole extra Markdown pass over the file. The opening doubles until it yields enough (links
 * with long URLs and short text yield little), so the work stays linear; it is cut at a space
 * where one is near, so a word or URL is rarely split.
 */
function plainTextOpening(markdown: string, wanted: number): string {
  for (let size = OPENING_SOURCE_CHARS; size < markdown.length; size *= 2) {
    const space = markdown.lastIndexOf(' ', size);
    const text = toPlainText(markdown.slice(0, space > size / 2 ? space : size));
    if (text.length > wanted) return text;
  }
  return toPlainText(markdown);
}

function isParagraph(block: readonly SourceLine[]): boolean {
  const first = block[0];
  return first !== undefined && !first.code && !NOT_A_PARAGRAPH.test(first.text);
}

/**
 * A block's Markdown as written. Trailing whitespace goes only at the block's end: inside a
 * paragraph two trailing spaces are a hard line break and must survive.
 */
function blockMarkdown(block: readonly SourceLine[]): string {
  return removeControlChars(block.map((line) => line.text).join('\n')).trimEnd();
}

/** Lines as Markdown blocks separated by one blank line, or undefined when there are none. */
function markdownOf(lines: readonly SourceLine[]): string | undefined {
  const markdown = splitBlocks(lines).map(blockMarkdown).filter((block) => block !== '').join('\n\n');
  return markdown === '' ? undefined : markdown;
}

function indentOf(text: string): number {
  return /^[ \t]*/.exec(text)?.[0].length ?? 0;
}
