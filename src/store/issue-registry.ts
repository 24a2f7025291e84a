import type { IssueRecord, IssueState, IssueStore } from './types.ts';

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
  /** Slugs recorded for the first time now, with the state they got. */
  added: { slug: string; state: IssueState }[];
  /** Files recognised as a renamed, already published issue: `from` is the frozen slug. */
  renamed: { file: string; slug: string; frozenSlug: string }[];
  /** True when this call created the first records of an empty store (the backlog). */
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
  },
): Promise<RegisterReport> {
  const now = options.now.toISOString();
  const backlog = entries.length > 0 && !(await store.hasIssues());
  const facts = new Map<string, FrozenIssueFacts>();
  const added: RegisterReport['added'] = [];
  const renamed: RegisterReport['renamed'] = [];
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
      const state: IssueState =
        (backlog || options.archiveNew) && !options.explicit?.has(entry.slug) ? 'archived' : 'published';
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
      await store.saveIssue(record);
      added.push({ slug: entry.slug, state });
      facts.set(entry.slug, { slug: record.slug, firstSeen: record.firstSeenAt, feedId: record.feedId, state });
      continue;
    }
    if (record.state === 'archived' && options.explicit?.has(entry.slug)) {
      record = { ...record, state: 'published' };
      await store.setIssueState(record.slug, 'published');
      added.push({ slug: record.slug, state: 'published' });
    }
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
  return { facts, added, renamed, backlog };
}
