import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { LoadedConfig } from '../config/load-config.ts';
import { issueOutputFiles, metaFromFrozenFacts, renderKeyFor } from '../site/build-site.ts';
import { readBuildState } from '../site/build-state.ts';
import { compiledTemplatesFor, type IssueParser } from '../project/issue-parser.ts';
import { loadIssues } from '../project/load-issues.ts';
import { loadTemplateSources } from '../project/load-templates.ts';
import { siteFingerprint, siteInfoFromConfig } from '../project/site-info.ts';
import { renderEmail, renderEmailSubject, templatesFingerprint } from '../render/index.ts';
import type { RenderedIssue } from '../publish/issue-rendition.ts';
import type { EmailRendition } from '../render/types.ts';
import type { IssueRecord } from '../store/types.ts';
import { LetterpressError } from '../util/errors.ts';

async function readIfPresent(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** An issue's email as rendered from the project tree, with the render key and publish_at it was rendered under. */
export type PreparedRendition = RenderedIssue;

/** The email of a recorded issue (see prepareIssueRendition); throws when the project tree lacks it. */
export async function prepareIssueEmail(
  record: IssueRecord,
  loaded: LoadedConfig,
  options: { parser?: IssueParser } = {},
): Promise<EmailRendition> {
  const prepared = await prepareIssueRendition(record, loaded, options);
  if (!prepared) {
    throw new LetterpressError('E_ISSUE_FILE', `issue ${record.slug}: cannot render it, ${record.sourceFile} or the templates folder is missing`, {
      file: record.sourceFile,
    });
  }
  return prepared.email;
}

/**
 * The email of a recorded issue, rendered from the project tree: what the editor wrote (the issue file)
 * with the facts the store froze at first publish (slug, date, feed id). When the build has
 * already rendered exactly this (same render key: content, templates, site config, dates), its
 * `out/issues/<slug>/email.*` files are used as they are — what the editor previewed is what is
 * sent, and MJML need not even be loaded; otherwise the email is rendered here. `parser`: the
 * app's, with limits.parseSeconds (without one the file is parsed on this thread, for scripts).
 *
 * Undefined when this process has no project tree for it (the issue file or the templates
 * folder is not there: a sender started with only the store and the config).
 */
export async function prepareIssueRendition(
  record: IssueRecord,
  loaded: LoadedConfig,
  options: { parser?: IssueParser } = {},
): Promise<PreparedRendition | undefined> {
  const file = path.resolve(loaded.root, record.sourceFile);
  if (!existsSync(file) || !existsSync(loaded.paths.templates)) return undefined;
  const { issues, diagnostics } = await loadIssues([file], {
    root: loaded.root,
    timezone: loaded.config.timezone,
    maxBytes: loaded.config.limits.maxIssueBytes,
    parser: options.parser,
    issuesDir: loaded.paths.issues,
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
  const meta = metaFromFrozenFacts(issue, {
    firstSeen: record.firstSeenAt,
    feedId: record.feedId,
    updated: record.updatedAt !== record.firstSeenAt ? record.updatedAt : undefined,
  });
  const site = siteInfoFromConfig(loaded.config);
  const sources = await loadTemplateSources(loaded.paths.templates);
  // Compiled once per template set in this process, not once for every issue sent.
  const fingerprint = templatesFingerprint(sources);
  const templates = await compiledTemplatesFor({ fingerprint, sources });

  const built = (await readBuildState(loaded.paths.data)).issues[record.slug];
  const renderKey = renderKeyFor({
    contentHash: issue.contentHash,
    templates: fingerprint,
    site: siteFingerprint(site),
    meta,
  });
  if (built?.renderKey === renderKey) {
    const outputs = issueOutputFiles(loaded.paths.out, record.slug);
    const [html, text] = await Promise.all([readIfPresent(outputs.emailHtml), readIfPresent(outputs.emailText)]);
    if (html !== undefined && text !== undefined) {
      const email = { subject: renderEmailSubject(issue, templates, site), preheader: issue.summary, html, text };
      return { email, renderKey, publishAt: issue.publishAt ?? null };
    }
  }
  return { email: (await renderEmail(issue, meta, templates, site)).email, renderKey, publishAt: issue.publishAt ?? null };
}
