import path from 'node:path';
import type { LoadedConfig } from '../config/load-config.ts';
import { loadIssues } from '../build/load-issues.ts';
import { loadTemplateSources } from '../build/load-templates.ts';
import { siteInfoFromConfig } from '../build/site-info.ts';
import { compileTemplates, renderEmail } from '../render/index.ts';
import type { EmailRendition } from '../render/types.ts';
import type { IssueRecord } from '../store/types.ts';
import { LetterpressError } from '../util/errors.ts';

/**
 * Renders the email of a recorded issue from its source file, once per send run: the file is
 * what the editor wrote, the store holds the facts frozen at first publish (slug, date, feed id).
 */
export async function prepareIssueEmail(record: IssueRecord, loaded: LoadedConfig): Promise<EmailRendition> {
  const file = path.resolve(loaded.root, record.sourceFile);
  const { issues, diagnostics } = await loadIssues([file], {
    root: loaded.root,
    timezone: loaded.config.timezone,
    maxBytes: loaded.config.limits.maxIssueBytes,
  });
  const parsed = issues[0]?.issue;
  if (!parsed) {
    const first = diagnostics.find((d) => d.severity === 'error');
    throw new LetterpressError(
      'E_ISSUE_FILE',
      `issue ${record.slug}: cannot send, its file ${record.sourceFile} ` +
        (first ? `has errors (${first.file}:${first.line}:${first.column}: ${first.message})` : 'cannot be read'),
      { file: record.sourceFile },
    );
  }
  const issue = { ...parsed, slug: record.slug };
  const date = issue.date ?? record.firstSeenAt;
  const site = siteInfoFromConfig(loaded.config);
  const templates = compileTemplates(await loadTemplateSources(loaded.paths.templates));
  const { email } = await renderEmail(issue, { date, updated: date, feedId: record.feedId }, templates, site);
  return email;
}
