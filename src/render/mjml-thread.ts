import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { compileCacheDirectory } from '../util/compile-cache.ts';
import { resolveSiblingModule } from '../util/resolve-sibling-module.ts';
import { compileMjmlHere } from './mjml-compiler.ts';

/** What the thread answers for one compile. */
export type MjmlThreadReply = { id: number; html: string } | { id: number; error: { message: string; errors?: unknown } };

export interface MjmlThread {
  /** MJML to HTML with MJML_OPTIONS; rejects with an Error carrying MJML's `errors` list. */
  compile(mjml: string): Promise<string>;
  /** Lets the thread finish (it keeps the code it compiled for the next run) and waits for it. */
  close(): Promise<void>;
}

/**
 * Starts a thread that loads MJML at once and then compiles what it is sent; `check` starts it
 * before it reads the configuration. Loading MJML (several hundred CommonJS modules) was about
 * a third of a cold `check`, and on this thread it waited until the first email was rendered;
 * on its own thread it loads while this one reads the configuration, parses the issues and
 * compiles the templates. Should the thread fail, what it had and what follows compile on this
 * thread instead. Undefined where it cannot help: one core only, or from source (a
 * thread of `.ts` modules would need a TypeScript loader of its own).
 */
export function startMjmlThread(entry: URL = resolveSiblingModule(import.meta.url, 'mjml-thread-worker')): MjmlThread | undefined {
  if (entry.pathname.endsWith('.ts') || availableParallelism() < 2) return undefined;
  const worker = new Worker(fileURLToPath(entry), { workerData: { compileCacheDirectory: compileCacheDirectory() } });
  const waiting = new Map<number, { mjml: string; resolve: (html: string) => void; reject: (error: Error) => void }>();
  let nextId = 1;
  // A thread that failed to start or stopped early: what it had, and all that follows, compiles here.
  let failed = false;
  const failAll = () => {
    failed = true;
    for (const { mjml, resolve, reject } of waiting.values()) compileMjmlHere(mjml).then(resolve, reject);
    waiting.clear();
  };
  worker.on('message', (reply: MjmlThreadReply) => {
    const request = waiting.get(reply.id);
    if (!request) return;
    waiting.delete(reply.id);
    if ('html' in reply) request.resolve(reply.html);
    else request.reject(Object.assign(new Error(reply.error.message), reply.error.errors === undefined ? {} : { errors: reply.error.errors }));
  });
  worker.on('error', failAll);
  const exited = new Promise<void>((resolve) =>
    worker.once('exit', () => {
      failAll();
      resolve();
    }),
  );
  return {
    compile(mjml) {
      if (failed) return compileMjmlHere(mjml);
      const id = nextId++;
      return new Promise<string>((resolve, reject) => {
        waiting.set(id, { mjml, resolve, reject });
        worker.postMessage({ id, mjml });
      });
    },
    async close() {
      worker.postMessage({ close: true });
      await exited;
    },
  };
}
