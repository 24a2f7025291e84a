import type { Diagnostic } from '../issue/diagnostic.ts';
import type { ParseIssueResult } from '../issue/parse-issue.ts';
import { createInProcessIssueParser, type IssueParser } from './issue-parser.ts';
import { createWorkerIssueParser } from './worker-issue-parser.ts';

/**
 * Files up to this size are parsed and rendered on the calling thread. The sample issues are
 * 4–5 KB; the parser's scans are linear, so a file this small parses in milliseconds whatever
 * its shape, and only the big files of the hostile corpus need to be stoppable.
 */
export const INLINE_MAX_BYTES = 16 * 1024;

export interface OneShotIssueParserOptions {
  /** Longest one file may take to parse, or to render (limits.parseSeconds). */
  budgetMs: number;
  inlineMaxBytes?: number;
  /** The parser for big files; a worker with the same budget unless given (tests). */
  createWorker?: () => IssueParser;
  /** Milliseconds now, for the after-the-fact budget check (tests pass a fake). */
  now?: () => number;
}

/**
 * The issue parser of one-shot commands (`check`), where no HTTP server or signal handler
 * shares the event loop: a worker process costs its own start-up and a second copy of the
 * parser, the renderer and MJML, several times what checking a few issues takes. Small files
 * are handled in-process; any file over `inlineMaxBytes` goes to the worker (started on the
 * first such file), which can stop it at the budget. An in-process file that still took
 * longer than the budget gets the same E_TOO_SLOW, so `check` reports what the daemon would.
 */
export function createOneShotIssueParser(options: OneShotIssueParserOptions): IssueParser {
  const limit = options.inlineMaxBytes ?? INLINE_MAX_BYTES;
  const now = options.now ?? (() => performance.now());
  let line = 1;
  const inline = createInProcessIssueParser({ onProgress: (reached) => void (line = reached) });
  let worker: IssueParser | undefined;
  const getWorker = () =>
    (worker ??= options.createWorker?.() ?? createWorkerIssueParser({ budgetMs: options.budgetMs }));
  // Files parsed in-process are rendered in-process too; the rest were the worker's.
  const inlineFiles = new Set<string>();

  const overBudget = (file: string, what: string): Diagnostic => ({
    file,
    line: Math.max(1, line),
    column: 1,
    severity: 'error',
    code: 'E_TOO_SLOW',
    message:
      `${what} took longer than ${options.budgetMs / 1000} s (limits.parseSeconds) here; ` +
      'the file is probably built to be slow (huge runs of one character, deep nesting): simplify it',
  });

  const timed = async <T extends { diagnostics: Diagnostic[] }>(file: string, what: string, work: () => Promise<T>) => {
    line = 1;
    const started = now();
    const result = await work();
    return now() - started > options.budgetMs ? { diagnostics: [overBudget(file, what)] } : result;
  };

  return {
    async parse(request): Promise<ParseIssueResult> {
      if (request.bytes.byteLength > limit) return getWorker().parse(request);
      inlineFiles.add(request.file);
      return timed(request.file, 'parsing', () => inline.parse(request));
    },
    async render(request) {
      const file = request.issue.sourcePath;
      if (!inlineFiles.has(file)) return getWorker().render(request);
      return timed(file, 'rendering', () => inline.render(request));
    },
    // No server shares this thread: the feeds are rendered here.
    renderFeeds: (request) => inline.renderFeeds!(request),
    release() {
      worker?.release?.();
    },
    async close() {
      await worker?.close();
      worker = undefined;
    },
  };
}
