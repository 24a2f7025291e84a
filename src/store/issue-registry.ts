import { moveIssue } from '../publish/issue-state.ts';
import { LetterpressError } from '../util/errors.ts';
import type { DeliveryCounts, DeliveryLedger, IssueRecord, IssueState, IssueStore } from './types.ts';

/** One due issue as the build sees it, with the values it would use on first publish. */
export interface RegistryEntry {
  slug: string;
  title: string;
  contentHash: string;
  /** Project-relative source file. */
  sourceFile: string;
  /** First-seen date the build derived (git first commit, else mtime). */
  firstSeen: string;
  /** Feed id for a first publish (the permalink). */
  feedId: string;
  /** False when the front matter says `email: false`: recorded `archived`, never planned. */
  email?: boolean;
}

/** What the store has frozen for an issue: the build must use these, not recompute them. */
export interface FrozenIssueFacts {
  slug: string;
  firstSeen: string;
  feedId: string;
  /** When the content last changed (feeds' `updated`), or undefined until the first edit. */
  updated?: string;
  state: IssueState;
}

export interface RegisterReport {
  facts: Map<string, FrozenIssueFacts>;
  /**
   * Slugs recorded for the first time now (or moved to `published` by name), with the state
   * they got and, for `archived`, why: a new store's backlog, `email: false`, `letterpress
   * archive`, or a daemon skipping what became due while it was down.
   */
  added: { slug: string; state: IssueState; reason?: 'backlog' | 'email-false' | 'requested' | 'missed' }[];
  /**
   * Recorded issues waiting to be emailed (`published`/`planned`) whose front matter now says
   * `email: false`: the caller unplans them (`archiveRecordedIssue`).
   */
  unplan: string[];
  /** What the caller did about `unplan`. */
  unplanned?: ArchiveOutcome[];
  /** Files recognised as a renamed, already published issue: `from` is the frozen slug. */
  renamed: { file: string; slug: string; frozenSlug: string }[];
  /** True when this call recorded a new store's backlog (issues older than the store, as `archived`). */
  backlog: boolean;
}

/**
 * Publishing semantics over the issue store (DESIGN.md §4, Identity and Backlog): the first
 * publish of an issue freezes its slug, first-seen date and feed id; a file renamed with its
 * content unchanged is the same issue; an edit moves `updated` but never re-sends. Issues
 * already there when the store is created become `archived` (web and feeds only); later ones
 * are `published` and wait to be planned and sent.
 *
 * `fileExists` tells whether a known record's source file is still there (a rename leaves
 * the old path behind).
 */
