import { createHash } from 'node:crypto';
import { parseIssueNumber } from './chinese-numerals.ts';
import { parseTitleYear } from './parse-title-year.ts';
import { decodeIssueFile } from './decode-issue-file.ts';
import { hasErrors, type Diagnostic } from './diagnostic.ts';
import { scanInlineBudgets } from './inline-budget.ts';
import { parseFrontMatter } from './front-matter.ts';
import type { Issue } from './model.ts';
import { parseIssueBody, type IssueBody } from './parse-issue-body.ts';
import { CONTROL_CHAR_PATTERN } from './remove-control-chars.ts';
import { scanMarkdownHazards } from './scan-markdown-hazards.ts';
import { slugFromFileName } from './slug-from-file-name.ts';
import { toSourceLines } from './to-source-lines.ts';
import { truncateText } from './truncate-text.ts';

/** What parsing one issue yields: the issue unless an error keeps it out, and all findings. */
export interface ParseIssueResult {
  /** Absent exactly when `diagnostics` holds an error. */
  issue?: Issue;
  /** Sorted by line, then column. */
  diagnostics: Diagnostic[];
}

/** How to parse: the timezone front-matter dates are read in, and who hears of progress. */
export interface ParseIssueOptions {
  timezone: string;
  /** Called with the file line the body parser reached, so a watchdog can say where it stopped. */
  onProgress?: (line: number) => void;
}

/** Derived summaries (preheaders, feed summaries) are cut at this many characters. */
const SUMMARY_LIMIT = 160;

// Unanchored, so the series name is what precedes the match: `^(.*?)\s*[0-9]{4}…` tried every
// split of a long run of spaces in a front-matter title.
const SERIES_TITLE = /[0-9０-９]{4}\s*年\s*第/;

/**
 * Parses the text of one issue file into an `Issue`, purely: no file system, clock or network.
 * `file` is only used in diagnostics and to derive the slug; `options.timezone` (IANA) is where
 * front-matter dates without an offset are read. A BOM, CRLF/CR line ends and trailing spaces
 * are tolerated even though `decodeIssueFile` already removes the first two.
 */
