import type { LoadedConfig } from '../config/load-config.ts';
import type { EmailRendition } from '../render/types.ts';
import type { IssueRecord, Store, StoredRendition } from '../store/types.ts';
import type { Clock } from '../util/clock.ts';
import { LetterpressError } from '../util/errors.ts';
import type { Sleep } from '../util/sleep.ts';
import { moveIssue } from '../publish/issue-state.ts';
import {
  emailOfRendition,
  loadIssueRendition,
  refreshIssueRendition,
  senderOfRendition,
  type IssueRenditionDependencies,
  type RenderedIssue,
} from '../publish/issue-rendition.ts';
import { assertSendPreflight } from '../publish/preflight.ts';
import { signToken, type Keyring } from './tokens.ts';
import { buildMessageTemplate, personalizeMessage, type MessageTemplateInput } from './message-template.ts';
import { sendIssue, type SendProgress, type SendReport } from './send-issue.ts';
import type { OutgoingMessage, Transport } from './types.ts';

// Re-exported: the lease `archive` takes so that two of them take turns, named in
// runner-lease.ts so that the app can take it without loading the send path. Senders do not
// take it: they claim disjoint rows from the ledger, any number at once.
export { SEND_LEASE } from './runner-lease.ts';

export type SendEvent =
  | { kind: 'planned'; slug: string; rows: number }
  | { kind: 'requeued-orphans'; slug: string; rows: number }
  | { kind: 'start'; slug: string; title: string; total: number; transport: string }
  | { kind: 'progress'; progress: SendProgress }
  | { kind: 'done'; report: SendReport };

export interface RunSendDependencies {
  loaded: LoadedConfig;
  store: Store;
  transport: Transport;
  clock: Clock;
  sleep: Sleep;
  random: () => number;
  keyring: Keyring;
  /** This sender's id in the ledger (`host:pid:random`), one per run. */
  holder: string;
  /**
   * Renders an issue from the project tree (prepare-issue-email.ts), or undefined without one.
   * Used only when planning and for an issue planned before renditions were stored: a sender
   * otherwise sends what the store holds.
   */
  renderIssue: (record: IssueRecord) => Promise<RenderedIssue | undefined>;
  dkimPrivateKey?: string;
  signal?: AbortSignal;
  onEvent?: (event: SendEvent) => void;
  /** When a sender will try again after a session error (the daemon's next pass), if one will. */
  nextRetryAt?: () => string | undefined;
}

/** The sender block of every message, from config with its documented defaults. */
export function senderFromConfig(loaded: LoadedConfig): MessageTemplateInput['sender'] {
  const { sender, site } = loaded.config;
  const domain = sender.fromAddress.split('@').pop() ?? 'localhost';
  const listName = site.title
    .normalize('NFKD')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
  return {
    fromName: sender.fromName ?? site.title,
    fromAddress: sender.fromAddress,
    replyTo: sender.replyTo,
    envelopeFrom: sender.envelopeFrom ?? sender.fromAddress,
    listId: sender.listId ?? `${listName || 'newsletter'}.${domain}`,
    unsubscribeMailto: sender.unsubscribeMailto,
  };
}

/**
 * Builds the per-issue message template and the per-recipient composer the send loop uses.
 * `rendered`: the sender block and site URL the email was rendered with (a stored rendition);
 * default: the config's.
 */
export function createComposer(
  record: IssueRecord,
  email: EmailRendition,
  deps: Pick<RunSendDependencies, 'loaded' | 'clock' | 'keyring' | 'dkimPrivateKey'>,
  rendered?: { sender: MessageTemplateInput['sender']; siteUrl: string },
): (recipient: { id: number; email: string; name: string | null; unsubscribeToken?: string }) => OutgoingMessage {
  const { loaded } = deps;
  const dkim = loaded.config.sender.dkim;
  const template = buildMessageTemplate({
    issueSlug: record.slug,
    subject: email.subject,
    email,
    sender: rendered?.sender ?? senderFromConfig(loaded),
    siteUrl: rendered?.siteUrl ?? loaded.config.site.url,
    date: deps.clock.now(),
    dkim:
      dkim && deps.dkimPrivateKey
        ? { domainName: dkim.domainName, keySelector: dkim.keySelector, privateKey: deps.dkimPrivateKey }
        : undefined,
  });
  return (recipient) =>
    personalizeMessage(template, {
      subscriberId: recipient.id,
      email: recipient.email,
      name: recipient.name,
      unsubscribeToken: recipient.unsubscribeToken ?? signToken(deps.keyring, { purpose: 'unsub', subscriberId: recipient.id }),
    });
}

