import type { DaemonStatus, PassSummary } from '../schedule/daemon-status.ts';
import type { DeliveryCounts, DeliveryState, WorkerRecord } from '../store/types.ts';
import { displayWidth, truncateToWidth } from '../util/display-width.ts';
import { formatLocalTime } from '../util/timezone.ts';
import { escapeForTerminal } from '../util/escape-for-terminal.ts';

/** Human `status` output never runs wider than this (display columns, CJK counts two). */
export const STATUS_WIDTH = 100;

/** Why an issue's sending does not move: its last session error, as `status --json` prints it. */
export interface StalledView {
  code: string;
  message: string;
  since: string;
  nextRetryAt: string | null;
}

/** One issue as `status` knows it (UTC ISO times). */
export interface IssueStatusView {
  slug: string;
  title: string;
  state: string;
  publishedAt: string | null;
  counts: DeliveryCounts;
  stalled: StalledView | null;
  /** The earliest retry of a deferred row. */
  nextDeferredAt?: string;
}

export type DaemonView = DaemonStatus & { alive: boolean };

const COUNT_ORDER: readonly DeliveryState[] = ['queued', 'sending', 'sent', 'deferred', 'failed', 'bounced', 'skipped'];

/** "queued 4, sent 2": the counters that are not zero, in the ledger's order. */
export function formatCounts(counts: DeliveryCounts): string {
  return COUNT_ORDER.filter((state) => counts[state] > 0)
    .map((state) => `${state} ${counts[state]}`)
    .join(', ');
}

/** Words of `text` wrapped to `width` columns, each line after the first starting with `indent`. */
function wrapWords(text: string, width: number, first: string, indent: string): string[] {
  const lines: string[] = [];
  let line = first;
  let empty = true;
  for (const word of text.split(/\s+/).filter(Boolean)) {
    const candidate = empty ? `${line}${word}` : `${line} ${word}`;
    if (!empty && displayWidth(candidate) > width) {
      lines.push(line);
      line = `${indent}${word}`;
    } else {
      line = candidate;
    }
    empty = false;
  }
  lines.push(line);
  return lines.map((entry) => truncateToWidth(entry, width));
}

/**
 * One issue as lines for people: slug, state and title on the first, then what happened to
 * its deliveries (zero counters left out), and when stalled, why and when it is tried again.
 */
export function formatIssueStatus(view: IssueStatusView, options: { timezone: string; daemonAlive: boolean; liveSenders?: number; width?: number }): string[] {
  const width = options.width ?? STATUS_WIDTH;
  const time = (iso: string) => formatLocalTime(iso, options.timezone);
  // Titles and slugs come from issue files: a CR, LF or escape sequence must not forge a line.
  const lines = [truncateToWidth(`${escapeForTerminal(view.slug)}  ${view.state}  ${escapeForTerminal(view.title)}`, width)];
  const facts = [
    view.publishedAt ? `${view.state === 'archived' ? 'on the site (not emailed) since' : 'published'} ${time(view.publishedAt)}` : '',
    formatCounts(view.counts),
    view.nextDeferredAt ? `next retry of deferred ${time(view.nextDeferredAt)}` : '',
  ].filter(Boolean);
  if (facts.length > 0) lines.push(...wrapWords(facts.join('; '), width, '  ', '    '));
  if (view.stalled) {
    const { stalled } = view;
    lines.push(...wrapWords(escapeForTerminal(`${stalled.code} ${stalled.message}`), width, `  stalled since ${time(stalled.since)}: `, '    '));
    if (stalled.nextRetryAt) lines.push(`  next retry ${time(stalled.nextRetryAt)} (the daemon's next pass)`);
    else if ((options.liveSenders ?? 0) > 0) lines.push(`  ${options.liveSenders === 1 ? 'a live sender keeps' : `${options.liveSenders} live senders keep`} trying: fix the relay and they go on`);
    else if (!options.daemonAlive) lines.push('  no daemon runs to retry: fix the relay, then `letterpress send`');
  }
  return lines;
}

