import { Worker } from 'node:worker_threads';
import type { Diagnostic, DiagnosticCode } from '../issue/diagnostic.ts';
import { LetterpressError } from '../util/errors.ts';
import type { ParseIssueResult } from '../issue/parse-issue.ts';
import type { RenderedFeeds } from '../render/types.ts';
import type { FeedsOutcome, WorkerReply, WorkerRequest } from './issue-parser-worker.ts';
import type { FeedsRequest, IssueParser, ParseRequest, RenderOutcome, RenderRequest } from './issue-parser.ts';

export interface WorkerIssueParserOptions {
  /** Longest one file may take to parse, or to render (limits.parseSeconds). */
  budgetMs: number;
  /** Heap limit of the worker, so a memory bomb ends the worker, not the process. */
  maxHeapMb?: number;
}

/** How long a new worker may take to load before it takes its first request. */
const STARTUP_MS = 60_000;

const FROM_SOURCE = import.meta.url.endsWith('.ts');
const WORKER_URL = new URL(`./issue-parser-worker${FROM_SOURCE ? '.ts' : '.js'}`, import.meta.url);

/**
 * A new worker running the parser. From source (the development bin registers tsx
 * in-process; vitest transforms on its own) the worker must load TypeScript too: `--import`
 * in a worker's execArgv is not applied to its entry, so a two-line script registers tsx
 * first and then imports the entry.
 */
function spawnWorker(maxHeapMb: number): Worker {
  const resourceLimits = { maxOldGenerationSizeMb: maxHeapMb };
  if (!FROM_SOURCE) return new Worker(WORKER_URL, { resourceLimits });
  const boot =
    `const { workerData } = require('node:worker_threads');` +
    `import(workerData.tsx).then(({ register }) => { register(); return import(workerData.entry); });`;
  return new Worker(boot, {
    eval: true,
    resourceLimits,
    workerData: { tsx: import.meta.resolve('tsx/esm/api'), entry: WORKER_URL.href },
  });
}

/** The worker parser, and which thread serves it now (undefined: none started, or let go). */
export interface WorkerIssueParser extends IssueParser {
  release(): void;
  threadId(): number | undefined;
}

/**
 * Parses and renders issue files in one worker thread, one request at a time, so that the
 * event loop serving HTTP and signals never runs the parser. A request that takes longer
 * than the budget ends the worker and becomes E_TOO_SLOW at the line the parser last
 * reported; the next request starts a fresh worker. One worker serves every file otherwise,
 * until `release()` finds it idle and lets it go. `close()` abandons what is in progress (a shutdown never waits for a file): it ends the
 * worker at once, and the requests it had or that still wait reject with E_ABORTED.
 */
