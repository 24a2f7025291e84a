// The MJML thread's entry (see mjml-thread.ts): loads MJML at once, compiles each MJML source
// it is sent, and answers with the HTML or with MJML's error (its message and `errors` list,
// which is what the E_MJML diagnostic is made of). `close` ends the thread through
// process.exit, so the compile cache writes what this thread compiled.
import { parentPort, workerData } from 'node:worker_threads';
import { enableCompileCache } from '../util/compile-cache.ts';
import type { MjmlThreadReply } from './mjml-thread.ts';

const { compileCacheDirectory } = workerData as { compileCacheDirectory?: string };
if (compileCacheDirectory) enableCompileCache({ NODE_COMPILE_CACHE: compileCacheDirectory });
const { compileMjmlHere, preloadMjml } = await import('./mjml-compiler.ts');
const loading = preloadMjml();

parentPort!.on('message', async (message: { id: number; mjml: string } | { close: true }) => {
  if ('close' in message) process.exit(0);
  let reply: MjmlThreadReply;
  try {
    await loading;
    reply = { id: message.id, html: await compileMjmlHere(message.mjml) };
  } catch (error) {
    const errors = (error as { errors?: unknown }).errors;
    reply = { id: message.id, error: { message: error instanceof Error ? error.message : String(error), errors: structuredCloneable(errors) } };
  }
  parentPort!.postMessage(reply);
});

/** MJML's validation list is plain data; anything else is dropped rather than failing the reply. */
function structuredCloneable(value: unknown): unknown {
  try {
    return value === undefined ? undefined : structuredClone(value);
  } catch {
    return undefined;
  }
}
