import type { Diagnostic } from '../issue/diagnostic.ts';
import type { Issue } from '../issue/model.ts';
import type { ParseIssueResult } from '../issue/parse-issue.ts';
import type { Templates } from '../render/compile-templates.ts';
import type { FeedEntry, FeedTexts, IssueMeta, Rendition, SiteInfo, TemplateSources } from '../render/types.ts';

/** One file's bytes to parse, named as diagnostics should name it. */
export interface ParseRequest {
  bytes: Uint8Array;
  /** The file as shown in diagnostics (relative to the project root). */
  file: string;
  timezone: string;
  maxBytes: number;
}

/** One parsed issue to render. Templates travel as sources, compiled once per fingerprint. */
export interface RenderRequest {
  issue: Issue;
  meta: IssueMeta;
  site: SiteInfo;
  templates: { fingerprint: string; sources: TemplateSources };
}

export interface RenderOutcome {
  rendition?: Rendition;
  diagnostics: Diagnostic[];
}

/** The entries of every published issue, for the Atom, RSS and JSON feeds. */
export interface FeedsRequest {
  entries: FeedEntry[];
  site: SiteInfo;
}

/**
 * Where issue files are parsed and rendered. The wiring passes one that works off the event
 * loop with a time budget per file (`createWorkerIssueParser`); tests may pass one that hangs.
 * Neither method rejects for anything about the file: that is always a diagnostic.
 */
export interface IssueParser {
  parse(request: ParseRequest): Promise<ParseIssueResult>;
  render(request: RenderRequest): Promise<RenderOutcome>;
  /**
   * Renders the feeds (`renderFeeds`, which throws E_FEED for an entry it cannot take): they
   * hold every issue's whole content, megabytes for big ones. Optional: without it the
   * caller renders them itself.
   */
  renderFeeds?(request: FeedsRequest): Promise<FeedTexts>;
  /**
   * Releases the worker, if any, without waiting for the file in progress: requests made
   * before it and not yet answered reject with E_ABORTED. Later calls start a new worker.
   */
  close(): Promise<void>;
  /**
   * Lets an idle worker go now (nothing asked and not yet answered); the next request starts a
   * new one. For a caller that knows no file comes for a long while: a send, once its issue is
   * rendered, would otherwise keep a second Node process (its own V8 heap) for the whole run.
   */
  release?(): void;
  /**
   * Starts the worker now, if there is one and none runs: a daemon calls it before it listens,
   * so starting a process (a synchronous fork of several milliseconds) never lands on a request.
   */
  prepare?(): void;
}

/**
 * Compiled templates by fingerprint, keeping the latest few: a long-running process sees
 * templates change, rarely more than one set at a time. Handlebars is loaded on the first
 * miss: a process that only parses (a send whose email the build already rendered) never
 * loads it.
 */
export function createTemplateCache(limit = 2): (templates: RenderRequest['templates']) => Promise<Templates> {
  const compiled = new Map<string, Templates>();
  return async ({ fingerprint, sources }) => {
    let found = compiled.get(fingerprint);
    if (!found) {
      const { compileTemplates } = await import('../render/compile-templates.ts');
      found = compileTemplates(sources);
      compiled.set(fingerprint, found);
      if (compiled.size > limit) compiled.delete(compiled.keys().next().value as string);
    }
    return found;
  };
}

/**
 * The compiled templates of this thread: `check` compiles them first to report a broken
 * template once, and every in-process parser then renders with that same compiled set.
 */
export const compiledTemplatesFor = createTemplateCache();

/** Parses and renders on the calling thread, without a budget: for scripts and the worker itself. */
export function createInProcessIssueParser(options: { onProgress?: (line: number) => void } = {}): IssueParser {
  const templatesFor = compiledTemplatesFor;
  return {
    async parse(request) {
      // Loaded on the first file: an app made for a command that never parses does not carry it.
      const { parseIssueFile } = await import('../issue/parse-issue.ts');
      return parseIssueFile(request.bytes, request.file, {
        timezone: request.timezone,
        maxBytes: request.maxBytes,
        onProgress: options.onProgress,
      });
    },
    async render(request) {
      options.onProgress?.(request.issue.sections[0]?.position.line ?? 1);
      // Loaded on the first render, for the same reason as the templates.
      const [{ renderIssueSafely }, templates] = await Promise.all([import('../render/render-issue-safely.ts'), templatesFor(request.templates)]);
      return renderIssueSafely(request.issue, request.meta, templates, request.site);
    },
    async renderFeeds(request) {
      // Loaded on first use: `check` never renders feeds and need not load the feed package.
      const { renderFeeds } = await import('../render/render-feeds.ts');
      return renderFeeds(request.entries, request.site);
    },
    async close() {},
  };
}