/** The composer of an issue's stored rendition: what every sender of the issue sends. */
export function composerFromRendition(
  record: IssueRecord,
  stored: StoredRendition,
  deps: Pick<RunSendDependencies, 'loaded' | 'clock' | 'keyring' | 'dkimPrivateKey'>,
): ReturnType<typeof createComposer> {
  return createComposer(record, emailOfRendition(stored), deps, { sender: senderOfRendition(stored), siteUrl: stored.siteUrl });
}

/** How this sender renders and stores an issue's rendition (see src/publish/issue-rendition.ts). */
export function renditionDependencies(deps: Pick<RunSendDependencies, 'loaded' | 'store' | 'clock' | 'renderIssue'>): IssueRenditionDependencies {
  return {
    store: deps.store,
    render: deps.renderIssue,
    sender: senderFromConfig(deps.loaded),
    siteUrl: deps.loaded.config.site.url,
    now: () => deps.clock.now().toISOString(),
  };
}

/**
 * Plans an issue that waits to be planned: its rendition is stored first (so no sender ever
 * finds a planned issue without one), then one row per active subscriber, then the guarded move
 * to `planned`. Another process planning it at once adds no rows (planning is idempotent) and
 * loses the move: both then see one planned issue.
 */
export async function planIssue(
  deps: Pick<RunSendDependencies, 'loaded' | 'store' | 'clock' | 'renderIssue'>,
  record: IssueRecord,
): Promise<{ rows: number; moved: boolean }> {
  const { store, clock } = deps;
  if (record.state !== 'published' && record.state !== 'archived') return { rows: 0, moved: false };
  await refreshIssueRendition(renditionDependencies(deps), record);
  const rows = await store.planDeliveries(record.slug, clock.now().toISOString());
  const moved = await moveIssue(store, record.slug, 'planned', { from: [record.state], at: clock.now().toISOString() });
  return { rows, moved };
}

/**
 * Which issues a `send` run works on: one slug, or every published or unfinished one except
 * those in `hold` (issues waiting for the send window).
 */
export async function selectIssuesToSend(store: Store, slug?: string, hold?: ReadonlySet<string>): Promise<IssueRecord[]> {
  if (slug !== undefined) {
    const record = await store.getIssue(slug);
    if (!record) {
      const known = (await store.listIssues()).map((issue) => issue.slug);
      throw new LetterpressError(
        'E_UNKNOWN_ISSUE',
        `no published issue has the slug "${slug}"` +
          (known.length ? ` (known: ${known.slice(-10).join(', ')})` : ' (run `letterpress build` first)'),
      );
    }
    return [record];
  }
  const all = await store.listIssues();
  return all.filter(
    (issue) =>
      (issue.state === 'published' || issue.state === 'planned' || issue.state === 'sending') && !hold?.has(issue.slug),
  );
}

/**
 * Plans and sends issues: a published issue (or an archived one named explicitly: the way
 * out of the backlog) is planned once, to the subscribers active at that moment; then its rows
 * are sent. Several runs may do this at once, on one machine or several: each claims its own
 * rows, and rows a dead run left `sending` come back once their lease lapsed. Sent issues are
 * left alone unless rows remain.
 */
