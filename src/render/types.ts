import type { Locale } from '../config/schema.ts';
import type { Diagnostic } from '../issue/diagnostic.ts';

/** What every renderer needs to know about the publication (from config, resolved). */
export interface SiteInfo {
  /** Public base URL, no trailing slash. */
  url: string;
  title: string;
  description: string;
  author: { name: string; email?: string };
  postalAddress: string;
  locale: Locale;
  /** IANA timezone dates are shown in. */
  timezone: string;
  /** How many newest issues the feeds carry. */
  feedLimit: number;
  /** Handlebars source for the email Subject. */
  subjectTemplate: string;
}

/**
 * Facts about an issue that are not in its file: they come from the build (and later the
 * store), so that rendering stays a pure function of its inputs.
 */
export interface IssueMeta {
  /**
   * The stable publication instant (feeds' `published`): front matter `date`, else first
   * seen; never the build time. Pages and emails show only the front matter's date.
   */
  date: string;
  /** When the issue's content last changed (equals `date` until the first edit). */
  updated: string;
  /** Feed entry id, frozen at first publish. */
  feedId: string;
}

/** Placeholders left in the email for the per-recipient step to fill. */
export const EMAIL_SLOTS = {
  unsubscribeUrl: '%%unsubscribe_url%%',
  /** The double opt-in link of the confirmation email. */
  confirmUrl: '%%confirm_url%%',
} as const;

export interface EmailRendition {
  subject: string;
  preheader: string;
  /** Complete HTML document, CSS inlined, with EMAIL_SLOTS placeholders. */
  html: string;
  /** The text/plain part, with the same placeholders. */
  text: string;
}

/** One feed entry, already rendered (the feeds are assembled from these). */
export interface FeedEntry {
  id: string;
  slug: string;
  title: string;
  /** Absolute permalink of the issue page. */
  link: string;
  published: string;
  updated: string;
  summary: string;
  /** Full content as safe HTML (absolute links only). */
  contentHtml: string;
  categories: string[];
  number?: number;
  /** Ordering facts (order-issues.ts): the title's year and the front matter's date. */
  year?: number;
  date?: string;
}

/** What the index page lists per issue. */
export interface IndexEntry {
  slug: string;
  title: string;
  number?: number;
  /** The date shown: front matter `date` only; absent for an undated issue. */
  date?: string;
  /** The stable publication instant (front matter `date`, else first seen), for ordering. */
  published?: string;
  /** The year the title announces, for ordering undated issues. */
  year?: number;
  summary: string;
  /** Relative link from the site root, e.g. `issues/2024-18/`. */
  path: string;
}

/** Everything one issue renders to. */
export interface Rendition {
  slug: string;
  permalink: string;
  email: EmailRendition;
  /** The issue's web archive page (`out/issues/<slug>/index.html`). */
  pageHtml: string;
  feedEntry: FeedEntry;
  indexEntry: IndexEntry;
  /** Warnings from rendering (for example MJML warnings); errors throw instead. */
  diagnostics: Diagnostic[];
}

export interface RenderedFeeds {
  atom: string;
  rss: string;
  json: string;
}

/**
 * The feeds as a parser hands them over: each a string, or a string in the parts it crossed
 * between processes in, to be written out one after another (`writeFileAtomic`).
 */
export type FeedTexts = { readonly [K in keyof RenderedFeeds]: string | readonly string[] };

/**
 * The raw text of a template set, keyed by path relative to the templates folder with `/`
 * separators (`email/issue.mjml.hbs`, `partials/layout.hbs`, `i18n/en.json`, `web/style.css`).
 * The build reads it from disk; rendering only ever sees this data.
 */
export interface TemplateSources {
  /** Where the set came from, used in error messages only (not in the fingerprint). */
  origin?: string;
  files: Readonly<Record<string, string>>;
}