export async function registerDueIssues(
  store: IssueStore,
  entries: readonly RegistryEntry[],
  options: {
    now: Date;
    fileExists: (sourceFile: string) => boolean;
    /** Slugs the operator publishes explicitly (`letterpress publish`): never archived. */
    explicit?: ReadonlySet<string>;
    /** Archive every issue recorded now (a daemon skipping what became due while it was down). */
    archiveNew?: boolean;
    /** Slugs to record as `archived` if they are new (`letterpress archive <file>`). */
    archive?: ReadonlySet<string>;
  },
): Promise<RegisterReport> {
  const now = options.now.toISOString();
  // The backlog: while the store has recorded no issue, the files that were already there when
  // it was made (first seen, by git or mtime, no later than that). A file added after it, such
  // as the first real issue of a project whose first build found only a draft, is published.
  const backlogUntil =
    entries.length > 0 && !(await store.hasIssues()) ? Date.parse((await store.createdAt()) ?? now) : Number.NEGATIVE_INFINITY;
  const isBacklog = (entry: RegistryEntry) => Date.parse(entry.firstSeen) <= backlogUntil;
  const facts = new Map<string, FrozenIssueFacts>();
  const added: RegisterReport['added'] = [];
  const renamed: RegisterReport['renamed'] = [];
  const unplan: string[] = [];
  const currentSlugs = new Set(entries.map((entry) => entry.slug));

  for (const entry of entries) {
    let record: IssueRecord | undefined = await store.getIssue(entry.slug);
    if (!record) {
      const sameContent = await store.findIssueByContentHash(entry.contentHash);
      if (
        sameContent &&
        sameContent.sourceFile !== entry.sourceFile &&
        !currentSlugs.has(sameContent.slug) &&
        !options.fileExists(sameContent.sourceFile)
      ) {
        record = sameContent;
        renamed.push({ file: entry.sourceFile, slug: entry.slug, frozenSlug: sameContent.slug });
      }
    }
    if (!record) {
      // `email: false` wins over everything, even `letterpress publish`: only `send --force` mails it.
      const reason: RegisterReport['added'][number]['reason'] =
        entry.email === false
          ? 'email-false'
          : options.explicit?.has(entry.slug)
            ? undefined
            : options.archive?.has(entry.slug)
              ? 'requested'
              : isBacklog(entry)
                ? 'backlog'
                : options.archiveNew
                  ? 'missed'
                  : undefined;
      const state: IssueState = reason === undefined ? 'published' : 'archived';
      record = {
        slug: entry.slug,
        title: entry.title,
        contentHash: entry.contentHash,
        sourceFile: entry.sourceFile,
        state,
        firstSeenAt: entry.firstSeen,
        publishedAt: now,
        updatedAt: entry.firstSeen,
        feedId: entry.feedId,
      };
      if (await store.recordIssue(record)) {
        added.push({ slug: entry.slug, state, ...(reason && { reason }) });
        facts.set(entry.slug, { slug: record.slug, firstSeen: record.firstSeenAt, feedId: record.feedId, state });
        continue;
      }
      // Another process recorded it a moment ago: its record (and the state it chose) wins.
      record = await store.getIssue(entry.slug);
      if (!record) throw new LetterpressError('E_INTERNAL', `issue ${entry.slug} was recorded and is gone`);
    }
    if (record.state === 'archived' && options.explicit?.has(entry.slug) && entry.email !== false) {
      if (await moveIssue(store, record.slug, 'published', { from: ['archived'], at: now })) {
        added.push({ slug: record.slug, state: 'published' });
      }
      record = (await store.getIssue(record.slug)) ?? record;
    }
    if (entry.email === false && (record.state === 'published' || record.state === 'planned')) unplan.push(record.slug);
    const edited = record.contentHash !== entry.contentHash;
    const moved = record.sourceFile !== entry.sourceFile;
    if (edited || moved || record.title !== entry.title) {
      record = {
        ...record,
        title: entry.title,
        contentHash: entry.contentHash,
        sourceFile: entry.sourceFile,
        updatedAt: edited ? now : record.updatedAt,
      };
      await store.saveIssue(record);
    }
    facts.set(entry.slug, {
      slug: record.slug,
      firstSeen: record.firstSeenAt,
      feedId: record.feedId,
      updated: record.updatedAt !== record.firstSeenAt ? record.updatedAt : undefined,
      state: record.state,
    });
  }
  return { facts, added, renamed, backlog: added.some((entry) => entry.reason === 'backlog'), unplan };
}

/** What `archiveRecordedIssue` did with one slug. */
export type ArchiveOutcome =
  | { slug: string; outcome: 'archived'; from: IssueState; removedDeliveries: number }
  | { slug: string; outcome: 'already-archived' }
  | { slug: string; outcome: 'refused'; state: IssueState | undefined; reason: string };

/**
 * Makes a recorded issue `archived` (site and feeds only): an issue waiting to be emailed
 * loses its planned, never-attempted delivery rows; one that is being or was emailed is
 * refused with the reason, since nothing can be unsent. No lease is needed: unplanning is one
 * guarded transaction (refused once a row was claimed or the issue is `sending`), and a sender
 * moves the issue to `sending` (compare-and-set from `planned`) before it claims a row.
 */
export async function archiveRecordedIssue(
  store: IssueStore & Pick<DeliveryLedger, 'unplanIssue' | 'countDeliveries'>,
  slug: string,
  at?: string,
): Promise<ArchiveOutcome> {
  const record = await store.getIssue(slug);
  if (!record) {
    return { slug, outcome: 'refused', state: undefined, reason: `no issue has the slug "${slug}" (name the issue file to archive an issue not recorded yet)` };
  }
  if (record.state === 'archived') return { slug, outcome: 'already-archived' };
  if (record.state === 'published' || record.state === 'planned') {
    const result = await store.unplanIssue(slug, at);
    if (result.outcome === 'archived') return { slug, outcome: 'archived', from: record.state, removedDeliveries: result.removed };
    return refusal(slug, result.state ?? record.state, await store.countDeliveries(slug));
  }
  return refusal(slug, record.state, await store.countDeliveries(slug));
}

function refusal(slug: string, state: IssueState, counts: DeliveryCounts): ArchiveOutcome {
  const went = counts.sent + counts.failed + counts.bounced + counts.skipped;
  const total = went + counts.queued + counts.sending + counts.deferred;
  const reason =
    state === 'sent'
      ? `it was already emailed (state sent, ${counts.sent} sent): it stays on the site and in the feeds as it is`
      : state === 'sending' || state === 'planned' || state === 'published'
        ? `it is being emailed (state ${state}, ${went} of ${total} messages done): what went out cannot be unsent; \`letterpress status ${slug}\` shows the rest`
        : `it is in state ${state}, which cannot be archived`;
  return { slug, outcome: 'refused', state, reason };
}
