/** The issue parser's public API: bytes or text of one issue file in, `Issue` and diagnostics out. */
export { findDuplicateSlugs } from './check-duplicate-slugs.ts';
export { checkIssueDates } from './check-issue-dates.ts';
export { parseChineseNumeral, parseIssueNumber } from './chinese-numerals.ts';
export { decodeIssueFile } from './decode-issue-file.ts';
export { formatDiagnostic, hasErrors } from './diagnostic.ts';
export type { Diagnostic, DiagnosticCode, Severity } from './diagnostic.ts';
export { parseFrontMatter, SLUG_PATTERN } from './front-matter.ts';
export type { FrontMatter, FrontMatterFields } from './front-matter.ts';
export type { Issue, IssueItem, IssueSection, SourcePosition } from './model.ts';
export { parseIssue, parseIssueFile } from './parse-issue.ts';
export { parseTitleYear } from './parse-title-year.ts';
export type { ParseIssueResult } from './parse-issue.ts';
