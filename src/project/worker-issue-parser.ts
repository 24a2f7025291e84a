import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Diagnostic, DiagnosticCode } from '../issue/diagnostic.ts';
import { LetterpressError } from '../util/errors.ts';
import { resolveSiblingModule } from '../util/resolve-sibling-module.ts';
import type { ParseIssueResult } from '../issue/parse-issue.ts';
import type { FeedTexts } from '../render/types.ts';
import type { FeedsOutcome, WorkerReply, WorkerRequest } from './issue-parser-worker.ts';
import type { FeedsRequest, IssueParser, ParseRequest, RenderOutcome, RenderRequest } from './issue-parser.ts';
import { joinLongStrings, splitLongStrings } from './long-strings.ts';

export interface WorkerIssueParserOptions {
  /** Longest one file may take to parse, or to render (limits.parseSeconds). */
  budgetMs: number;
  /** Heap limit of the worker, so a memory bomb ends the worker, not the process. */
  maxHeapMb?: number;
  /** CPU milliseconds a process has used (tests pass a fake); undefined when unknown. */
  cpuTimeMs?: (pid: number) => number | undefined;
}

/**
 * The worker's scheduling priority (nice 19): when the server and the worker want the same
 * core, the server wins, and its answers do not wait behind a file being parsed. Measured on
 * two cores parsing the hostile corpus: `/healthz` p99 5.3–6.6 ms instead of 6.6–8.4 ms.
 */
const WORKER_NICE = 19;

/**
 * A worker at low priority on a busy machine may get little CPU: the budget is then counted
 * in CPU time (a file is stopped for being slow, not for waiting its turn), up to this many
 * times the budget in wall time.
 */
const STARVED_WALL_FACTOR = 4;

/** CPU milliseconds (user + system) process `pid` has used, from /proc (Linux); undefined elsewhere. */
export function procCpuTimeMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // After the command name in parentheses (which may hold spaces): utime and stime are
    // fields 14 and 15, in clock ticks of 1/100 s (USER_HZ, fixed for /proc).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? ticks * 10 : undefined;
  } catch {
    return undefined;
  }
}

/** How long a new worker may take to load before it takes its first request. */
const STARTUP_MS = 60_000;

const FROM_SOURCE = import.meta.url.endsWith('.ts');
const WORKER_PATH = fileURLToPath(resolveSiblingModule(import.meta.url, 'issue-parser-worker'));

/**
 * The last characters of the worker's stderr kept to say why it died: V8's out-of-memory
 * report is a FATAL ERROR line followed by a backtrace of a couple of kilobytes.
 */
const STDERR_TAIL = 16 * 1024;

/** The line of a dead worker's stderr that says why: V8's FATAL ERROR line, else the last one. */
export function reasonFromStderr(stderr: string): string | undefined {
  const lines = stderr.split('\n').map((line) => line.trim()).filter((line) => line !== '');
  return lines.findLast((line) => /FATAL ERROR|out of memory/i.test(line)) ?? lines.at(-1);
}

/**
 * The environment of a worker: this process's, without the NODE_OPTIONS that would make it
 * compete for what only one process can hold (an inspector port).
 */
function workerEnv(): NodeJS.ProcessEnv {
  const options = process.env.NODE_OPTIONS;
  if (!options || !/--inspect/.test(options)) return process.env;
  const kept = options.split(/\s+/).filter((option) => option !== '' && !option.startsWith('--inspect'));
  return { ...process.env, NODE_OPTIONS: kept.join(' ') };
}

/**
 * A new worker process running the parser. A process, not a thread: V8's garbage-collection
 * helper threads serve a whole process, so a worker thread collecting the heaps of big
 * renditions took cores from the thread serving HTTP; `--single-threaded-gc` keeps a parser
 * process's collection on its own thread. From source (vitest, the development bin) the
 * process loads TypeScript through tsx.
 */
