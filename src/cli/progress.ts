import type { BuildProgress } from '../site/build-site.ts';
import { escapeForTerminal } from '../util/escape-for-terminal.ts';

/** Where a command writes: the real streams in production, buffers in tests. */
export interface Output {
  write(text: string): void;
  isTTY?: boolean;
}

/**
 * Shows build progress: a redrawn line on a terminal, a log line every few seconds
 * otherwise (CI logs and daemons must not fill up with carriage returns).
 */
export function createBuildProgress(stream: Output, options: { intervalMs?: number; now?: () => number } = {}) {
  const interval = options.intervalMs ?? 2000;
  const now = options.now ?? (() => Date.now());
  let lastLog = now();
  let drew = false;
  return {
    onProgress(event: BuildProgress): void {
      if (event.phase !== 'render') return;
      if (stream.isTTY) {
        const width = 24;
        const filled = Math.round((event.done / event.total) * width);
        stream.write(`\r\x1b[2K[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${event.done}/${event.total} ${escapeForTerminal(event.slug)}`);
        drew = true;
      } else if (now() - lastLog >= interval) {
        lastLog = now();
        stream.write(`rendering: ${event.done}/${event.total} issues checked\n`);
      }
    },
    finish(): void {
      if (drew) stream.write('\r\x1b[2K');
    },
  };
}
