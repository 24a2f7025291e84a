import type { IssueState, IssueStore } from '../store/types.ts';
import { LetterpressError } from '../util/errors.ts';

/**
 * The issue state machine (DESIGN.md §4): `draft → scheduled → published → planned → sending →
 * sent`, plus `archived` (web and feeds only) and the back-catalogue moves out of and into it.
 * Every state change goes through `moveIssue`, a compare-and-set naming the states it may come
 * from (the way Ghost's email service moves a batch with `updateStatusLock`): any command may run
 * it at any time, in any number of processes, and a process acting on a stale read changes
 * nothing instead of moving an issue backwards.
 */

/** For each state, the states an issue may enter it from. */
export const ISSUE_TRANSITIONS: Readonly<Record<IssueState, readonly IssueState[]>> = {
  draft: [],
  scheduled: ['draft'],
  // `letterpress publish` names an archived issue: it goes out after all.
  published: ['draft', 'scheduled', 'archived'],
  // Planning; `letterpress send <slug>` plans an archived issue directly (the way out of the backlog).
  planned: ['published', 'archived'],
  // A sender starting; a second sender of the same issue finds it already `sending`.
  sending: ['planned', 'sending'],
  // The last row is final; an issue planned for nobody goes straight from `planned`.
  sent: ['planned', 'sending'],
  // `email: false` or `letterpress archive` before anything was sent (unplanIssue, in one transaction).
  archived: ['published', 'planned'],
};

/** True when the state machine allows moving from `from` to `to`. */
export function canMoveIssue(from: IssueState, to: IssueState): boolean {
  return ISSUE_TRANSITIONS[to].includes(from);
}

/**
 * Moves an issue to `to` if it is in one of `from` (default: every state `to` may be entered
 * from). True when this call moved it; false when another process got there first or the
 * issue is in a state this move does not start from. Naming a move the machine forbids is a
 * bug (E_INTERNAL), caught before the store is touched.
 */
export async function moveIssue(
  store: Pick<IssueStore, 'transitionIssue'>,
  slug: string,
  to: IssueState,
  options: { from?: readonly IssueState[]; at: string },
): Promise<boolean> {
  const allowed = ISSUE_TRANSITIONS[to];
  const from = options.from ?? allowed;
  const forbidden = from.filter((state) => !allowed.includes(state));
  if (forbidden.length > 0 || from.length === 0) {
    throw new LetterpressError('E_INTERNAL', `issue ${slug}: no move from ${forbidden.join(', ') || 'any state'} to ${to}`);
  }
  return store.transitionIssue(slug, from, to, options.at);
}
