import { setImmediate as yieldToEventLoop } from 'node:timers/promises';

/**
 * Planning a million rows in one go would hold the writer (and an HTTP server sharing the
 * process) for seconds, so every driver plans in bounded id ranges of the active subscribers,
 * each its own short transaction, and yields between them. A driver supplies one chunk.
 */
export async function planInChunks(
  planChunk: (afterId: number) => Promise<{ created: number; lastId: number } | undefined>,
): Promise<number> {
  let created = 0;
  let afterId = 0;
  for (;;) {
    const chunk = await planChunk(afterId);
    if (chunk === undefined) return created;
    created += chunk.created;
    afterId = chunk.lastId;
    // Let an HTTP server sharing this process answer between chunks.
    await yieldToEventLoop();
  }
}
