import type { Issue } from '../issue/model.ts';
import { markdownToHtml, markdownToHtmlAndText, markdownToText } from './markdown.ts';
import { EMAIL_SLOTS, type IssueMeta, type SiteInfo } from './types.ts';
import type { TemplateContext } from './compile-templates.ts';

/** Absolute URL of an issue's archive page. */
export function issuePermalink(site: SiteInfo, slug: string): string {
  return `${site.url}/issues/${encodeURIComponent(slug)}/`;
}

/** Site facts in the shape templates use (feed URLs precomputed, no optional fields). */
export interface SiteView {
  url: string;
  homeUrl: string;
  title: string;
  description: string;
  authorName: string;
  postalAddress: string;
  feedAtom: string;
  feedRss: string;
  feedJson: string;
}

/** One digest item as templates see it: safe HTML and plain-text renderings side by side. */
export interface ItemView {
  number: number;
  title: string;
  url: string | null;
  anchor: string;
  href: string;
  summaryHtml: string | null;
  summaryText: string | null;
  notesHtml: string | null;
  notesText: string | null;
}

/** One digest section as templates see it. */
export interface SectionView {
  title: string;
  anchor: string;
  href: string;
  introHtml: string | null;
  introText: string | null;
  items: ItemView[];
}

/** The issue as templates see it: no optional fields, so strict mode can catch typos. */
export interface IssueView {
  title: string;
  slug: string;
  number: number | null;
  permalink: string;
  /** The front matter's date, or null: an undated issue shows no date rather than an invented one. */
  date: string | null;
  updated: string;
  wasUpdated: boolean;
  summary: string;
  isDigest: boolean;
  introHtml: string | null;
  introText: string | null;
  sections: SectionView[];
}

/** The root context of every issue template (email, text, page, feed content). */
export interface IssueTemplateContext extends TemplateContext {
  site: SiteView;
  issue: IssueView;
  /** Prefix for in-issue anchors: '' on the page itself, the permalink elsewhere. */
  anchorBase: string;
  /** Relative path from the rendered page to the site root (`../../` for issue pages). */
  rootRel: string;
  pageTitle: string;
  /** `<meta name="description">` of the page. */
  description: string;
  canonical: string;
  unsubscribeUrl: string;
}

/** Builds the template-facing site facts. */
export function buildSiteView(site: SiteInfo): SiteView {
  return {
    url: site.url,
    homeUrl: `${site.url}/`,
    title: site.title,
    description: site.description,
    authorName: site.author.name,
    postalAddress: site.postalAddress,
    feedAtom: `${site.url}/feed.atom`,
    feedRss: `${site.url}/feed.rss`,
    feedJson: `${site.url}/feed.json`,
  };
}

/** Keeps an item link only when it is an absolute http(s) or mailto URL. */
function safeItemUrl(url: string | undefined): string | null {
  if (url === undefined) return null;
  try {
    const parsed = new URL(url.trim());
    return ['http:', 'https:', 'mailto:'].includes(parsed.protocol) ? parsed.href : null;
  } catch {
    return null;
  }
}

function nonEmpty(text: string | undefined): string | undefined {
  return text !== undefined && text.trim() !== '' ? text : undefined;
}

/**
 * Turns an Issue (Markdown fields) into template data (safe HTML and plain text fields).
 * `absoluteLinks` resolves the editor's relative links against the permalink, which email
 * and feeds need; the web page keeps them as written.
 */
export function buildIssueView(
  issue: Issue,
  meta: IssueMeta,
  site: SiteInfo,
  options: { absoluteLinks: boolean; onPage: boolean },
): IssueTemplateContext {
  const permalink = issuePermalink(site, issue.slug);
  const md = { baseUrl: options.absoluteLinks ? permalink : undefined, headingOffset: 3 };
  const plainOptions = { baseUrl: permalink, headingOffset: 3 };
  // Plain text always has absolute links; where the HTML does too, one parse serves both.
  const render = (source: string | undefined): { html: string | null; text: string | null } => {
    const markdown = nonEmpty(source);
    if (markdown === undefined) return { html: null, text: null };
    if (options.absoluteLinks) return markdownToHtmlAndText(markdown, plainOptions);
    return { html: markdownToHtml(markdown, md), text: markdownToText(markdown, plainOptions) };
  };
  const anchorBase = options.onPage ? '' : permalink;

  const sections: SectionView[] = issue.sections.map((section) => {
    const intro = render(section.intro);
    return {
      title: section.title,
      anchor: section.anchor,
      href: `${anchorBase}#${section.anchor}`,
      introHtml: intro.html,
      introText: intro.text,
      items: section.items.map((item) => {
        const summary = render(item.summary);
        const notes = render(item.notes);
        return {
          number: item.number,
          title: item.title,
          url: safeItemUrl(item.url),
          anchor: item.anchor,
          href: `${anchorBase}#${item.anchor}`,
          summaryHtml: summary.html,
          summaryText: summary.text,
          notesHtml: notes.html,
          notesText: notes.text,
        };
      }),
    };
  });
  const intro = render(issue.intro);

  const siteView = buildSiteView(site);
  return {
    locale: site.locale,
    timezone: site.timezone,
    site: siteView,
    issue: {
      title: issue.title,
      slug: issue.slug,
      number: issue.number ?? null,
      permalink,
      date: issue.date ?? null,
      updated: meta.updated,
      // "Updated on" only makes sense next to a shown date.
      wasUpdated: issue.date !== undefined && Date.parse(meta.updated) > Date.parse(meta.date),
      summary: issue.summary,
      isDigest: issue.isDigest,
      introHtml: intro.html,
      introText: intro.text,
      sections,
    },
    anchorBase,
    rootRel: '../../',
    pageTitle: issue.title === site.title ? issue.title : `${issue.title} · ${site.title}`,
    description: issue.summary,
    canonical: permalink,
    unsubscribeUrl: EMAIL_SLOTS.unsubscribeUrl,
  };
}