export function parseIssue(text: string, file: string, options: ParseIssueOptions): ParseIssueResult {
  const contentHash = createHash('sha256').update(text, 'utf8').digest('hex');
  const normalised = text.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n');
  if (normalised.trim() === '') {
    return { diagnostics: [{ file, line: 1, column: 1, severity: 'error', code: 'E_EMPTY', message: 'file contains no text' }] };
  }

  const frontMatter = parseFrontMatter(normalised, file, options);
  const fields = frontMatter.fields;
  const lines = toSourceLines(frontMatter.body, frontMatter.bodyStartLine);
  options.onProgress?.(frontMatter.bodyStartLine);
  const body = parseIssueBody(lines, file, {
    frontMatterTitle: fields.title,
    onProgress: options.onProgress,
    // truncateText looks at most this far into a text to cut it at SUMMARY_LIMIT graphemes.
    firstParagraphChars: SUMMARY_LIMIT * 4,
  });
  const diagnostics: Diagnostic[] = [
    ...findControlChars(normalised, file),
    ...frontMatter.diagnostics,
    ...body.diagnostics,
    ...scanMarkdownHazards(lines, file),
    ...scanInlineBudgets(lines, file),
  ];

  const title = fields.title ?? body.heading?.title;
  if (title === undefined) {
    diagnostics.push({
      file,
      line: frontMatter.bodyStartLine,
      column: 1,
      severity: 'error',
      code: 'E_NO_TITLE',
      message: 'issue has no title: add a `# Title` heading or a `title:` field in the front matter',
    });
  }

  const titleNumber = title === undefined ? undefined : parseIssueNumber(title);
  const number = fields.number ?? titleNumber;
  if (fields.number !== undefined && titleNumber !== undefined && fields.number !== titleNumber) {
    diagnostics.push({
      file,
      ...(frontMatter.positions.number ?? { line: 1, column: 1 }),
      severity: 'warning',
      code: 'W_NUMBER_MISMATCH',
      message: `front-matter number ${fields.number} disagrees with the title, which says ${titleNumber}; the front matter wins`,
    });
  }

  diagnostics.sort((a, b) => a.line - b.line || a.column - b.column);
  if (title === undefined || hasErrors(diagnostics)) return { diagnostics };

  // An all-Chinese file name leaves no slug: fall back to the issue number, which stays put
  // when the text is edited, and only then to the content hash.
  const slug =
    fields.slug ?? (slugFromFileName(file) || (number !== undefined ? `issue-${number}` : `issue-${contentHash.slice(0, 12)}`));
  const year = parseTitleYear(title);
  const seriesMatch = SERIES_TITLE.exec(title);
  const seriesName = (seriesMatch && title.slice(0, seriesMatch.index).trim()) || undefined;
  const summary = fields.summary ?? deriveSummary(body);

  const issue: Issue = {
    sourcePath: file,
    slug,
    ...(frontMatter.positions.slug && { slugPosition: frontMatter.positions.slug }),
    title,
    ...(number !== undefined && { number }),
    ...(fields.date !== undefined && { date: fields.date }),
    ...(frontMatter.positions.date && { datePosition: frontMatter.positions.date }),
    ...(year !== undefined && { year }),
    ...(fields.publishAt !== undefined && { publishAt: fields.publishAt }),
    draft: fields.draft ?? false,
    email: fields.email ?? true,
    summary,
    ...(seriesName !== undefined && { seriesName }),
    isDigest: body.isDigest,
    ...(body.intro !== undefined && { intro: body.intro }),
    sections: body.sections,
    contentHash,
  };
  return { issue, diagnostics };
}

/**
 * Decodes and parses one issue file's bytes: `decodeIssueFile`, then `parseIssue`. Here
 * `contentHash` is the hash of the bytes themselves, so re-saving with other line ends counts
 * as a change.
 */
export function parseIssueFile(
  bytes: Uint8Array,
  file: string,
  options: ParseIssueOptions & { maxBytes: number },
): ParseIssueResult {
  const decoded = decodeIssueFile(bytes, file, { maxBytes: options.maxBytes });
  if (decoded.text === undefined) return { diagnostics: decoded.diagnostics };
  const parsed = parseIssue(decoded.text, file, { timezone: options.timezone, onProgress: options.onProgress });
  const contentHash = createHash('sha256').update(bytes).digest('hex');
  return {
    ...(parsed.issue && { issue: { ...parsed.issue, contentHash } }),
    diagnostics: [...decoded.diagnostics, ...parsed.diagnostics],
  };
}

/** The preheader nobody wrote: the first items' titles, or a plain file's first paragraph. */
function deriveSummary(body: IssueBody): string {
  const text = body.isDigest
    ? body.sections.flatMap((section) => section.items.map((item) => item.title)).join(' · ')
    : (body.firstParagraph ?? '');
  return truncateText(text, SUMMARY_LIMIT);
}

/** One W_CONTROL_CHAR per control character; the parser leaves them out of the model. */
function findControlChars(text: string, file: string): Diagnostic[] {
  // Nearly every file has none: one scan of the whole text spares splitting it into lines.
  if (text.search(CONTROL_CHAR_PATTERN) < 0) return [];
  const diagnostics: Diagnostic[] = [];
  text.split('\n').forEach((line, index) => {
    for (const match of line.matchAll(CONTROL_CHAR_PATTERN)) {
      const code = match[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0');
      diagnostics.push({
        file,
        line: index + 1,
        column: match.index + 1,
        severity: 'warning',
        code: 'W_CONTROL_CHAR',
        message: `control character U+${code} removed (invisible characters like this usually come from copy and paste)`,
      });
    }
  });
  return diagnostics;
}
