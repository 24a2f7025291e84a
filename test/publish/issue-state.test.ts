import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { canMoveIssue, ISSUE_TRANSITIONS, moveIssue } from '../../src/publish/issue-state.ts';
import { registerDueIssues, type RegistryEntry } from '../../src/store/issue-registry.ts';
import { openSqliteStore } from '../../src/store/sqlite-store.ts';
import type { IssueRecord, IssueState, Store } from '../../src/store/types.ts';

const runFile = promisify(execFile);
const REPO_ROOT = path.resolve(import.meta.dirname, '../..');
const NOW = '2026-03-01T10:00:00.000Z';
const RANK: Record<IssueState, number> = { draft: 0, scheduled: 1, published: 2, planned: 3, sending: 4, sent: 5, archived: 6 };

const record = (slug: string, state: IssueState = 'published'): IssueRecord => ({
  slug,
  title: slug,
  contentHash: `hash-${slug}`,
  sourceFile: `issues/${slug}.md`,
  state,
  firstSeenAt: NOW,
  publishedAt: NOW,
  updatedAt: NOW,
  feedId: `urn:${slug}`,
});

describe('issue states', () => {
  let dir: string;
  let file: string;
  const opened: Store[] = [];
  const open = async () => {
    const store = await openSqliteStore({ file });
    opened.push(store);
    return store;
  };

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'letterpress-states-'));
    file = path.join(dir, 'letterpress.db');
  });
  afterEach(async () => {
    for (const store of opened.splice(0)) await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('allows only the moves of the state machine, and a forbidden one is a bug caught before the store', async () => {
    expect(canMoveIssue('planned', 'sending')).toBe(true);
    expect(canMoveIssue('sent', 'planned')).toBe(false);
    expect(canMoveIssue('sending', 'archived')).toBe(false);
    // Nothing moves an issue back into the pipeline once it is being or was sent.
    for (const to of ['published', 'planned', 'archived'] as const) {
      expect(ISSUE_TRANSITIONS[to].some((from) => from === 'sending' || from === 'sent')).toBe(false);
    }
    const store = await open();
    await store.saveIssue(record('one', 'sent'));
    await expect(moveIssue(store, 'one', 'planned', { from: ['sent'], at: NOW })).rejects.toMatchObject({ code: 'E_INTERNAL' });
    expect(await moveIssue(store, 'one', 'planned', { at: NOW })).toBe(false);
    expect((await store.getIssue('one'))?.state).toBe('sent');
  });

  it('two handles on one file racing a move leave one winner, and a stale save never moves the state back', async () => {
    const [a, b] = [await open(), await open()];
    await a.saveIssue(record('one'));
    const results = await Promise.all([a, b].map((store) => moveIssue(store, 'one', 'planned', { from: ['published'], at: NOW })));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await moveIssue(b, 'one', 'sending', { from: ['planned'], at: NOW })).toBe(true);
    // A build that read `published` before the moves saves its edit: the content changes, the state does not.
    await a.saveIssue({ ...record('one'), title: 'Edited', contentHash: 'hash-edited' });
    expect(await a.getIssue('one')).toMatchObject({ title: 'Edited', state: 'sending' });
  });

  it('archive and a sender racing for a planned issue: whichever moves first wins, the other changes nothing', async () => {
    const [archiver, sender] = [await open(), await open()];
    for (const slug of ['one', 'two']) {
      await archiver.saveIssue(record(slug));
      await archiver.upsertSubscriber({ email: `${slug}@example.org`, status: 'active', source: 'import', at: NOW });
      await archiver.planDeliveries(slug, NOW);
      await moveIssue(archiver, slug, 'planned', { at: NOW });
    }
    // Archived first: the sender, which read `planned`, cannot start it.
    expect(await archiver.unplanIssue('one', NOW)).toMatchObject({ outcome: 'archived' });
    expect(await moveIssue(sender, 'one', 'sending', { from: ['planned', 'sending'], at: NOW })).toBe(false);
    expect((await sender.getIssue('one'))?.state).toBe('archived');
    // Sending first: the archive is refused and the issue stays `sending`.
    expect(await moveIssue(sender, 'two', 'sending', { from: ['planned', 'sending'], at: NOW })).toBe(true);
    expect(await archiver.unplanIssue('two', NOW)).toEqual({ outcome: 'refused', state: 'sending' });
    expect((await archiver.getIssue('two'))?.state).toBe('sending');
  });

  it('two processes recording the same new issues at once: the first recording wins and both report it', async () => {
    const [a, b] = [await open(), await open()];
    const entries: RegistryEntry[] = ['one', 'two'].map((slug) => ({
      slug,
      title: slug,
      contentHash: `hash-${slug}`,
      sourceFile: `issues/${slug}.md`,
      firstSeen: NOW,
      feedId: `urn:${slug}`,
    }));
    await a.saveIssue(record('older', 'archived'));
    // One publishes by name, the other is a daemon archiving what became due while it was down.
    const [explicit, missed] = await Promise.all([
      registerDueIssues(a, entries, { now: new Date(NOW), fileExists: () => true, explicit: new Set(['one', 'two']) }),
      registerDueIssues(b, entries, { now: new Date(NOW), fileExists: () => true, archiveNew: true }),
    ]);
    for (const slug of ['one', 'two']) {
      const state = (await a.getIssue(slug))?.state;
      const claimed = [...explicit.added, ...missed.added].filter((entry) => entry.slug === slug);
      // Exactly one of them recorded it, with the state the store now holds; the other one's facts agree.
      expect(claimed).toHaveLength(1);
      expect(claimed[0]?.state).toBe(state);
      expect(explicit.facts.get(slug)?.state).toBe(state);
      expect(missed.facts.get(slug)?.state).toBe(state);
    }
  });

  it('processes walking issues forward at once: one winner per step, and no process ever sees an issue go back', async () => {
    // Enough steps that the three processes overlap even when a loaded machine starts one late.
    const ISSUES = 240;
    const store = await open();
    for (let index = 0; index < ISSUES; index += 1) await store.saveIssue(record(`issue-${String(index).padStart(3, '0')}`));
    const worker = path.join(REPO_ROOT, 'test/publish/issue-state-worker.ts');
    const runs = [1, 2, 3].map(() => runFile(process.execPath, ['--import', 'tsx', worker, file, String(ISSUES)], { cwd: REPO_ROOT }));
    const deadline = Date.now() + 30_000;
    while ((await readdir(dir)).filter((name) => name.includes('.ready-')).length < 3) {
      if (Date.now() > deadline) throw new Error('state workers did not start');
      await sleep(10);
    }
    await writeFile(`${file}.go`, '');
    const results = (await Promise.all(runs)).map((run) => JSON.parse(run.stdout) as { won: string[]; seen: Record<string, IssueState[]> });
    const won = results.flatMap((result) => result.won);
    // Every step of every issue was won exactly once.
    expect(won).toHaveLength(ISSUES * 3);
    expect(new Set(won).size).toBe(ISSUES * 3);
    expect(results.filter((result) => result.won.length > 0).length).toBeGreaterThanOrEqual(2);
    for (const result of results) {
      for (const [slug, states] of Object.entries(result.seen)) {
        const ranks = states.map((state) => RANK[state]);
        expect(ranks, slug).toEqual([...ranks].sort((x, y) => x - y));
      }
    }
    for (const issue of await store.listIssues()) expect(issue.state).toBe('sent');
    expect(existsSync(`${file}.go`)).toBe(true);
  }, 60_000);
});
