import { fileURLToPath } from 'node:url';
import { LetterpressError } from '../util/errors.ts';
import type { LetterpressCode } from '../util/error-codes.ts';
import type { FeedTexts } from '../render/types.ts';
import { createInProcessIssueParser, type FeedsRequest, type ParseRequest, type RenderRequest } from './issue-parser.ts';
import { joinLongStrings, splitLongStrings } from './long-strings.ts';

/** A piece of a long string of the message with the same id that follows (`long-strings.ts`). */
export type PieceMessage = { id: number; kind: 'piece'; text: string };

/**
 * What the server process asks; `templates.sources` is left out once this worker has them.
 * Its long strings come first, as pieces.
 */
export type WorkerRequest =
  | PieceMessage
  | { id: number; kind: 'parse'; request: ParseRequest }
  | { id: number; kind: 'render'; request: Omit<RenderRequest, 'templates'> & { templates: { fingerprint: string; sources?: RenderRequest['templates']['sources'] } } }
  | { id: number; kind: 'feeds'; request: FeedsRequest };

/** The feeds, or the LetterpressError rendering them threw (its code survives the thread hop). */
export type FeedsOutcome = { feeds: FeedTexts } | { error: { code: LetterpressCode; message: string } };

/**
 * What the worker answers: progress (the line reached) while working, then one result, its
 * long strings sent as pieces just before it.
 */
export type WorkerReply =
  | PieceMessage
  | { id: number; kind: 'started' }
  | { id: number; kind: 'progress'; line: number }
  | { id: number; kind: 'done'; result: unknown }
  | { id: number; kind: 'failed'; message: string };

// Progress is posted at most every few milliseconds: a message per line would cost more
// than parsing the line.
const PROGRESS_INTERVAL_MS = 5;

// Run as the entry of a child process (`fork`, advanced serialization); imported, it does nothing.
const send = process.argv[1] === fileURLToPath(import.meta.url) ? process.send?.bind(process) : undefined;
if (send) {
  const post = (reply: WorkerReply) => void send(reply);
  // Ctrl-C reaches the whole process group: the server decides when this process ends (it
  // kills it, or closes the channel), so a file is never reported as crashed by a shutdown.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => undefined);
  process.on('disconnect', () => process.exit(0));
  // A server that died by a signal closes no channel this process sees while it parses:
  // being handed to another parent is the sign, checked as the parse goes and while idle.
  const parentPid = process.ppid;
  const leaveIfOrphaned = () => {
    if (process.ppid !== parentPid) process.exit(0);
  };
  setInterval(leaveIfOrphaned, 1000).unref();
  let current = 0;
  let lastPost = 0;
  let lastLine = 0;
  const parser = createInProcessIssueParser({
    onProgress: (line) => {
      if (line === lastLine) return;
      lastLine = line;
      const now = performance.now();
      if (now - lastPost < PROGRESS_INTERVAL_MS) return;
      lastPost = now;
      leaveIfOrphaned();
      post({ id: current, kind: 'progress', line });
    },
  });
  const sources = new Map<string, RenderRequest['templates']['sources']>();

  let pieces: string[] = [];
  process.on('message', async (received: WorkerRequest) => {
    if (received.kind === 'piece') return void pieces.push(received.text);
    const taken = pieces;
    pieces = [];
    current = received.id;
    lastLine = 0;
    lastPost = -Infinity;
    post({ id: received.id, kind: 'started' });
    let message: typeof received;
    try {
      message = await joinLongStrings(received, taken);
    } catch (error) {
      // The pieces did not add up: what this process holds (templates) cannot be trusted, so
      // it ends once the server has the reason, and the next request gets a new one.
      const reply: WorkerReply = { id: received.id, kind: 'failed', message: `the request arrived incomplete: ${(error as Error).message}` };
      return void send(reply, () => process.exit(1));
    }
    try {
      let result: unknown;
      if (message.kind === 'parse') {
        result = await parser.parse(message.request);
      } else if (message.kind === 'feeds') {
        try {
          result = { feeds: await parser.renderFeeds!(message.request) } satisfies FeedsOutcome;
        } catch (error) {
          if (!(error instanceof LetterpressError)) throw error;
          result = { error: { code: error.code, message: error.message } } satisfies FeedsOutcome;
        }
      } else {
        const { fingerprint } = message.request.templates;
        if (message.request.templates.sources) sources.set(fingerprint, message.request.templates.sources);
        const known = sources.get(fingerprint);
        if (!known) throw new Error(`templates ${fingerprint.slice(0, 12)} were never sent to this worker`);
        result = await parser.render({ ...message.request, templates: { fingerprint, sources: known } });
      }
      const split = splitLongStrings(result);
      for (const text of split.pieces) post({ id: received.id, kind: 'piece', text });
      post({ id: received.id, kind: 'done', result: split.value });
    } catch (error) {
      post({ id: received.id, kind: 'failed', message: (error as Error).message ?? String(error) });
    }
  });
}