/** A pass in `daemon.json` from any version: older ones had only `errors` (file errors). */
export function passErrors(pass: PassSummary): { fileErrors: number; transportErrors: number } {
  return { fileErrors: pass.fileErrors ?? pass.errors, transportErrors: pass.transportErrors ?? 0 };
}

/** The daemon part of `letterpress status`, as lines, times in `timezone`. */
export function formatDaemonView(daemon: DaemonView, options: { timezone: string; width?: number }): string[] {
  const width = options.width ?? STATUS_WIDTH;
  const time = (iso: string) => formatLocalTime(iso, options.timezone, { seconds: true });
  const lines = [
    daemon.alive
      ? `daemon: running (pid ${daemon.pid} on ${daemon.host}, since ${time(daemon.startedAt)})${daemon.url ? `, serving ${daemon.url}` : ''}`
      : `daemon: not running (last seen ${time(daemon.updatedAt)}${daemon.state === 'running' ? ', it did not stop cleanly' : ''})`,
  ];
  if (daemon.alive && daemon.scheduling !== undefined) {
    lines.push(
      daemon.scheduling
        ? `  role ${daemon.role ?? 'all'}; schedules (holds the scheduler lease)`
        : `  role ${daemon.role ?? 'all'}; standby: ${daemon.scheduler ? `${escapeForTerminal(daemon.scheduler)} schedules` : 'no instance schedules right now'}`,
    );
  }
  if (daemon.alive && daemon.nextTick) lines.push(`  next look at issues/: ${time(daemon.nextTick)}`);
  if (daemon.alive && daemon.nextWindow) lines.push(`  next send window: ${time(daemon.nextWindow)}`);
  for (const item of daemon.scheduled) lines.push(`  scheduled: ${escapeForTerminal(item.slug)} at ${time(item.publishAt)}`);
  for (const slug of daemon.waitingForWindow) lines.push(`  waiting for the send window: ${escapeForTerminal(slug)}`);
  for (const pass of daemon.lastPasses.slice(0, 3)) {
    const { fileErrors, transportErrors } = passErrors(pass);
    const done = [
      pass.published.length ? `published ${escapeForTerminal(pass.published.join(', '))}` : '',
      pass.sent ? `sent ${pass.sent}` : '',
      pass.failed ? `failed ${pass.failed}` : '',
      pass.deferred ? `deferred ${pass.deferred}` : '',
      fileErrors ? `${fileErrors} file error${fileErrors === 1 ? '' : 's'}` : '',
      transportErrors ? `${transportErrors} send${transportErrors === 1 ? '' : 's'} stopped by an SMTP session error` : '',
    ].filter(Boolean);
    lines.push(`  pass (${pass.reason}) ${time(pass.finishedAt)}: ${done.length ? done.join(', ') : 'nothing published or sent'}`);
  }
  return lines.map((line) => truncateToWidth(line, width));
}

/** The live senders (workers, daemons) as `status` lists them, times in `timezone`. */
export function formatWorkers(workers: readonly WorkerRecord[], options: { timezone: string; width?: number }): string[] {
  const width = options.width ?? STATUS_WIDTH;
  const time = (iso: string) => formatLocalTime(iso, options.timezone, { seconds: true });
  if (workers.length === 0) return [];
  const lines = [`senders: ${workers.length} live`];
  for (const worker of workers) {
    lines.push(
      `  ${worker.role} pid ${worker.pid} on ${escapeForTerminal(worker.host)}: heartbeat ${time(worker.heartbeatAt)}, ${worker.inFlight} in flight, ` +
        `${worker.rate} msg/s, ${worker.sentTotal} sent since ${time(worker.startedAt)}`,
    );
  }
  return lines.map((line) => truncateToWidth(line, width));
}
