import { cp, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createTempProject, REPO_ROOT, runCli } from '../helpers/temp-project.ts';

const SECRET = 'publishing-test-secret-0123456789abcdef';
const env = { LETTERPRESS_SECRET: SECRET };

async function statusOf(root: string) {
  const { stdout } = await runCli(['status', '--json'], root, env);
  return JSON.parse(stdout) as { slug: string; state: string; counts: Record<string, number> }[];
}

async function outboxFiles(root: string, slug: string): Promise<string[]> {
  try {
    return (await readdir(path.join(root, 'data', 'outbox', slug))).filter((name) => name.endsWith('.eml'));
  } catch {
    return [];
  }
}

const NEW_ISSUE = `---
title: 云计算技术动态 2024 年第三十三期
date: 2024-08-12
---
# 云计算技术动态 2024 年第三十三期

## 分布式系统

**1.** **An item**
https://example.org/a
**摘要:** A summary.
`;

describe('publishing semantics (DESIGN.md §4)', () => {
  it('publishes the first issue of a project whose first build found only a draft: only what predates the store is backlog', async () => {
    const root = await createTempProject({ samples: false });
    await writeFile(path.join(root, 'issues', 'example.md'), NEW_ISSUE.replace('date: 2024-08-12', 'date: 2024-08-12\ndraft: true'));
    expect((await runCli(['subscribers', 'add', 'ann@example.org'], root, env)).code).toBe(0);
    const first = await runCli(['build'], root, env);
    expect(first.code).toBe(0);
    expect(await statusOf(root)).toEqual([]);

    // Written after the store was made: a new issue, not the backlog.
    await writeFile(path.join(root, 'issues', '2024-33.md'), NEW_ISSUE.replace('三十三', '三十四'));
    const build = await runCli(['build'], root, env);
    expect(build.stdout).toContain('published: 2024-33');
    expect(build.stdout).not.toContain('never emailed');
    expect((await statusOf(root)).map((s) => [s.slug, s.state])).toEqual([['2024-33', 'planned']]);
    expect((await runCli(['send'], root, env)).stdout).toContain('2024-33: 1 sent');
  });

  it('archives the backlog of a new store, plans later issues once, and never re-sends edits or renames', async () => {
    const root = await createTempProject();
    await writeFile(path.join(root, 'subs.csv'), 'email,name\nann@example.org,Ann\nben@example.org,\n');
    expect((await runCli(['subscribers', 'import', 'subs.csv'], root, env)).code).toBe(0);

    const first = await runCli(['start', '--once'], root, env);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('archived');
    expect(first.stdout).toContain('letterpress send <slug>');
    expect((await statusOf(root)).map((s) => [s.slug, s.state])).toEqual([
      ['2024-18', 'archived'],
      ['2024-32', 'archived'],
    ]);
    expect(await outboxFiles(root, '2024-18')).toEqual([]);

    // A subscriber who joins before the next issue is published gets it; one who joins after does not.
    await runCli(['subscribers', 'add', 'cat@example.org'], root, env);
    await writeFile(path.join(root, 'issues', '2024-33.md'), NEW_ISSUE);
    const build = await runCli(['build'], root, env);
    expect(build.stdout).toContain('published: 2024-33');
    await runCli(['subscribers', 'add', 'dan@example.org'], root, env);
    const send = await runCli(['send'], root, env);
    expect(send.code).toBe(0);
    expect(send.stdout).toContain('2024-33: 3 sent');
    expect(await outboxFiles(root, '2024-33')).toHaveLength(3);

    // Editing and renaming a sent issue rebuilds the site but never sends again.
    await writeFile(path.join(root, 'issues', '2024-33.md'), NEW_ISSUE.replace('A summary.', 'A better summary.'));
    await runCli(['start', '--once'], root, env);
    await rename(path.join(root, 'issues', '2024-33.md'), path.join(root, 'issues', 'renamed.md'));
    const afterRename = await runCli(['start', '--once'], root, env);
    expect(afterRename.stdout).toContain('kept its slug');
    const states = await statusOf(root);
    expect(states.find((s) => s.slug === '2024-33')).toMatchObject({ state: 'sent', counts: { sent: 3 } });
    expect(states.find((s) => s.slug === 'renamed')).toBeUndefined();
    const page = await readFile(path.join(root, 'out', 'issues', '2024-33', 'index.html'), 'utf8');
    expect(page).toContain('A better summary.');

    // The explicit way out of the backlog: send an archived issue by name.
    const archived = await runCli(['send', '2024-18'], root, env);
    expect(archived.code).toBe(0);
    expect(archived.stdout).toContain('2024-18: 4 sent');
    expect(await outboxFiles(root, '2024-18')).toHaveLength(4);
  });

  it('keeps the first-seen date in the store when the build state is lost', async () => {
    const root = await createTempProject();
    await runCli(['build'], root, env);
    const feed = await readFile(path.join(root, 'out', 'feed.atom'), 'utf8');
    await writeFile(path.join(root, 'data', 'build-state.json'), '{"version":1,"issues":{}}');
    const later = new Date('2030-01-01T00:00:00Z');
    // The files look brand new now: only the store can still tell when they were first seen.
    const { utimes } = await import('node:fs/promises');
    for (const name of await readdir(path.join(root, 'issues'))) await utimes(path.join(root, 'issues', name), later, later);
    await runCli(['build'], root, env);
    expect(await readFile(path.join(root, 'out', 'feed.atom'), 'utf8')).toBe(feed);
  });

  it('publish <file> publishes one issue now, even as the first command on a new store', async () => {
    const root = await createTempProject();
    await runCli(['subscribers', 'add', 'ann@example.org'], root, env);
    await writeFile(path.join(root, 'issues', '2024-33.md'), NEW_ISSUE);
    const published = await runCli(['publish', 'issues/2024-33.md'], root, env);
    expect(published.code).toBe(0);
    expect(published.stdout).toContain('2024-33: planned');
    const states = await statusOf(root);
    expect(states.find((s) => s.slug === '2024-33')).toMatchObject({ state: 'planned', counts: { queued: 1 } });
    expect(states.find((s) => s.slug === '2024-18')?.state).toBe('archived');

    await writeFile(path.join(root, 'issues', 'draft.md'), `---\ndraft: true\n---\n# Draft\n\nText.\n`);
    const draft = await runCli(['publish', 'issues/draft.md'], root, env);
    expect(draft.code).toBe(1);
    expect(draft.stderr).toContain('is a draft');
  });

  it('send --dry-run changes nothing and --to sends one copy outside the ledger', async () => {
    const root = await createTempProject();
    await cp(path.join(REPO_ROOT, 'config'), path.join(root, 'config'), { recursive: true });
    await runCli(['subscribers', 'add', 'ann@example.org'], root, env);
    await runCli(['build'], root, env);
    const dry = await runCli(['send', '2024-18', '--dry-run'], root, env);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain('2024-18: 1 messages would be sent');
    expect((await statusOf(root)).find((s) => s.slug === '2024-18')).toMatchObject({ state: 'archived', counts: { queued: 0 } });

    const copy = await runCli(['send', '2024-18', '--to', 'editor@example.org'], root, env);
    expect(copy.code).toBe(0);
    expect(copy.stdout).toContain('Test copy of 2024-18 to editor@example.org');
    expect((await statusOf(root)).find((s) => s.slug === '2024-18')).toMatchObject({ state: 'archived', counts: { sent: 0 } });
    expect(await outboxFiles(root, '2024-18')).toHaveLength(1);
  });
});