export function createWorkerIssueParser(options: WorkerIssueParserOptions): WorkerIssueParser {
  let worker: Worker | undefined;
  let sentTemplates = new Set<string>();
  let nextId = 1;
  let queue: Promise<unknown> = Promise.resolve();
  /** Requests asked and not yet answered (running or waiting their turn): release() waits for none. */
  let unanswered = 0;
  // Bumped by close(): requests made before it are abandoned, later ones start a new worker.
  let generation = 0;
  let pending:
    | {
        id: number;
        worker: Worker;
        line: number;
        /** The worker has the request: the budget starts now, not while a new worker loads. */
        begin: () => void;
        settle: (reply: WorkerReply | { kind: 'exit'; why: string }) => void;
        abandon: () => void;
      }
    | undefined;

  const start = (): Worker => {
    const started = spawnWorker(options.maxHeapMb ?? 512);
    started.on('message', (reply: WorkerReply) => {
      if (!pending || reply.id !== pending.id) return;
      if (reply.kind === 'started') pending.begin();
      else if (reply.kind === 'progress') pending.line = reply.line;
      else pending.settle(reply);
    });
    const lost = (why: string) => {
      if (worker === started) {
        worker = undefined;
        sentTemplates = new Set();
      }
      if (pending?.worker === started) pending.settle({ kind: 'exit', why });
    };
    started.on('error', (error) => lost(error.message));
    started.on('exit', (code) => lost(`the parser worker exited (status ${code})`));
    // An idle worker never keeps the process alive.
    started.unref();
    sentTemplates = new Set();
    return started;
  };

  const run = <T>(file: string, message: () => Omit<WorkerRequest, 'id'>, what: string): Promise<T | Diagnostic> => {
    const asked = generation;
    const abandoned = () => new LetterpressError('E_ABORTED', `${what} ${file} was abandoned: the parser was closed (shutting down)`);
    const task = queue.then(
      () =>
        new Promise<T | Diagnostic>((resolve, reject) => {
          if (asked !== generation) return reject(abandoned());
          const active = (worker ??= start());
          const id = nextId++;
          const fail = (code: DiagnosticCode, line: number, text: string): Diagnostic => ({
            file,
            line: Math.max(1, line),
            column: 1,
            severity: 'error',
            code,
            message: text,
          });
          const expire = () => {
            const line = pending?.line ?? 1;
            pending = undefined;
            resolve(
              fail(
                'E_TOO_SLOW',
                line,
                `${what} took longer than ${options.budgetMs / 1000} s (limits.parseSeconds) and was stopped here; ` +
                  'the file is probably built to be slow (huge runs of one character, deep nesting): simplify it',
              ),
            );
            if (worker === active) worker = undefined;
            void active.terminate();
          };
          // A fresh worker first loads the parser and MJML: that gets its own, looser limit.
          let timer = setTimeout(expire, Math.max(options.budgetMs, STARTUP_MS));
          pending = {
            id,
            worker: active,
            line: 1,
            begin: () => {
              clearTimeout(timer);
              timer = setTimeout(expire, options.budgetMs);
            },
            settle: (reply) => {
              clearTimeout(timer);
              const line = pending?.line ?? 1;
              pending = undefined;
              if (reply.kind === 'done') resolve(reply.result as T);
              else if (reply.kind === 'failed') resolve(fail('E_PARSER_CRASH', line, `${what} failed: ${reply.message}`));
              else if (reply.kind === 'exit') resolve(fail('E_PARSER_CRASH', line, `${what} stopped: ${reply.why}`));
            },
            abandon: () => {
              clearTimeout(timer);
              pending = undefined;
              reject(abandoned());
            },
          };
          active.postMessage({ ...message(), id } as WorkerRequest);
        }),
    );
    unanswered += 1;
    const answered = () => void (unanswered -= 1);
    task.then(answered, answered);
    // The chain never breaks: one abandoned request does not hold back the next.
    queue = task.catch(() => undefined);
    return task;
  };

  const isDiagnostic = (value: unknown): value is Diagnostic =>
    typeof value === 'object' && value !== null && 'code' in value && 'severity' in value;

  return {
    async parse(request: ParseRequest): Promise<ParseIssueResult> {
      const result = await run<ParseIssueResult>(request.file, () => ({ kind: 'parse', request }), 'parsing');
      return isDiagnostic(result) ? { diagnostics: [result] } : result;
    },
    async render(request: RenderRequest): Promise<RenderOutcome> {
      const { fingerprint, sources } = request.templates;
      // Sent once per worker: the worker keeps them, so a build sends each set one time.
      const result = await run<RenderOutcome>(
        request.issue.sourcePath,
        () => {
          const known = sentTemplates.has(fingerprint);
          sentTemplates.add(fingerprint);
          return { kind: 'render', request: { ...request, templates: { fingerprint, ...(!known && { sources }) } } };
        },
        'rendering',
      );
      return isDiagnostic(result) ? { diagnostics: [result] } : result;
    },
    async renderFeeds(request: FeedsRequest): Promise<RenderedFeeds> {
      const result = await run<FeedsOutcome>('the feeds', () => ({ kind: 'feeds', request }), 'rendering');
      // Feeds are never skipped: when the worker cannot make them (over the budget, or it
      // crashed), this thread does, as it did before they moved to the worker.
      if (isDiagnostic(result)) {
        // Loaded here, not at the top: commands that never render (status) must not load the renderer.
        const { renderFeeds } = await import('../render/render-feeds.ts');
        return renderFeeds(request.entries, request.site);
      }
      if ('error' in result) throw new LetterpressError(result.error.code, result.error.message);
      return result.feeds;
    },
    threadId() {
      return worker?.threadId;
    },
    release() {
      if (unanswered > 0 || !worker) return;
      const idle = worker;
      worker = undefined;
      void idle.terminate();
    },
    async close() {
      generation += 1;
      const active = worker;
      worker = undefined;
      pending?.abandon();
      if (active) await active.terminate();
    },
  };
}
