/**
 * The parsed form of one issue file. Everything here is plain data: the parser builds it
 * from text alone, and every renderer (email, web, feeds) reads only this.
 *
 * Markdown fields hold the editor's Markdown source, not HTML: turning them into HTML (with
 * raw HTML and unsafe links neutralised) is the renderer's job, so no output ever depends on
 * the parser having escaped something.
 */

/** Where something sits in the source file; 1-based, like editors show it. */
export interface SourcePosition {
  line: number;
  column: number;
}

/** One numbered entry of a digest section: `**1.** **Title**`, a link, a summary. */
export interface IssueItem {
  /** The number the editor wrote (`**2.**` → 2). */
  number: number;
  /** Plain text title (Markdown emphasis markers removed). */
  title: string;
  /** The item's link, if it had one; only http(s) and mailto links are kept. */
  url?: string;
  /** Summary as Markdown (from `**摘要:**`, `摘要：`, `Summary:` or a plain paragraph). */
  summary?: string;
  /** Any further Markdown the editor wrote under the item, kept so nothing is dropped. */
  notes?: string;
  /** Stable fragment id within the issue page: `s<section>-i<item>` (1-based positions). */
  anchor: string;
  position: SourcePosition;
}

/** A `## Heading` of a digest issue and the items under it. */
export interface IssueSection {
  title: string;
  /** Stable fragment id: `s<position>` (1-based). */
  anchor: string;
  /** Markdown between the heading and its first item, if any. */
  intro?: string;
  items: IssueItem[];
  position: SourcePosition;
}

export interface Issue {
  /** Path as given to the parser (used in diagnostics only). */
  sourcePath: string;
  /** URL-safe identifier: front matter `slug`, else derived from the file name. */
  slug: string;
  /** Where the front-matter `slug` was written; absent when the slug was derived. */
  slugPosition?: SourcePosition;
  title: string;
  /** Issue number: front matter `number`, else parsed from the title (第十八期, No. 18, #18). */
  number?: number;
  /**
   * Publication date as an ISO 8601 instant with offset, read in the configured timezone
   * (front matter `date`). Absent when the file does not say: the caller supplies a stable
   * fallback (first-seen time), never the build time.
   */
  date?: string;
  /** Where the front-matter `date` was written; absent when there is none. */
  datePosition?: SourcePosition;
  /**
   * The year the title announces (`云计算技术动态 2024 年第十八期` → 2024): how an undated issue
   * is ordered among the others, since no invented date is ever shown for it.
   */
  year?: number;
  /** Not before this instant (ISO 8601 with offset); absent means "when published". */
  publishAt?: string;
  draft: boolean;
  /** False when the front matter says `email: false`: site and feeds only, never emailed. */
  email: boolean;
  /** Preheader / feed summary: front matter `summary`, else derived from the first items. */
  summary: string;
  /** The newsletter name when the title follows `<name> <year> 年第<n>期`; informational. */
  seriesName?: string;
  /** True when the body follows the digest dialect (sections and numbered items). */
  isDigest: boolean;
  /** Markdown before the first section (digest) or the whole body after the title (plain). */
  intro?: string;
  sections: IssueSection[];
  /**
   * SHA-256 (hex) of the raw file bytes (`parseIssueFile`), or of the UTF-8 encoding of the text
   * given to `parseIssue`: changes exactly when the editor's text changes.
   */
  contentHash: string;
}
