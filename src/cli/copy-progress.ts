import type { CopyEvent } from '../store/copy-store.ts';
import type { Output } from './progress.ts';

/**
 * Shows a `migrate` copy: a redrawn line per table on a terminal, a log line every few seconds
 * otherwise (and one when a table is done), so a long copy never looks stuck.
 */
export function createCopyProgress(stream: Output, options: { intervalMs?: number; now?: () => number } = {}) {
  const interval = options.intervalMs ?? 2000;
  const now = options.now ?? (() => Date.now());
  let lastLog = now();
  let drew = false;
  const verb = (event: CopyEvent) => (event.kind === 'check' ? 'comparing' : 'copying');
  return {
    onEvent(event: CopyEvent): void {
      const line = `${verb(event)} ${event.table}: ${event.done}/${event.total} rows`;
      if (stream.isTTY) {
        stream.write(`\r\x1b[2K${line}`);
        drew = true;
        if (event.done >= event.total) {
          stream.write('\n');
          drew = false;
        }
      } else if (event.done >= event.total || now() - lastLog >= interval) {
        lastLog = now();
        stream.write(`${line}\n`);
      }
    },
    finish(): void {
      if (drew) stream.write('\r\x1b[2K');
      drew = false;
    },
  };
}
