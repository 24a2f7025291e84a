import type { EmailRendition } from '../render/types.ts';
import type { IssueRecord, RenditionStore, StoredRendition } from '../store/types.ts';
import { LetterpressError } from '../util/errors.ts';

/**
 * The rendition in the store (DESIGN.md §4): when an issue is planned, what its messages are
 * made of is stored with it, so a sender needs the store, the config, the secret and the DKIM
 * key, never `issues/`, `templates/`, `out/` or the build's memory. Only the build (or the first
 * process with the project tree, for an issue planned before renditions were stored) writes
 * one; a sending issue keeps the one its first message went out with.
 */

/** An issue's email as the project tree renders it now, under its render key. */
export interface RenderedIssue {
  email: EmailRendition;
  renderKey: string;
  publishAt: string | null;
}

/** The sender facts a rendition is made with (config, resolved with its defaults). */
export interface RenditionSender {
  fromName?: string;
  fromAddress: string;
  replyTo?: string;
  envelopeFrom: string;
  listId: string;
  unsubscribeMailto?: string;
}

export interface IssueRenditionDependencies {
  store: RenditionStore;
  /** Renders from the project tree; undefined when this process has none for the issue. */
  render: (record: IssueRecord) => Promise<RenderedIssue | undefined>;
  /** What the config says now: stored with a new rendition. */
  sender: RenditionSender;
  siteUrl: string;
  /** Now, ISO. */
  now: () => string;
}

/** The row stored for a rendered issue (pure). */
export function toStoredRendition(
  slug: string,
  rendered: RenderedIssue,
  sender: RenditionSender,
  siteUrl: string,
): Omit<StoredRendition, 'createdAt' | 'updatedAt'> {
  return {
    issueSlug: slug,
    renderKey: rendered.renderKey,
    subject: rendered.email.subject,
    preheader: rendered.email.preheader,
    html: rendered.email.html,
    text: rendered.email.text,
    publishAt: rendered.publishAt,
    siteUrl: siteUrl.replace(/\/+$/, ''),
    fromName: sender.fromName ?? null,
    fromAddress: sender.fromAddress,
    replyTo: sender.replyTo ?? null,
    envelopeFrom: sender.envelopeFrom,
    listId: sender.listId,
    unsubscribeMailto: sender.unsubscribeMailto ?? null,
  };
}

/** The email parts of a stored rendition, as the message template takes them. */
export function emailOfRendition(stored: StoredRendition): EmailRendition {
  return { subject: stored.subject, preheader: stored.preheader, html: stored.html, text: stored.text };
}

/** The sender block of a stored rendition: every sender of one issue uses the same one. */
export function senderOfRendition(stored: StoredRendition): RenditionSender {
  return {
    ...(stored.fromName !== null && { fromName: stored.fromName }),
    fromAddress: stored.fromAddress,
    ...(stored.replyTo !== null && { replyTo: stored.replyTo }),
    envelopeFrom: stored.envelopeFrom,
    listId: stored.listId,
    ...(stored.unsubscribeMailto !== null && { unsubscribeMailto: stored.unsubscribeMailto }),
  };
}

/**
 * Renders an issue from the project tree and stores it: a new rendition always, a changed one
 * (another render key: the issue, templates or site config were edited) only while the issue
 * is not yet being sent: the store decides that in one statement. Returns what the store holds
 * afterwards, or undefined when there is no project tree and nothing stored.
 */
export async function refreshIssueRendition(deps: IssueRenditionDependencies, record: IssueRecord): Promise<StoredRendition | undefined> {
  const stored = await deps.store.getRendition(record.slug);
  // Once sending, the stored rendition is final: do not even render.
  if (stored && (record.state === 'sending' || record.state === 'sent')) return stored;
  const rendered = await deps.render(record);
  if (!rendered) return stored;
  if (stored?.renderKey === rendered.renderKey) return stored;
  await deps.store.saveRendition(toStoredRendition(record.slug, rendered, deps.sender, deps.siteUrl), deps.now());
  return deps.store.getRendition(record.slug);
}

/**
 * The rendition a sender sends an issue with: the stored one; for an issue planned before
 * renditions were stored, one rendered now from the project tree if this process has it (and
 * stored, so every other sender uses the same); else E_NO_RENDITION, and the rows stay queued.
 */
export async function loadIssueRendition(deps: IssueRenditionDependencies, record: IssueRecord): Promise<StoredRendition> {
  const stored = await deps.store.getRendition(record.slug);
  if (stored) return stored;
  const made = await refreshIssueRendition(deps, record);
  if (made) return made;
  throw new LetterpressError(
    'E_NO_RENDITION',
    `issue ${record.slug} (${record.state}) has no stored rendition (it was planned by an older Letterpress) and this process ` +
      `has no project tree to render it from (${record.sourceFile} or the templates folder is missing); ` +
      'run `letterpress build`, or `letterpress send` once, where the project tree is, then send again',
  );
}
