import type { Issue } from '../issue/model.ts';
import type { Templates } from './compile-templates.ts';
import { buildIssueView, buildSiteView } from './issue-view.ts';
import { sortNewestFirst } from './order-issues.ts';
import type { IndexEntry, IssueMeta, SiteInfo } from './types.ts';

/**
 * Renders an issue's archive page (`out/issues/<slug>/index.html`): a complete document with
 * feed autodiscovery, section and item anchors, and no script or outside resource.
 */
export function renderPage(issue: Issue, meta: IssueMeta, templates: Templates, site: SiteInfo): string {
  const view = buildIssueView(issue, meta, site, { absoluteLinks: false, onPage: true });
  return templates.render('web/issue.html.hbs', view);
}

/**
 * Renders the archive index (`out/index.html`), newest first by `sortNewestFirst` whatever
 * order the caller passes. Only a front-matter date is shown.
 */
export function renderIndex(entries: IndexEntry[], templates: Templates, site: SiteInfo): string {
  const sorted = sortNewestFirst(entries);
  const siteView = buildSiteView(site);
  return templates.render('web/index.html.hbs', {
    locale: site.locale,
    timezone: site.timezone,
    site: siteView,
    rootRel: './',
    pageTitle: site.title,
    description: site.description,
    canonical: siteView.homeUrl,
    entries: sorted.map((entry) => ({
      slug: entry.slug,
      title: entry.title,
      number: entry.number ?? null,
      date: entry.date ?? null,
      summary: entry.summary,
      path: entry.path,
    })),
  });
}
