import type { LoadedConfig } from '../config/load-config.ts';
import type { EmailRendition } from '../render/types.ts';
import type { IssueRecord, Store } from '../store/types.ts';
import type { Clock } from '../util/clock.ts';
import { LetterpressError } from '../util/errors.ts';
import type { Sleep } from '../util/sleep.ts';
import { assertSendPreflight } from '../publish/preflight.ts';
import { signToken, type Keyring } from './tokens.ts';
import { buildMessageTemplate, personalizeMessage, type MessageTemplateInput } from './message-template.ts';
import { sendIssue, type SendProgress, type SendReport } from './send-issue.ts';
import type { OutgoingMessage, Transport } from './types.ts';

/**
 * The lease `archive` takes (and a build that unplans an `email: false` issue tries), so two of
 * them take turns. Senders do not take it: they claim disjoint rows from the ledger, any number
 * at once; an unplan is a compare-and-set that refuses once any row was claimed.
 */
export const SEND_LEASE = 'send';

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
  /** Renders the email of an issue (prepare-issue-email.ts, injectable for tests). */
  renderEmail: (record: IssueRecord) => Promise<EmailRendition>;
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

/** Builds the per-issue message template and the per-recipient composer the send loop uses. */
export function createComposer(
  record: IssueRecord,
  email: EmailRendition,
  deps: Pick<RunSendDependencies, 'loaded' | 'clock' | 'keyring' | 'dkimPrivateKey'>,
): (recipient: { id: number; email: string; name: string | null; unsubscribeToken?: string }) => OutgoingMessage {
  const { loaded } = deps;
  const dkim = loaded.config.sender.dkim;
  const template = buildMessageTemplate({
    issueSlug: record.slug,
    subject: email.subject,
    email,
    sender: senderFromConfig(loaded),
    siteUrl: loaded.config.site.url,
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
  options: { hold?: ReadonlySet<string> } = {},
): Promise<SendReport[]> {
  const { store, clock, loaded } = deps;
  const targets = await selectIssuesToSend(store, slug, options.hold);
  const reports: SendReport[] = [];
  if (targets.length === 0) return reports;
  // Before planning: a refused send changes nothing in the store.
  assertSendPreflight(loaded.config);

  const leaseMs = loaded.config.delivery.leaseSeconds * 1000;
  const signal = deps.signal;
  for (const target of targets) {
    if (signal?.aborted) break;
    // Re-read: another sender may have planned or finished it meanwhile.
    const record = (await store.getIssue(target.slug)) ?? target;
    // An archived issue is planned only when named: a run picked it while it was waiting to be
    // sent, and `letterpress archive` took it back meanwhile.
    if (record.state === 'archived' && slug === undefined) continue;
    if (record.state === 'published' || record.state === 'archived') {
      const rows = await store.planDeliveries(record.slug, clock.now().toISOString());
      await store.setIssueState(record.slug, 'planned');
      deps.onEvent?.({ kind: 'planned', slug: record.slug, rows });
    }
    // Rows still `sending` under a lapsed lease belong to a sender that died or stalled; rows
    // under a live lease are another sender's, in flight right now, and stay theirs.
    const orphans = await store.requeueOrphans(record.slug, clock.now().toISOString());
    if (orphans > 0) deps.onEvent?.({ kind: 'requeued-orphans', slug: record.slug, rows: orphans });
    const counts = await store.countDeliveries(record.slug);
    const pending = counts.queued + counts.deferred;
    // Render only when there is something to send; a finished issue just gets its final state.
    const compose = pending > 0 ? createComposer(record, await deps.renderEmail(record), deps) : undefined;
    if (pending > 0) {
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
