import type { Sleep } from '../util/sleep.ts';
import type { SendEvent } from './run-send.ts';
import type { SendReport } from './send-issue.ts';

/** The log lines of the worker loop (pino's shape: fields, then message). */
export interface WorkerLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export interface WorkerLoopDependencies {
  /**
   * One send run over every planned or sending issue except those in `hold` (the app's
   * `send` with planning left to the scheduler).
   */
  send(options: { signal: AbortSignal; hold: ReadonlySet<string>; onEvent: (event: SendEvent) => void }): Promise<SendReport[]>;
  /** The issues held for the send window now (the store's holds, read before every look). */
  holds(): Promise<readonly string[]>;
  sleep: Sleep;
  /** SIGTERM / SIGINT: stop claiming, let messages in flight finish, return. */
  signal: AbortSignal;
  log: WorkerLog;
  /**
   * The first wait after a look that found nothing, doubled up to `maxMs` while nothing comes;
   * with `watchDue`, an idle wait is `maxMs` at once (the store's notification ends it).
   */
  pollMs: { min: number; max: number };
  /**
   * The store's notifications (PostgreSQL LISTEN / NOTIFY, `Store.watchDue`): `listener` is told
   * whenever rows of an issue became claimable, in any process; returns the function that stops
   * it. A hint that may be missed: the poll stays the fallback.
   */
  watchDue?: (listener: (issueSlug: string) => void) => () => void;
  /** Told after each look, with what it did (tests and tools that follow the worker). */
  onLook?: (look: { reports: SendReport[]; nextWaitMs: number }) => void;
}

const handledBy = (report: SendReport) => report.sent + report.deferred + report.failed + report.bounced + report.skipped;

/**
 * `letterpress worker`'s loop (DESIGN.md §5: the ledger is the work queue): look for rows to
 * send, send them as one more sender among any number (each claims its own rows under its
 * holder id), and when there is nothing, wait — a short wait after work, doubling while the
 * ledger stays empty, never longer than `pollMs.max`. With the store's notifications an idle
 * worker waits for one (a new plan, rows handed back, a lifted send-window hold) and looks at
 * once; it still looks every `pollMs.max`, for a notification missed while the connection was
 * down and for deferred rows coming due (nobody announces those). A session error (relay down,
 * login refused) is logged, leaves the rows queued, and the next look waits the longest, deaf
 * to notifications: the rows the failed run handed back announce themselves, and senders that
 * all fail would otherwise wake each other in a loop. Returns once `signal` aborted and the
 * run in progress finished its messages in flight.
 */
export async function runWorkerLoop(deps: WorkerLoopDependencies): Promise<{ looks: number; sent: number }> {
  const { log } = deps;
  let waitMs = deps.pollMs.min;
  let looks = 0;
  let sent = 0;
  // The last refusal logged: the same one again (every poll while the relay is down or the
  // preflight refuses) is not repeated, so the log shows each change, not each look.
  let lastRefusal: string | undefined;
  let idle = false;
  // Set by a notification that came during a look (the look may have read the issues before
  // the change): the next wait is skipped. A notification during a wait ends it.
  let announced = false;
  let wakeWaiter: (() => void) | undefined;
  const stopWatching = deps.watchDue?.(() => {
    announced = true;
    wakeWaiter?.();
  });
  const onEvent = (event: SendEvent) => {
    if (event.kind === 'start') log.info({ slug: event.slug, total: event.total }, `sending ${event.slug}: ${event.total} messages waiting`);
    if (event.kind === 'requeued-orphans') log.warn({ slug: event.slug, rows: event.rows }, `${event.rows} messages of an interrupted run go back to the queue`);
  };
  try {
    while (!deps.signal.aborted) {
      announced = false;
      let reports: SendReport[] = [];
      let failed = false;
      try {
        const hold = new Set(await deps.holds());
        reports = await deps.send({ signal: deps.signal, hold, onEvent });
      } catch (error) {
        failed = true;
        const code = (error as { code?: string }).code;
        // One event, one line: a refusal listing several problems is joined, not cut.
        const message = (error as Error).message.split('\n').map((line) => line.trim()).filter(Boolean).join(' ');
        if (message !== lastRefusal) {
          log.error({ code }, `cannot send now: ${message}; trying again every ${Math.round(deps.pollMs.max / 100) / 10} s (said once until it changes)`);
        }
        lastRefusal = message;
      }
      if (!failed) lastRefusal = undefined;
      looks += 1;
      let worked = false;
      for (const report of reports) {
        const handled = handledBy(report);
        sent += report.sent;
        if (handled > 0) worked = true;
        const fields = { slug: report.slug, sent: report.sent, failed: report.failed + report.bounced, skipped: report.skipped, deferred: report.remainingDeferred, seconds: Math.round(report.durationMs) / 1000 };
        if (report.stoppedBy && report.stoppedBy.code !== 'E_ABORTED') {
          failed = true;
          log.error({ ...fields, code: report.stoppedBy.code }, `sending ${report.slug} stopped: ${report.stoppedBy.message} [${report.stoppedBy.code}]; every unsent message stays queued`);
        } else if (handled > 0) {
          log.info(fields, `${report.slug}: ${report.sent} sent, ${report.failed + report.bounced} failed, ${report.remainingDeferred} deferred${report.complete ? ' (done)' : ''}`);
        }
      }
      const watching = stopWatching !== undefined;
      waitMs = failed ? deps.pollMs.max : worked ? deps.pollMs.min : watching ? deps.pollMs.max : Math.min(deps.pollMs.max, waitMs * 2);
      deps.onLook?.({ reports, nextWaitMs: waitMs });
      if (deps.signal.aborted) break;
      if (!failed && !worked && !idle) {
        const seconds = Math.round(deps.pollMs.max / 100) / 10;
        log.info(
          { pollSeconds: seconds, notified: watching },
          watching
            ? `nothing to send now; looking again when the store announces new rows, else in ${seconds} s`
            : `nothing to send now; looking again in at most ${seconds} s`,
        );
      }
      idle = !failed && !worked;
      // After a failure only the poll wakes the worker (see above).
      if (announced && !failed) continue;
      const wake = new AbortController();
      if (!failed) wakeWaiter = () => wake.abort();
      await deps.sleep(waitMs, AbortSignal.any([deps.signal, wake.signal])).catch(() => undefined);
      wakeWaiter = undefined;
      wake.abort();
    }
  } finally {
    stopWatching?.();
  }
  return { looks, sent };
}
