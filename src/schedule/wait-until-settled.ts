import { stat } from 'node:fs/promises';
import { listIssueFiles } from '../project/list-issue-files.ts';

/** Every issue file's size and modification time, as one comparable string, and the newest mtime. */
async function snapshotIssueFiles(dir: string): Promise<{ key: string; newest: number }> {
  let newest = 0;
  const parts: string[] = [];
  for (const file of await listIssueFiles(dir)) {
    try {
      const info = await stat(file);
      newest = Math.max(newest, info.mtimeMs);
      parts.push(`${file}\u0000${info.size}\u0000${info.mtimeMs}`);
    } catch {
      // Deleted between listing and stat: nothing to wait for.
    }
  }
  return { key: parts.join('\u0001'), newest };
}

/**
 * Waits until no issue file has changed for `settleMs` and sizes and mtimes hold still across
 * one more short look, so a file that an editor or a copy is still writing is never parsed
 * half-written (a copy that sets the original mtime at the end still grows meanwhile). Gives up
 * waiting after `maxWaitMs` (a file rewritten forever must not block the daemon) and says so.
 */
export async function waitUntilSettled(options: {
  dir: string;
  settleMs: number;
  maxWaitMs: number;
  now: () => number;
  sleep: (ms: number) => Promise<void>;
}): Promise<boolean> {
  const started = options.now();
  const recheckMs = Math.min(250, options.settleMs);
  for (;;) {
    const first = await snapshotIssueFiles(options.dir);
    const quietFor = options.now() - first.newest;
    if (quietFor >= options.settleMs) {
      if (recheckMs === 0) return true;
      await options.sleep(recheckMs);
      if ((await snapshotIssueFiles(options.dir)).key === first.key) return true;
    } else {
      await options.sleep(Math.max(1, Math.min(options.settleMs - quietFor, options.settleMs)));
    }
    if (options.now() - started >= options.maxWaitMs) return false;
  }
}
