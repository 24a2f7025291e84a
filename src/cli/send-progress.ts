import type { SendEvent } from '../deliver/run-send.ts';
import type { SendReport } from '../deliver/send-issue.ts';
import type { Output } from './progress.ts';
import { escapeForTerminal } from '../util/escape-for-terminal.ts';

function formatDuration(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  return minutes < 60 ? `${minutes}m${String(seconds % 60).padStart(2, '0')}s` : `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}

/** One line per finished issue: what happened and how fast. */
export function formatSendSummary(report: SendReport): string {
  const seconds = report.durationMs / 1000;
  const handled = report.sent + report.failed + report.bounced + report.deferred + report.skipped;
  const rate = seconds > 0 ? (report.sent / seconds).toFixed(1) : '0';
  const parts = [
    `${report.sent} sent`,
    `${report.failed} failed`,
    `${report.bounced} bounced`,
    `${report.skipped} skipped`,
    `${report.deferred} deferred`,
  ];
  let line = `${escapeForTerminal(report.slug)}: ${parts.join(', ')} in ${seconds.toFixed(1)} s (${rate} msg/s, ${handled} handled)`;
  if (report.remainingDeferred > 0) {
    line += `; ${report.remainingDeferred} deferred for retry${report.nextRetryAt ? ` from ${report.nextRetryAt}` : ''} (run send again, or leave it to the daemon)`;
  }
  if (report.elsewhere) {
    line += `; ${report.elsewhere.count} in flight with another sender (lease until ${report.elsewhere.until}; if that sender died, they go back to the queue then: send again after it)`;
  }
  if (report.lost > 0) {
    line += `; ${report.lost} lost to a lapsed lease (this run stalled; another sender may send them)`;
  }
  if (report.complete) line += '; complete';
  return line;
}

/**
 * Shows a send: a redrawn bar with rate and ETA on a terminal, a log line every few seconds
 * otherwise, and the notable events (planning, orphans) as lines.
 */
export function createSendProgress(stream: Output, options: { intervalMs?: number; now?: () => number } = {}) {
  const interval = options.intervalMs ?? 5000;
  const now = options.now ?? (() => Date.now());
  let started = now();
  let lastLog = now();
  let lastDraw = 0;
  let drew = false;
  const clear = () => {
    if (drew) stream.write('\r\x1b[2K');
    drew = false;
  };
  return {
    onEvent(event: SendEvent): void {
      switch (event.kind) {
        case 'planned':
          clear();
          stream.write(`${escapeForTerminal(event.slug)}: planned ${event.rows} deliveries (the subscribers active now)\n`);
          break;
        case 'requeued-orphans':
          clear();
          stream.write(`${escapeForTerminal(event.slug)}: ${event.rows} messages left "sending" by an interrupted run (its lease lapsed) go back to the queue\n`);
          break;
        case 'start':
          clear();
          started = now();
          lastLog = started;
          // The title comes from the issue file: shown escaped, so it stays on this one line.
          stream.write(`${escapeForTerminal(event.slug)}: sending ${event.total} messages via ${escapeForTerminal(event.transport)}: ${escapeForTerminal(event.title)}\n`);
          break;
        case 'progress': {
          const { done, total, sent, failed, deferred, bounced, skipped } = event.progress;
          const elapsed = Math.max(1, now() - started);
          const rate = (done / elapsed) * 1000;
          const eta = rate > 0 ? ((total - done) / rate) * 1000 : 0;
          if (stream.isTTY) {
            // Redraw at most ten times a second: a terminal cannot show thousands of frames anyway.
            if (done < total && now() - lastDraw < 100) break;
            lastDraw = now();
            const width = 24;
            const filled = total ? Math.min(width, Math.round((done / total) * width)) : width;
            stream.write(
              `\r\x1b[2K[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} ${rate.toFixed(0)} msg/s ETA ${formatDuration(eta)}  sent ${sent} failed ${failed + bounced} deferred ${deferred} skipped ${skipped}`,
            );
            drew = true;
          } else if (now() - lastLog >= interval) {
            lastLog = now();
            stream.write(
              `${escapeForTerminal(event.progress.slug)}: ${done}/${total} (${rate.toFixed(0)} msg/s, ETA ${formatDuration(eta)}): sent ${sent}, failed ${failed}, bounced ${bounced}, deferred ${deferred}, skipped ${skipped}\n`,
            );
          }
          break;
        }
        case 'done':
          clear();
          break;
      }
    },
    finish(): void {
      clear();
    },
  };
}
