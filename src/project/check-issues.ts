import type { LoadedConfig } from '../config/load-config.ts';
import type { Diagnostic } from '../issue/diagnostic.ts';
import { checkIssueDates } from '../issue/index.ts';
import { templatesFingerprint } from '../render/compile-templates.ts';
import { permalinkFor } from '../site/build-site.ts';
import { loadIssues } from './load-issues.ts';
import { loadTemplateSources } from './load-templates.ts';
import { compiledTemplatesFor, createInProcessIssueParser, type IssueParser } from './issue-parser.ts';
import { siteInfoFromConfig } from './site-info.ts';

/**
 * Everything `letterpress check` reports for `files`: parse diagnostics, duplicate slugs, and
 * render problems (a template or MJML error for this content), and dates that contradict
 * the titles' years or the numbers' order among `files`, without writing anything.
 */
export async function checkIssues(
  files: readonly string[],
  loaded: LoadedConfig,
  parser: IssueParser = createInProcessIssueParser(),
): Promise<Diagnostic[]> {
  const { issues, diagnostics } = await loadIssues(files, {
    root: loaded.root,
    timezone: loaded.config.timezone,
    maxBytes: loaded.config.limits.maxIssueBytes,
    parser,
    issuesDir: loaded.paths.issues,
  });
  const site = siteInfoFromConfig(loaded.config);
  const sources = await loadTemplateSources(loaded.paths.templates);
  // Compiled here, so a broken template is reported once, before any issue is rendered; an
  // in-process parser renders with this compiled set (a worker compiles its own).
  const fingerprint = templatesFingerprint(sources);
  await compiledTemplatesFor({ fingerprint, sources });
  for (const { issue } of issues) {
    // Any stable date will do: nothing is written, only errors and warnings are kept.
    const date = issue.date ?? '1970-01-01T00:00:00Z';
    const meta = { date, updated: date, feedId: permalinkFor(site, issue.slug) };
    diagnostics.push(...(await parser.render({ issue, meta, site, templates: { fingerprint, sources } })).diagnostics);
  }
  diagnostics.push(...checkIssueDates(issues.map((entry) => entry.issue)));
  return diagnostics;
}
