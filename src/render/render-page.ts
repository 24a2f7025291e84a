import type { Issue } from '../issue/model.ts';
import type { Templates } from './compile-templates.ts';
import { toInstant } from './format-date.ts';
import { buildIssueView, buildSiteView } from './issue-view.ts';
import type { IndexEntry, IssueMeta, SiteInfo } from './types.ts';

/**
 * Renders an issue's archive page (`out/issues/<slug>/index.html`): a complete document with
 * feed autodiscovery, section and item anchors, and no script or outside resource.
 */
export function renderPage(issue: Issue, meta: IssueMeta, templates: Templates, site: SiteInfo): string {
  const view = buildIssueView(issue, meta, site, { absoluteLinks: false, onPage: true });
  return templates.render('web/issue.html.hbs', view);
}

/** Newest first: by date, then by issue number, then by slug so ties never reorder. */
export function compareNewestFirst(
  a: { date: string; number?: number; slug: string },
  b: { date: string; number?: number; slug: string },
): number {
  const byDate = toInstant(b.date).getTime() - toInstant(a.date).getTime();
  if (byDate !== 0) return byDate;
  const byNumber = (b.number ?? -Infinity) - (a.number ?? -Infinity);
  if (byNumber !== 0 && !Number.isNaN(byNumber)) return byNumber;
  return a.slug < b.slug ? 1 : a.slug > b.slug ? -1 : 0;
}

/**
 * Renders the archive index (`out/index.html`). The caller passes entries newest first; they
 * are sorted again (date desc, then number desc) so the page never depends on that.
 */
export function renderIndex(entries: IndexEntry[], templates: Templates, site: SiteInfo): string {
  const sorted = [...entries].sort(compareNewestFirst);
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
      date: entry.date,
      summary: entry.summary,
      path: entry.path,
    })),
  });
}