export async function runSend(
  deps: RunSendDependencies,
  slug?: string,
  options: {
    hold?: ReadonlySet<string>;
    /**
     * False: leave published issues that are not planned yet to a process with the project tree
     * (a worker sends what the scheduler planned; planning needs the issue file).
     */
    plan?: boolean;
  } = {},
): Promise<SendReport[]> {
  const { store, clock, loaded } = deps;
  const targets = (await selectIssuesToSend(store, slug, options.hold)).filter((issue) => options.plan !== false || issue.state === 'planned' || issue.state === 'sending');
  const reports: SendReport[] = [];
  if (targets.length === 0) return reports;
  // Before planning: a refused send changes nothing in the store. A sender that plans nothing
  // checks only what goes out (each issue's stored rendition, below): its own config's site URL
  // and From are not in any message.
  if (options.plan !== false) assertSendPreflight(loaded.config);

  const leaseMs = loaded.config.delivery.leaseSeconds * 1000;
  const signal = deps.signal;
  for (const target of targets) {
    if (signal?.aborted) break;
    // Re-read: another sender may have planned or finished it meanwhile.
    const record = (await store.getIssue(target.slug)) ?? target;
    // An archived issue is planned only when named: a run picked it while it was waiting to be
    // sent, and `letterpress archive` took it back meanwhile.
    if (record.state === 'archived' && slug === undefined) continue;
    if (options.plan === false && record.state !== 'planned' && record.state !== 'sending') continue;
    if (record.state === 'published' || record.state === 'archived') {
      const { rows } = await planIssue(deps, record);
      deps.onEvent?.({ kind: 'planned', slug: record.slug, rows });
    }
    // Rows still `sending` under a lapsed lease belong to a sender that died or stalled; rows
    // under a live lease are another sender's, in flight right now, and stay theirs.
    const orphans = await store.requeueOrphans(record.slug, clock.now().toISOString());
    if (orphans > 0) deps.onEvent?.({ kind: 'requeued-orphans', slug: record.slug, rows: orphans });
    const counts = await store.countDeliveries(record.slug);
    const pending = counts.queued + counts.deferred;
    let compose: ReturnType<typeof createComposer> | undefined;
    if (pending > 0) {
      let stored: StoredRendition;
      try {
        stored = await loadIssueRendition(renditionDependencies(deps), (await store.getIssue(record.slug)) ?? record);
      } catch (error) {
        if (!(error instanceof LetterpressError) || error.code !== 'E_NO_RENDITION') throw error;
        // This issue's rows stay queued for a sender that has the project tree; the others go on.
        const report = await unsentReport(store, record.slug, error);
        reports.push(report);
        await recordStall(deps, report);
        deps.onEvent?.({ kind: 'done', report });
        continue;
      }
      // What goes out carries the rendition's site URL and From: those are what the preflight checks.
      assertSendPreflight(loaded.config, { rendered: stored });
      // Once `sending`, no build replaces the rendition: read it again after the move, so every
      // message of the issue, from any sender, is made of the same one.
      if (!(await moveIssue(store, record.slug, 'sending', { from: ['planned', 'sending'], at: clock.now().toISOString() }))) {
        // Archived (`letterpress archive`) or finished by another sender since it was read: nothing to send here.
        continue;
      }
      const final = (await store.getRendition(record.slug)) ?? stored;
      if (final.renderKey !== stored.renderKey) assertSendPreflight(loaded.config, { rendered: final });
      stored = final;
      compose = composerFromRendition(record, stored, deps);
      deps.onEvent?.({ kind: 'start', slug: record.slug, title: record.title, total: pending, transport: deps.transport.description });
    }
    const report = await sendIssue(record.slug, {
      ...sendDependencies(deps, signal, leaseMs),
      onOrphans: (rows) => deps.onEvent?.({ kind: 'requeued-orphans', slug: record.slug, rows }),
      composeMessage: (_delivery, subscriber) => {
        if (!compose) throw new LetterpressError('E_INTERNAL', `issue ${record.slug} had no rows to send`);
        return compose(subscriber);
      },
    });
    reports.push(report);
    await recordStall(deps, report);
    deps.onEvent?.({ kind: 'done', report });
    if (report.stoppedBy) break;
  }
  return reports;
}

/** The report of an issue this run could not start: nothing handled, its rows as they were. */
async function unsentReport(store: Store, slug: string, stoppedBy: LetterpressError): Promise<SendReport> {
  const counts = await store.countDeliveries(slug);
  return {
    slug,
    sent: 0,
    deferred: 0,
    failed: 0,
    bounced: 0,
    skipped: 0,
    durationMs: 0,
    remainingDeferred: counts.deferred,
    lost: 0,
    stoppedBy,
    complete: false,
  };
}

/**
 * Keeps the store's view of a stalled issue true for `status`, which runs in another process:
 * a session error is recorded (the first one's time kept as "since"); a run that handled any
 * row, or found the issue finished, clears it. An abort (Ctrl-C, shutdown) says nothing.
 */
async function recordStall(deps: RunSendDependencies, report: SendReport): Promise<void> {
  const handled = report.sent + report.deferred + report.failed + report.bounced + report.skipped;
  if (report.stoppedBy && report.stoppedBy.code !== 'E_ABORTED') {
    if (handled > 0) await deps.store.clearSendStall(report.slug);
    await deps.store.recordSendStall({
      issueSlug: report.slug,
      code: report.stoppedBy.code,
      message: report.stoppedBy.message,
      at: deps.clock.now().toISOString(),
      nextRetryAt: deps.nextRetryAt?.(),
    });
  } else if (handled > 0 || report.complete) {
    await deps.store.clearSendStall(report.slug);
  }
}

function sendDependencies(deps: RunSendDependencies, signal: AbortSignal | undefined, leaseMs: number) {
  const { retry, markBatch } = deps.loaded.config.delivery;
  return {
    store: deps.store,
    transport: deps.transport,
    clock: deps.clock,
    sleep: deps.sleep,
    random: deps.random,
    holder: deps.holder,
    batchSize: deps.loaded.config.delivery.batchSize,
    leaseMs,
    markBatch,
    retry: {
      baseMs: retry.baseSeconds * 1000,
      maxMs: retry.maxSeconds * 1000,
      giveUpMs: retry.giveUpHours * 3_600_000,
      waitMs: retry.waitSeconds * 1000,
    },
    signal,
    onProgress: (progress: SendProgress) => deps.onEvent?.({ kind: 'progress', progress }),
  };
}
