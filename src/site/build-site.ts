import { createHash, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { LoadedConfig } from '../config/load-config.ts';
import type { Diagnostic } from '../issue/diagnostic.ts';
import type { Issue } from '../issue/model.ts';
import {
  compileTemplates,
  renderFeeds,
  renderIndex,
  sortNewestFirst,
  templatesFingerprint,
} from '../render/index.ts';
import type { OrderFacts } from '../render/order-issues.ts';
import type { FeedEntry, IndexEntry, IssueMeta, SiteInfo } from '../render/types.ts';
import type { RegisterReport, RegistryEntry } from '../store/issue-registry.ts';
import type { Clock } from '../util/clock.ts';
import { readBuildState, writeBuildState, type BuildState, type IssueBuildRecord } from './build-state.ts';
import { readFirstCommitDates } from '../project/git-dates.ts';
import { listIssueFiles } from '../project/list-issue-files.ts';
import { loadIssues, type LoadedIssue } from '../project/load-issues.ts';
import { loadTemplateSources } from '../project/load-templates.ts';
import { createInProcessIssueParser, type IssueParser } from '../project/issue-parser.ts';
import { siteFingerprint, siteInfoFromConfig } from '../project/site-info.ts';
import { BUILD_STAMP, removeStaleTemporaries, writeFileAtomic, type FileContent } from './write-output.ts';

/** Progress events, so a CLI can draw a bar and a daemon can log. */
export type BuildProgress =
  | { phase: 'parse'; total: number }
  | { phase: 'render'; done: number; total: number; slug: string }
  | { phase: 'write'; files: number };

export interface BuildReport {
  /** Slugs on the site after this build, newest first. */
  published: string[];
  /** Slugs rendered this time (new, edited, or templates/config changed). */
  rendered: string[];
  /** Slugs whose outputs were already up to date. */
  unchanged: string[];
  drafts: string[];
  /** Issues not yet due, with the instant they become due. */
  scheduled: { slug: string; publishAt: string }[];
  /** Slugs whose pages were removed from `out/` (deleted, turned draft, or rescheduled). */
  removed: string[];
  /** Published slugs whose file is now broken: their last good pages stay. */
  kept: string[];
  /** Files skipped because of errors (each has at least one error diagnostic). */
  failedFiles: string[];
  diagnostics: Diagnostic[];
  /** Output files whose bytes changed. */
  filesWritten: number;
  /** What the store recorded, when the build ran with one. */
  registered?: Omit<RegisterReport, 'facts'>;
  durationMs: number;
}

export interface BuildDependencies {
  loaded: LoadedConfig;
  clock: Clock;
  onProgress?: (event: BuildProgress) => void;
  /**
   * Records the due issues in the store and answers what it has frozen for each (slug, first
   * seen date, feed id, last edit). Without it the build's own memory (build-state.json) is used.
   */
  register?: (entries: RegistryEntry[]) => Promise<RegisterReport>;
  /** Where issue files are parsed and rendered; the wiring passes the budgeted worker. */
  parser?: IssueParser;
  /** Aborted at shutdown (the daemon): the files not parsed yet are left for the next run. */
  signal?: AbortSignal;
}

const ISSUES_DIR = 'issues';

/** Bumped when cached index and feed entries change shape (2: ordering facts), so they are re-rendered. */
const RENDER_FORMAT = 2;

/** Whether an issue belongs on the site at `now`: not a draft and due. */
export function classifyIssue(issue: Issue, now: Date): 'draft' | 'scheduled' | 'due' {
  if (issue.draft) return 'draft';
  if (issue.publishAt !== undefined && Date.parse(issue.publishAt) > now.getTime()) return 'scheduled';
  return 'due';
}

/**
 * Decides an issue's dates and feed id from what the build remembers (pure). The date is the
 * front matter's, else the first-seen date recorded at first publish; `updated` moves only
 * when the content hash does.
 */
export function resolveIssueMeta(options: {
  issue: Issue;
  record: IssueBuildRecord | undefined;
  firstSeenFallback: string;
  permalink: string;
  now: Date;
}): { meta: IssueMeta; firstSeen: string } {
  const { issue, record, now } = options;
  const firstSeen = record?.firstSeen ?? options.firstSeenFallback;
  const date = issue.date ?? firstSeen;
  let updated: string;
  if (record === undefined) updated = date;
  else if (record.contentHash !== issue.contentHash) updated = now.toISOString();
  else updated = record.updated;
  if (Date.parse(updated) < Date.parse(date)) updated = date;
  return { meta: { date, updated, feedId: record?.feedId ?? options.permalink }, firstSeen };
}

/** An issue's dates and feed id from what the store froze at first publish (pure). */
export function metaFromFrozenFacts(
  issue: Pick<Issue, 'date'>,
  frozen: { firstSeen: string; feedId: string; updated?: string },
): IssueMeta {
  const date = issue.date ?? frozen.firstSeen;
  const updated = frozen.updated && Date.parse(frozen.updated) > Date.parse(date) ? frozen.updated : date;
  return { date, updated, feedId: frozen.feedId };
}

/**
 * First-seen instants for issues seen for the first time, made distinct (pure). A back
 * catalogue arrives at once: every file carries one commit time (or copy mtime), and feeds
 * whose entries all share one `updated` get validator warnings and confuse readers that sort
 * by it. Issues sharing an instant keep it for the oldest (by the archive's order: date, else
 * title year and number) and each newer one is one second later, so the order of the instants
 * is the order of the issues. Issues alone at their instant keep it unchanged.
 */
export function separateSharedFirstSeen(
  entries: readonly (OrderFacts & { firstSeen: string })[],
): Map<string, string> {
  const byInstant = new Map<number, (OrderFacts & { firstSeen: string })[]>();
  for (const entry of entries) {
    const at = Date.parse(entry.firstSeen);
    byInstant.set(at, [...(byInstant.get(at) ?? []), entry]);
  }
  const separated = new Map<string, string>();
  for (const [at, group] of byInstant) {
    const oldestFirst = sortNewestFirst(group.map((entry) => ({ ...entry, published: entry.date ?? entry.firstSeen }))).reverse();
    oldestFirst.forEach((entry, position) => {
      separated.set(entry.slug, position === 0 ? entry.firstSeen : new Date(at + position * 1000).toISOString());
    });
  }
  return separated;
}

/** Equal keys mean equal rendered files: the content, templates, site config and dates all match. */
export function renderKeyFor(parts: { contentHash: string; templates: string; site: string; meta: IssueMeta }): string {
  return createHash('sha256').update(JSON.stringify({ format: RENDER_FORMAT, ...parts })).digest('hex');
}

/** Where an issue's rendered files live in `out/`. */
export function issueOutputFiles(outDir: string, slug: string) {
  const dir = path.join(outDir, ISSUES_DIR, slug);
  return {
    dir,
    page: path.join(dir, 'index.html'),
    emailHtml: path.join(dir, 'email.html'),
    emailText: path.join(dir, 'email.txt'),
  };
}

/** The absolute URL of an issue page. */
export function permalinkFor(site: SiteInfo, slug: string): string {
  return `${site.url}/${ISSUES_DIR}/${encodeURIComponent(slug)}/`;
}

/**
 * Builds `out/` from `issues/`: every due, non-draft issue gets its web page and rendered
 * email; the index and the three feeds list them. Unchanged issues are not re-rendered, every
 * file is written atomically and only when its bytes change, and a bad issue file is reported
 * and skipped while the rest are built.
 */
export async function buildSite(deps: BuildDependencies): Promise<BuildReport> {
  const started = performance.now();
  const { loaded, clock } = deps;
  const { config, paths, root } = loaded;
  const now = clock.now();
  const site = siteInfoFromConfig(config);

  const templateSources = await loadTemplateSources(paths.templates);
  const templates = compileTemplates(templateSources);
  const fingerprints = { templates: templatesFingerprint(templateSources), site: siteFingerprint(site) };

  const files = await listIssueFiles(paths.issues);
  deps.onProgress?.({ phase: 'parse', total: files.length });
  const parser = deps.parser ?? createInProcessIssueParser();
  const { issues, diagnostics } = await loadIssues(files, {
    root,
    timezone: config.timezone,
    maxBytes: config.limits.maxIssueBytes,
    parser,
    issuesDir: paths.issues,
    signal: deps.signal,
  });
  const failedFiles = [...new Set(diagnostics.filter((d) => d.severity === 'error').map((d) => d.file))];

  const drafts: string[] = [];
  const scheduled: { slug: string; publishAt: string }[] = [];
  const due: LoadedIssue[] = [];
  for (const entry of issues) {
    const state = classifyIssue(entry.issue, now);
    if (state === 'draft') drafts.push(entry.issue.slug);
    else if (state === 'scheduled') scheduled.push({ slug: entry.issue.slug, publishAt: entry.issue.publishAt! });
    else due.push(entry);
  }

  const state = await readBuildState(paths.data);
  const needsGitDates = due.some((entry) => entry.issue.date === undefined && !state.issues[entry.issue.slug]);
  const gitDates = needsGitDates ? await readFirstCommitDates(paths.issues) : new Map<string, string>();

  const nextState: BuildState = { version: 1, issues: { ...state.issues } };
  const rendered: string[] = [];
  const unchanged: string[] = [];
  const feedEntries: FeedEntry[] = [];
  const indexEntries: IndexEntry[] = [];
  let filesWritten = 0;
  let done = 0;

  // Decide every issue's dates and render key first (pure), then check that the outputs of
  // unchanged ones are still there (synchronously: thousands of tiny stats).
  const separated = separateSharedFirstSeen(
    due
      .filter((entry) => !state.issues[entry.issue.slug])
      .map(({ issue, file, mtime }) => ({ ...issue, firstSeen: gitDates.get(file) ?? mtime.toISOString() })),
  );
  const firstSeenOf = ({ issue, file, mtime }: LoadedIssue) =>
    state.issues[issue.slug]?.firstSeen ?? separated.get(issue.slug) ?? gitDates.get(file) ?? mtime.toISOString();
  const registration = deps.register
    ? await deps.register(
        due.map((entry) => ({
          slug: entry.issue.slug,
          title: entry.issue.title,
          contentHash: entry.issue.contentHash,
          sourceFile: entry.issue.sourcePath,
          firstSeen: firstSeenOf(entry),
          feedId: permalinkFor(site, entry.issue.slug),
          email: entry.issue.email,
        })),
      )
    : undefined;

  const plans = due.map((entry) => {
    const frozen = registration?.facts.get(entry.issue.slug);
    // A renamed file keeps the slug its issue was first published under.
    const issue = frozen && frozen.slug !== entry.issue.slug ? { ...entry.issue, slug: frozen.slug } : entry.issue;
    const record = state.issues[issue.slug];
    const resolved = resolveIssueMeta({
      issue,
      record,
      firstSeenFallback: firstSeenOf(entry),
      permalink: permalinkFor(site, issue.slug),
      now,
    });
    let { meta } = resolved;
    const firstSeen = frozen?.firstSeen ?? resolved.firstSeen;
    if (frozen) meta = metaFromFrozenFacts(issue, frozen);
    const renderKey = renderKeyFor({ contentHash: issue.contentHash, ...fingerprints, meta });
    return { issue, record, meta, firstSeen, renderKey, outputs: issueOutputFiles(paths.out, issue.slug) };
  });
  const upToDate = plans.map(
    ({ record, renderKey, outputs }) =>
      record?.renderKey === renderKey && [outputs.page, outputs.emailHtml, outputs.emailText].every(existsSync),
  );

  for (const [position, { issue, record, meta, firstSeen, renderKey, outputs }] of plans.entries()) {
    done += 1;
    if (upToDate[position] && record) {
      unchanged.push(issue.slug);
      feedEntries.push(record.feedEntry);
      indexEntries.push(record.indexEntry);
      continue;
    }
    deps.onProgress?.({ phase: 'render', done, total: due.length, slug: issue.slug });
    const { rendition, diagnostics: renderDiagnostics } = await parser.render({
      issue,
      meta,
      site,
      templates: { fingerprint: templates.fingerprint, sources: templateSources },
    });
    diagnostics.push(...renderDiagnostics);
    if (!rendition) {
      failedFiles.push(issue.sourcePath);
      continue;
    }
    await removeStaleTemporaries(outputs.dir);
    for (const [target, content] of [
      [outputs.page, rendition.pageHtml],
      [outputs.emailHtml, rendition.email.html],
      [outputs.emailText, rendition.email.text],
    ] as const) {
      if (await writeFileAtomic(target, content)) filesWritten += 1;
    }
    rendered.push(issue.slug);
    feedEntries.push(rendition.feedEntry);
    indexEntries.push(rendition.indexEntry);
    nextState.issues[issue.slug] = {
      sourceFile: issue.sourcePath,
      contentHash: issue.contentHash,
      firstSeen,
      updated: meta.updated,
      feedId: meta.feedId,
      renderKey,
      feedEntry: rendition.feedEntry,
      indexEntry: rendition.indexEntry,
    };
  }

  // A published issue whose file is now broken keeps its last good pages: an editing mistake
  // must not take an issue off the site. The diagnostics say why it was not rebuilt.
  const kept: string[] = [];
  const failed = new Set(failedFiles);
  const listed = new Set(indexEntries.map((entry) => entry.slug));
  for (const [slug, record] of Object.entries(state.issues)) {
    if (failed.has(record.sourceFile) && !listed.has(slug) && existsSync(issueOutputFiles(paths.out, slug).page)) {
      kept.push(slug);
      feedEntries.push(record.feedEntry);
      indexEntries.push(record.indexEntry);
    }
  }

  const ordered = sortNewestFirst(indexEntries);
  indexEntries.splice(0, indexEntries.length, ...ordered);
  // Off this thread where the parser can: the feeds hold every issue's whole content.
  const feeds = parser.renderFeeds ? await parser.renderFeeds({ entries: feedEntries, site }) : renderFeeds(feedEntries, site);
  const siteFiles: [string, FileContent][] = [
    ['index.html', renderIndex(indexEntries, templates, site)],
    ['feed.atom', feeds.atom],
    ['feed.rss', feeds.rss],
    ['feed.json', feeds.json],
    ...Object.entries(templates.assets),
  ];
  await removeStaleTemporaries(paths.out);
  for (const [name, content] of siteFiles) {
    if (await writeFileAtomic(path.join(paths.out, name), content)) filesWritten += 1;
  }
  deps.onProgress?.({ phase: 'write', files: filesWritten });

  const removed = await removeUnpublishedPages(paths.out, new Set(indexEntries.map((entry) => entry.slug)));
  await writeBuildState(paths.data, nextState);
  // Last, and only when out/ changed: a running server reloads what it holds on this signal.
  if (filesWritten > 0 || removed.length > 0) await writeFile(path.join(paths.out, BUILD_STAMP), `${now.toISOString()} ${randomUUID()}\n`);

  return {
    published: indexEntries.map((entry) => entry.slug),
    rendered,
    unchanged,
    drafts,
    scheduled,
    removed,
    kept,
    failedFiles,
    diagnostics,
    filesWritten,
    registered: registration
      ? {
          added: registration.added,
          renamed: registration.renamed,
          backlog: registration.backlog,
          unplan: registration.unplan,
          ...(registration.unplanned && { unplanned: registration.unplanned }),
        }
      : undefined,
    durationMs: performance.now() - started,
  };
}

/** Deletes issue folders in `out/` that are no longer published, so nothing stale stays public. */
async function removeUnpublishedPages(outDir: string, published: ReadonlySet<string>): Promise<string[]> {
  const issuesDir = path.join(outDir, ISSUES_DIR);
  let names: string[];
  try {
    names = await readdir(issuesDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const removed = names.filter((name) => !published.has(name)).sort();
  await Promise.all(removed.map((name) => rm(path.join(issuesDir, name), { recursive: true, force: true })));
  return removed;
}
