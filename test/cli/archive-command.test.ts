import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createTempProject, runCli } from '../helpers/temp-project.ts';

const env = { LETTERPRESS_SECRET: 'archive-test-secret-0123456789abcdef' };

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

const total = (counts: Record<string, number>) => Object.values(counts).reduce((sum, n) => sum + n, 0);

/** A back-catalogue issue as an editor drops it in after the store exists. */
const issue = (number: string, chinese: string, frontMatter: string) => `---
${frontMatter}
---
# 云计算技术动态 2024 年第${chinese}期

## 分布式系统

**1.** **Item of issue ${number}**
https://example.org/${number}
**摘要:** Summary of issue ${number}.
`;

/** A project whose store exists (the shipped samples archived) with two active subscribers. */
async function projectWithStore(): Promise<string> {
  const root = await createTempProject();
  await runCli(['subscribers', 'add', 'ann@example.org'], root, env);
  await runCli(['subscribers', 'add', 'ben@example.org'], root, env);
  expect((await runCli(['start', '--once'], root, env)).code).toBe(0);
  return root;
}

describe('back catalogues: email: false and letterpress archive', () => {
  it('archives an issue dropped in later with email: false: on the site and in the feeds, never planned', async () => {
    const root = await projectWithStore();
    await writeFile(path.join(root, 'issues', '2024-26.md'), issue('26', '二十六', 'date: 2024-07-08\nemail: false'));
    const run = await runCli(['start', '--once'], root, env);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('archived: 2024-26 (email: false');
    const record = (await statusOf(root)).find((s) => s.slug === '2024-26');
    expect(record?.state).toBe('archived');
    expect(total(record!.counts)).toBe(0);
    expect(await outboxFiles(root, '2024-26')).toEqual([]);

    const index = await readFile(path.join(root, 'out', 'index.html'), 'utf8');
    expect(index).toContain('issues/2024-26/');
    expect(await readFile(path.join(root, 'out', 'issues', '2024-26', 'index.html'), 'utf8')).toContain('2024年7月8日');
    for (const feed of ['feed.atom', 'feed.rss', 'feed.json']) {
      expect(await readFile(path.join(root, 'out', feed), 'utf8')).toContain('/issues/2024-26/');
    }
    // A plain `send` later never picks it up either.
    expect((await runCli(['send'], root, env)).stdout).toContain('Nothing to send');
    expect(await outboxFiles(root, '2024-26')).toEqual([]);
  });

  it('send <slug> of an email: false issue is refused without --force and sends with it', async () => {
    const root = await projectWithStore();
    await writeFile(path.join(root, 'issues', '2024-26.md'), issue('26', '二十六', 'email: false'));
    await runCli(['build'], root, env);
    const refused = await runCli(['send', '2024-26'], root, env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('email: false');
    expect(refused.stderr).toContain('letterpress send 2024-26 --force');
    expect(refused.stderr).toContain('[E_EMAIL_OFF]');
    expect(await outboxFiles(root, '2024-26')).toEqual([]);
    expect((await statusOf(root)).find((s) => s.slug === '2024-26')?.state).toBe('archived');

    const forced = await runCli(['send', '2024-26', '--force'], root, env);
    expect(forced.code).toBe(0);
    expect(forced.stdout).toContain('2024-26: 2 sent');
    expect(await outboxFiles(root, '2024-26')).toHaveLength(2);

    // An archived issue without email: false keeps the explicit way out: send plans and sends it.
    const backlog = await runCli(['send', '2024-18'], root, env);
    expect(backlog.code).toBe(0);
    expect(backlog.stdout).toContain('2024-18: 2 sent');
  });

  it('archive <slug> unplans a planned, unsent issue; a sent one is refused with the reason', async () => {
    const root = await projectWithStore();
    await writeFile(path.join(root, 'issues', '2024-26.md'), issue('26', '二十六', 'date: 2024-07-08'));
    await runCli(['build'], root, env);
    expect((await statusOf(root)).find((s) => s.slug === '2024-26')).toMatchObject({ state: 'planned', counts: { queued: 2 } });

    const archived = await runCli(['archive', '2024-26'], root, env);
    expect(archived.code).toBe(0);
    expect(archived.stdout).toContain('2024-26: archived (on the site and in the feeds, never emailed); 2 planned messages cancelled');
    const record = (await statusOf(root)).find((s) => s.slug === '2024-26');
    expect(record?.state).toBe('archived');
    expect(total(record!.counts)).toBe(0);
    expect((await runCli(['send'], root, env)).stdout).toContain('Nothing to send');
    expect(await outboxFiles(root, '2024-26')).toEqual([]);
    expect(await readFile(path.join(root, 'out', 'index.html'), 'utf8')).toContain('issues/2024-26/');

    expect((await runCli(['archive', '2024-26'], root, env)).stdout).toContain('2024-26: already archived');

    await runCli(['send', '2024-18'], root, env);
    const sent = await runCli(['archive', '2024-18'], root, env);
    expect(sent.code).toBe(1);
    expect(sent.stdout).toContain('2024-18: not archived: it was already emailed (state sent, 2 sent)');
    expect((await runCli(['archive', 'no-such-slug'], root, env)).stdout).toContain('no issue has the slug "no-such-slug"');
  });

  it('archive <file> records a new issue as archived, and one bad file does not stop the rest', async () => {
    const root = await projectWithStore();
    await writeFile(path.join(root, 'issues', '2024-26.md'), issue('26', '二十六', 'date: 2024-07-08'));
    await writeFile(path.join(root, 'issues', '2024-27.md'), issue('27', '二十七', 'date: 2024-07-15'));
    await writeFile(path.join(root, 'issues', 'broken.md'), '---\nemail: no\n---\n# Broken\n');
    const run = await runCli(['archive', 'issues/2024-26.md', 'issues/broken.md', 'issues/2024-27.md'], root, env);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('issues/broken.md:2:8: error E_FIELD');
    expect(run.stdout).toContain('issues/broken.md: not archived');
    expect(run.stdout).toContain('2024-26: archived');
    expect(run.stdout).toContain('2024-27: archived');
    const states = await statusOf(root);
    for (const slug of ['2024-26', '2024-27']) {
      const record = states.find((s) => s.slug === slug);
      expect(record?.state).toBe('archived');
      expect(total(record!.counts)).toBe(0);
    }
    expect((await runCli(['start', '--once'], root, env)).stdout).not.toContain('published: 2024-2');
    expect(await outboxFiles(root, '2024-26')).toEqual([]);
  });

  it('unplans an issue waiting to be sent when its front matter turns email: false', async () => {
    const root = await projectWithStore();
    const file = path.join(root, 'issues', '2024-26.md');
    await writeFile(file, issue('26', '二十六', 'date: 2024-07-08'));
    await runCli(['build'], root, env);
    await writeFile(file, issue('26', '二十六', 'date: 2024-07-08\nemail: false'));
    const run = await runCli(['start', '--once'], root, env);
    expect(run.stdout).toContain('archived: 2024-26 (email: false: its 2 planned messages were cancelled');
    expect((await statusOf(root)).find((s) => s.slug === '2024-26')?.state).toBe('archived');
    expect(await outboxFiles(root, '2024-26')).toEqual([]);
  });
});
