import type { Issue } from '../issue/model.ts';
import type { Templates } from './compile-templates.ts';
import { buildIssueView, issuePermalink } from './issue-view.ts';
import { renderEmail } from './render-email.ts';
import { renderPage } from './render-page.ts';
import type { FeedEntry, IndexEntry, IssueMeta, Rendition, SiteInfo } from './types.ts';

/** Drops the blank lines Handlebars block tags leave behind, so feed content stays compact. */
function compactHtml(html: string): string {
  return html
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .join('\n');
}

/** The feed entry of an issue: full content as safe HTML with absolute links only. */
export function renderFeedEntry(issue: Issue, meta: IssueMeta, templates: Templates, site: SiteInfo): FeedEntry {
  const view = buildIssueView(issue, meta, site, { absoluteLinks: true, onPage: false });
  const entry: FeedEntry = {
    id: meta.feedId,
    slug: issue.slug,
    title: issue.title,
    link: issuePermalink(site, issue.slug),
    published: meta.date,
    updated: meta.updated,
    summary: issue.summary,
    contentHtml: compactHtml(templates.render('feed/content.html.hbs', view)),
    categories: [...new Set(issue.sections.map((section) => section.title))],
  };
  if (issue.number !== undefined) entry.number = issue.number;
  if (issue.year !== undefined) entry.year = issue.year;
  if (issue.date !== undefined) entry.date = issue.date;
  return entry;
}

/** What the archive index lists for an issue. */
export function renderIndexEntry(issue: Issue, meta: IssueMeta): IndexEntry {
  const entry: IndexEntry = {
    slug: issue.slug,
    title: issue.title,
    published: meta.date,
    summary: issue.summary,
    path: `issues/${encodeURIComponent(issue.slug)}/`,
  };
  if (issue.number !== undefined) entry.number = issue.number;
  if (issue.year !== undefined) entry.year = issue.year;
  if (issue.date !== undefined) entry.date = issue.date;
  return entry;
}

/**
 * Renders everything one issue becomes (email, archive page, feed entry, index entry) from
 * data alone: same inputs, same bytes, whatever the clock or machine.
 */
export async function renderIssue(
  issue: Issue,
  meta: IssueMeta,
  templates: Templates,
  site: SiteInfo,
): Promise<Rendition> {
  const { email, diagnostics } = await renderEmail(issue, meta, templates, site);
  return {
    slug: issue.slug,
    permalink: issuePermalink(site, issue.slug),
    email,
    pageHtml: renderPage(issue, meta, templates, site),
    feedEntry: renderFeedEntry(issue, meta, templates, site),
    indexEntry: renderIndexEntry(issue, meta),
    diagnostics,
  };
}
