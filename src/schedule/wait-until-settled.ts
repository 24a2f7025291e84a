import { stat } from 'node:fs/promises';
import { listIssueFiles } from '../build/list-issue-files.ts';

/** The newest modification time among the issue files (0 when there are none). */
async function newestModification(dir: string): Promise<number> {
  let newest = 0;
  for (const file of await listIssueFiles(dir)) {
    try {
      newest = Math.max(newest, (await stat(file)).mtimeMs);
    } catch {
      // Deleted between listing and stat: nothing to wait for.
    }
  }
  return newest;
}

/**
 * Waits until no issue file has changed for `settleMs`, so a file that an editor or a copy is
 * still writing is never parsed half-written. Gives up waiting after `maxWaitMs` (a file
 * rewritten forever must not block the daemon) and says so.
 */
export async function waitUntilSettled(options: {
  dir: string;
  settleMs: number;
  maxWaitMs: number;
  now: () => number;
  sleep: (ms: number) => Promise<void>;
}): Promise<boolean> {
  const started = options.now();
  for (;;) {
    const quietFor = options.now() - (await newestModification(options.dir));
    if (quietFor >= options.settleMs) return true;
    if (options.now() - started >= options.maxWaitMs) return false;
    await options.sleep(Math.min(options.settleMs - quietFor, options.settleMs));
  }
}