function spawnWorker(maxHeapMb: number): ChildProcess {
  const execArgv = [
    '--single-threaded-gc',
    `--max-old-space-size=${maxHeapMb}`,
    ...(FROM_SOURCE ? ['--import', import.meta.resolve('tsx')] : []),
  ];
  const child = fork(WORKER_PATH, [], { execArgv, env: workerEnv(), serialization: 'advanced', stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  // Set on the worker's main thread, which does the parsing (its collector runs there too).
  if (child.pid !== undefined) {
    try {
      os.setPriority(child.pid, WORKER_NICE);
    } catch {
      // Not allowed here (some containers): the worker runs at the server's priority.
    }
  }
  return child;
}

/** The worker parser, and which process serves it now (undefined: none started, or let go). */
export interface WorkerIssueParser extends IssueParser {
  release(): void;
  prepare(): void;
  workerPid(): number | undefined;
}

/**
 * Parses and renders issue files in one worker process, one request at a time, so that the
 * event loop serving HTTP and signals never runs the parser. A request that takes longer
 * than the budget ends the worker and becomes E_TOO_SLOW at the line the parser last
 * reported; the next request starts a fresh worker. One worker serves every file otherwise,
 * until `release()` finds it idle and lets it go. `close()` abandons what is in progress (a shutdown never waits for a file): it ends the
 * worker at once, and the requests it had or that still wait reject with E_ABORTED.
 */
export function createWorkerIssueParser(options: WorkerIssueParserOptions): WorkerIssueParser {
  const readCpuTimeMs = options.cpuTimeMs ?? procCpuTimeMs;
  let worker: ChildProcess | undefined;
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
        worker: ChildProcess;
        line: number;
        /** Pieces of the long strings of the result, as they come (`long-strings.ts`). */
        pieces: string[];
        /** The worker has the request: the budget starts now, not while a new worker loads. */
        begin: () => void;
        settle: (reply: WorkerReply | { kind: 'exit'; why: string }) => void;
        abandon: () => void;
      }
    | undefined;

  const start = (): ChildProcess => {
    const started = spawnWorker(options.maxHeapMb ?? 512);
    let stderr = '';
    started.stderr?.setEncoding('utf8');
    started.stderr?.on('data', (chunk: string) => void (stderr = (stderr + chunk).slice(-STDERR_TAIL)));
    started.on('message', (reply: WorkerReply) => {
      if (!pending || reply.id !== pending.id) return;
      if (reply.kind === 'piece') pending.pieces.push(reply.text);
      else if (reply.kind === 'started') pending.begin();
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
    started.on('error', (error) => {
      // A process that never started has no exit to wait for. One that did (its channel
      // closed under a send) is ended: its exit, which follows, says why it died.
      if (started.pid === undefined) {
        liveWorkers.delete(started);
        lost(error.message);
      } else {
        void stopWorker(started);
      }
    });
    started.on('exit', (code, signal) => {
      const reason = reasonFromStderr(stderr);
      lost(`the parser process exited (${signal ?? `status ${code}`})${reason ? `: ${reason}` : ''}`);
    });
    // An idle worker never keeps this process alive, and never outlives it.
    started.unref();
    started.channel?.unref();
    (started.stderr as { unref?: () => void } | null)?.unref?.();
    liveWorkers.add(started);
    started.once('exit', () => liveWorkers.delete(started));
    sentTemplates = new Set();
    return started;
  };

  /** `keepPieces`: the long strings of the result stay in pieces (joinLongStrings). */
  const run = <T>(file: string, message: () => Omit<WorkerRequest, 'id'>, what: string, keepPieces = false): Promise<T | Diagnostic> => {
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
          const cpuNow = () => (active.pid === undefined ? undefined : readCpuTimeMs(active.pid));
          // When the worker took the request, by the wall clock and by its CPU time.
          let begunAt = performance.now();
          let cpuAtBegin: number | undefined;
          const expire = () => {
            // Starved, not slow: the rest of the budget in CPU time, within the wall-clock cap.
            const used = cpuAtBegin === undefined ? undefined : cpuNow();
            const cpuSpent = used === undefined ? undefined : used - cpuAtBegin!;
            const wallSpent = performance.now() - begunAt;
            if (cpuSpent !== undefined && cpuSpent < options.budgetMs && wallSpent < options.budgetMs * STARVED_WALL_FACTOR) {
              timer = setTimeout(expire, Math.min(options.budgetMs - cpuSpent, options.budgetMs * STARVED_WALL_FACTOR - wallSpent));
              return;
            }
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
            void stopWorker(active);
          };
          // A fresh worker first loads the parser and MJML: that gets its own, looser limit.
          let timer = setTimeout(expire, Math.max(options.budgetMs, STARTUP_MS));
          pending = {
            id,
            worker: active,
            line: 1,
            pieces: [],
            begin: () => {
              clearTimeout(timer);
              begunAt = performance.now();
              cpuAtBegin = cpuNow();
              timer = setTimeout(expire, options.budgetMs);
            },
            settle: (reply) => {
              clearTimeout(timer);
              const line = pending?.line ?? 1;
              const pieces = pending?.pieces ?? [];
              pending = undefined;
              if (reply.kind === 'done') {
                joinLongStrings(reply.result, pieces, { keepPieces }).then(
                  // close() while the pieces were joined abandons this request like any other.
                  (result) => (asked === generation ? resolve(result as T) : reject(abandoned())),
                  (error: Error) => resolve(fail('E_PARSER_CRASH', line, `${what} failed: ${error.message}`)),
                );
              } else if (reply.kind === 'failed') resolve(fail('E_PARSER_CRASH', line, `${what} failed: ${reply.message}`));
              else if (reply.kind === 'exit') resolve(fail('E_PARSER_CRASH', line, `${what} stopped: ${reply.why}`));
            },
            abandon: () => {
              clearTimeout(timer);
              pending = undefined;
              reject(abandoned());
            },
          };
          const current = () => pending?.id === id;
          // A request that cannot be sent (not cloneable) fails here, not as an unhandled rejection.
          sendInPieces(active, splitLongStrings({ ...message(), id } as WorkerRequest), current).catch((error: Error) => {
            if (current()) pending!.settle({ id, kind: 'failed', message: `it could not be sent to the worker: ${error.message}` });
          });
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
    async renderFeeds(request: FeedsRequest): Promise<FeedTexts> {
      // The feeds are only written to out/: they stay in the pieces they came in, never
      // joined into strings of tens of megabytes on this thread.
      const result = await run<FeedsOutcome>('the feeds', () => ({ kind: 'feeds', request }), 'rendering', true);
      // Feeds are never skipped: when the worker cannot make them (over the budget, or it
      // crashed), this thread does, as it did before they moved to the worker.
      if (isDiagnostic(result)) {
        // Loaded here, not at the top: commands that never render (status) must not load the renderer.
        const { renderFeeds } = await import('../render/render-feeds.ts');
        return renderFeeds(request.entries, request.site);
      }
      if ('error' in result) throw new LetterpressError(result.error.code, result.error.message);
      return result.feeds as FeedTexts;
    },
    workerPid() {
      return worker?.pid;
    },
    prepare() {
      worker ??= start();
    },
    release() {
      if (unanswered > 0 || !worker) return;
      const idle = worker;
      worker = undefined;
      void stopWorker(idle);
    },
    async close() {
      generation += 1;
      const active = worker;
      worker = undefined;
      pending?.abandon();
      if (active) await stopWorker(active);
    },
  };
}

/** Worker processes still running, killed when this process exits however it exits normally. */
const liveWorkers = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of liveWorkers) child.kill('SIGKILL');
});

/**
 * Sends a request's long strings piece by piece, a turn of the event loop apart (so the server
 * answers between them), then the request; stops when `current()` says it was given up.
 */
async function sendInPieces(child: ChildProcess, split: { value: WorkerRequest; pieces: string[] }, current: () => boolean): Promise<void> {
  const { id } = split.value;
  for (const text of split.pieces) {
    if (!current()) return;
    child.send({ id, kind: 'piece', text } satisfies WorkerRequest);
    await yieldToEventLoop();
  }
  if (current()) child.send(split.value);
}

/** Ends a worker at once (it may be deep in a hostile file) and resolves once it is gone. */
function stopWorker(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    // Held until it is gone: with nothing else left to do, this process would otherwise end
    // before the exit is seen, with the promise of whoever waits on it unsettled.
    child.ref();
    child.kill('SIGKILL');
  });
}
