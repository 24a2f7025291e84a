import { execFileSync } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createTempProject, runCli } from '../helpers/temp-project.ts';

const env = { LETTERPRESS_SECRET: 'back-catalogue-secret-0123456789abcdef' };

const issue = (chinese: string, frontMatter = '') => `${frontMatter ? `---\n${frontMatter}\n---\n` : ''}# 云计算技术动态 2024 年第${chinese}期

## 分布式系统

**1.** **Item of ${chinese}**
https://example.org/${encodeURIComponent(chinese)}
**摘要:** A summary.
`;

/** Commits each file on its own date, as a back catalogue imported in some order would be. */
function commitEach(root: string, files: [string, string][]): void {
  const git = (args: string[], date?: string) =>
    execFileSync('git', args, {
      cwd: root,
      env: { ...process.env, GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.org', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.org' },
      stdio: 'pipe',
    });
  git(['init', '-q']);
  for (const [file, date] of files) {
    git(['add', file]);
    git(['commit', '-q', '-m', file], date);
  }
}

describe('back catalogue dates and order', () => {
  it('shows no invented date on an undated "2024 年第十八期" and keeps its feed entry stable', async () => {
    const root = await createTempProject({ samples: false });
    await writeFile(path.join(root, 'issues', '2024-18.md'), issue('十八'));
    commitEach(root, [['issues/2024-18.md', '2026-11-22T10:00:00+08:00']]);
    expect((await runCli(['build'], root, env)).code).toBe(0);

    const page = await readFile(path.join(root, 'out', 'issues', '2024-18', 'index.html'), 'utf8');
    expect(page).toContain('<h1>云计算技术动态 2024 年第十八期</h1>');
    expect(page).not.toContain('2026');
    expect(page).not.toContain('<time');
    expect(page).toContain('第 18 期');
    const index = await readFile(path.join(root, 'out', 'index.html'), 'utf8');
    expect(index).not.toContain('2026');
    const email = await readFile(path.join(root, 'out', 'issues', '2024-18', 'email.txt'), 'utf8');
    expect(email).not.toContain('2026');
    expect(await readFile(path.join(root, 'out', 'issues', '2024-18', 'email.html'), 'utf8')).not.toContain('2026');

    // The feed entry keeps a stable `updated` (first seen, from the store) across builds.
    const feed = JSON.parse(await readFile(path.join(root, 'out', 'feed.json'), 'utf8')) as { items: { date_modified: string }[] };
    await rm(path.join(root, 'data', 'build-state.json'));
    await runCli(['build'], root, env);
    const again = JSON.parse(await readFile(path.join(root, 'out', 'feed.json'), 'utf8')) as { items: { date_modified: string }[] };
    expect(again.items[0]?.date_modified).toBe(feed.items[0]?.date_modified);
  });

  it('orders the archive and the feeds by year and number when some issues are undated', async () => {
    const root = await createTempProject({ samples: false });
    const files: [string, string, string][] = [
      // file, body, commit date: the import order that used to read 第26, 29, 32, 18, 27期
      ['2024-27.md', issue('二十七'), '2026-11-20T10:00:00+08:00'],
      ['2024-18.md', issue('十八'), '2026-11-21T10:00:00+08:00'],
      ['2024-32.md', issue('三十二', 'date: 2024-08-12'), '2026-11-22T10:00:00+08:00'],
      ['2024-29.md', issue('二十九'), '2026-11-23T10:00:00+08:00'],
      ['2024-26.md', issue('二十六', 'date: 2024-07-08'), '2026-11-24T10:00:00+08:00'],
    ];
    for (const [file, body] of files) await writeFile(path.join(root, 'issues', file), body);
    commitEach(root, files.map(([file, , date]) => [`issues/${file}`, date]));
    expect((await runCli(['build'], root, env)).code).toBe(0);

    const expected = ['2024-32', '2024-29', '2024-27', '2024-26', '2024-18'];
    const index = await readFile(path.join(root, 'out', 'index.html'), 'utf8');
    expect([...index.matchAll(/href="\.\/issues\/([\w-]+)\/"/g)].map((m) => m[1])).toEqual(expected);
    expect([...index.matchAll(/第 (\d+) 期/g)].map((m) => m[1])).toEqual(['32', '29', '27', '26', '18']);
    const json = JSON.parse(await readFile(path.join(root, 'out', 'feed.json'), 'utf8')) as { items: { url: string }[] };
    expect(json.items.map((item) => item.url.match(/issues\/([\w-]+)\//)?.[1])).toEqual(expected);
    const atom = await readFile(path.join(root, 'out', 'feed.atom'), 'utf8');
    expect([...atom.matchAll(/<link href="[^"]*\/issues\/([\w-]+)\/"/g)].map((m) => m[1])).toEqual(expected);
    // Only the front matter's dates are shown.
    expect(index).toContain('2024年8月12日');
    expect(index).toContain('2024年7月8日');
    expect(index).not.toContain('2026');
  });

  it('check warns at the date line when a date contradicts the title year or the number order', async () => {
    const root = await createTempProject({ samples: false });
    await writeFile(path.join(root, 'issues', '2024-18.md'), issue('十八', 'date: 2024-05-13'));
    await writeFile(path.join(root, 'issues', '2024-19.md'), issue('十九', 'title: 云计算技术动态 2024 年第十九期\ndate: 2024-05-06'));
    await writeFile(path.join(root, 'issues', '2024-20.md'), issue('二十', 'date: 2023-05-20'));
    const run = await runCli(['check', '--json'], root, env);
    expect(run.code).toBe(0);
    const warnings = (JSON.parse(run.stdout) as { file: string; line: number; code: string; message: string }[]).filter((d) =>
      d.code.startsWith('W_DATE'),
    );
    expect(warnings.map((d) => [d.file, d.line, d.code])).toEqual([
      ['issues/2024-20.md', 2, 'W_DATE_YEAR'],
      ['issues/2024-19.md', 3, 'W_DATE_ORDER'],
      ['issues/2024-20.md', 2, 'W_DATE_ORDER'],
    ]);
    expect(warnings[1]?.message).toContain('issues/2024-18.md');
    const human = await runCli(['check'], root, env);
    expect(human.stdout).toContain('issues/2024-20.md:2:7: warning W_DATE_YEAR date 2023-05-20 is in 2023, but the title says 2024');
  });
});
