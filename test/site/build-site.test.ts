import { readFile, rm, writeFile, appendFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildSite, classifyIssue, resolveIssueMeta, separateSharedFirstSeen } from '../../src/site/build-site.ts';
import { loadConfig } from '../../src/config/load-config.ts';
import type { Issue } from '../../src/issue/model.ts';
import type { Clock } from '../../src/util/clock.ts';
import { createTempProject, hashTree } from '../helpers/temp-project.ts';

const roots: string[] = [];
afterEach(async () => {
  await Promise.all(roots.splice(0).map((root) => rm(root, { recursive: true, force: true })));
});

async function project(options?: { samples?: boolean }) {
  const root = await createTempProject(options);
  roots.push(root);
  return root;
}

function fixedClock(iso: string): Clock & { set(iso: string): void } {
  let now = new Date(iso);
  return { now: () => now, set: (value) => void (now = new Date(value)) };
}

async function build(root: string, clock: Clock = fixedClock('2026-01-01T00:00:00Z')) {
  const loaded = await loadConfig({ root, env: {} });
  return buildSite({ loaded, clock });
}

type AtomEntry = { id: string; updated: string };
function atomEntries(xml: string): Map<string, AtomEntry> {
  const entries = new Map<string, AtomEntry>();
  for (const match of xml.matchAll(/<entry>([\s\S]*?)<\/entry>/g)) {
    const body = match[1]!;
    const id = /<id>([^<]*)<\/id>/.exec(body)![1]!;
    const updated = /<updated>([^<]*)<\/updated>/.exec(body)![1]!;
    entries.set(id, { id, updated });
  }
  return entries;
}

describe('buildSite', () => {
  it('builds the sample issues into pages, emails and the three feeds', async () => {
    const root = await project();
    const report = await build(root);
    expect(report.published.sort()).toEqual(['2024-18', '2024-32']);
    expect(report.failedFiles).toEqual([]);
    const out = path.join(root, 'out');
    const files = Object.keys(await hashTree(out));
    for (const expected of [
      'index.html',
      'feed.atom',
      'feed.rss',
      'feed.json',
      'issues/2024-18/index.html',
      'issues/2024-18/email.html',
      'issues/2024-18/email.txt',
      'issues/2024-32/index.html',
    ]) {
      expect(files).toContain(expected);
    }
    const json = JSON.parse(await readFile(path.join(out, 'feed.json'), 'utf8'));
    expect(json.version).toBe('https://jsonfeed.org/version/1.1');
    expect(json.items).toHaveLength(2);
    // Newest first: issue 32 was first committed/seen later only if dated; both lack dates,
    // so ordering falls back to the issue number.
    const index = await readFile(path.join(out, 'index.html'), 'utf8');
    expect(index.indexOf('第三十二期')).toBeLessThan(index.indexOf('第十八期'));
    // Private state lives in data/, never in the public out/.
    expect(files.some((f) => f.includes('build-state'))).toBe(false);
  });

  it('is deterministic and skips unchanged issues on the second build', async () => {
    const root = await project();
    const clock = fixedClock('2026-01-01T00:00:00Z');
    await build(root, clock);
    const first = await hashTree(path.join(root, 'out'));
    clock.set('2026-02-01T00:00:00Z');
    const second = await build(root, clock);
    expect(await hashTree(path.join(root, 'out'))).toEqual(first);
    expect(second.rendered).toEqual([]);
    expect(second.unchanged.sort()).toEqual(['2024-18', '2024-32']);
    expect(second.filesWritten).toBe(0);
  });

  it('gives a back catalogue that arrived at once distinct `updated` instants, in issue order', async () => {
    // Both samples carry one mtime (like one commit on a fresh clone) and no front-matter date.
    const root = await project();
    await build(root);
    const entries = [...atomEntries(await readFile(path.join(root, 'out', 'feed.atom'), 'utf8')).values()];
    const bySlug = Object.fromEntries(entries.map((entry) => [entry.id.includes('2024-18') ? '18' : '32', entry.updated]));
    expect(new Set(entries.map((entry) => entry.updated)).size).toBe(entries.length);
    expect(bySlug['18']).toBe('2024-08-05T00:00:00.000Z');
    expect(bySlug['32']).toBe('2024-08-05T00:00:01.000Z');
  });

  it('separates only instants that are shared, oldest issue first', () => {
    const at = '2024-08-05T00:00:00.000Z';
    const separated = separateSharedFirstSeen([
      { slug: 'c', year: 2024, number: 3, firstSeen: at },
      { slug: 'a', year: 2024, number: 1, firstSeen: at },
      { slug: 'b', year: 2024, number: 2, firstSeen: at },
      { slug: 'alone', year: 2023, number: 9, firstSeen: '2023-01-01T00:00:00Z' },
    ]);
    expect(Object.fromEntries(separated)).toEqual({
      a: at,
      b: '2024-08-05T00:00:01.000Z',
      c: '2024-08-05T00:00:02.000Z',
      alone: '2023-01-01T00:00:00Z',
    });
  });

  it('moves `updated` of an edited issue only, and keeps its feed id', async () => {
    const root = await project();
    const clock = fixedClock('2026-01-01T00:00:00Z');
    await build(root, clock);
    const before = atomEntries(await readFile(path.join(root, 'out/feed.atom'), 'utf8'));
    clock.set('2026-03-04T05:06:07Z');
    await appendFile(path.join(root, 'issues/2024-32.md'), '\n编者按：本期更正了一处链接。\n');
    const report = await build(root, clock);
    expect(report.rendered).toEqual(['2024-32']);
    const after = atomEntries(await readFile(path.join(root, 'out/feed.atom'), 'utf8'));
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    const edited = [...after.values()].find((e) => e.id.includes('2024-32'))!;
    const untouched = [...after.values()].find((e) => e.id.includes('2024-18'))!;
    expect(edited.updated).toBe('2026-03-04T05:06:07.000Z');
    expect(untouched.updated).toBe(before.get(untouched.id)!.updated);
    const atom = await readFile(path.join(root, 'out/feed.atom'), 'utf8');
    // The feed's own updated is its newest entry's, never the build time.
    expect(/<feed[\s\S]*?<updated>([^<]*)<\/updated>/.exec(atom)![1]).toBe('2026-03-04T05:06:07.000Z');
  });

  it('leaves drafts and not-yet-due issues out, and publishes them once due', async () => {
    const root = await project({ samples: false });
    await writeFile(
      path.join(root, 'issues/later.md'),
      '---\npublish_at: 2026-06-01T09:00\n---\n# Later issue\n\nBody.\n',
    );
    await writeFile(path.join(root, 'issues/draft.md'), '---\ndraft: true\n---\n# Draft issue\n\nSecret body.\n');
    const clock = fixedClock('2026-05-31T00:00:00Z');
    const report = await build(root, clock);
    expect(report.published).toEqual([]);
    expect(report.drafts).toEqual(['draft']);
    expect(report.scheduled.map((s) => s.slug)).toEqual(['later']);
    const everything = Object.keys(await hashTree(path.join(root, 'out')));
    for (const file of everything) {
      const text = await readFile(path.join(root, 'out', file), 'utf8');
      expect(text).not.toContain('Secret body');
      expect(text).not.toContain('Later issue');
    }
    clock.set('2026-06-01T02:00:00Z'); // 10:00 in Asia/Shanghai, after 09:00 local
    const due = await build(root, clock);
    expect(due.published).toEqual(['later']);
    // Turning it back into a draft takes it off the site.
    await writeFile(path.join(root, 'issues/later.md'), '---\ndraft: true\n---\n# Later issue\n\nBody.\n');
    const again = await build(root, clock);
    expect(again.removed).toEqual(['later']);
    expect(await readdir(path.join(root, 'out/issues'))).toEqual([]);
  });

  it('reports and skips bad files, builds the rest, and keeps script out of every output', async () => {
    const root = await project();
    const issues = path.join(root, 'issues');
    // "云计算技术动态" in GBK: not UTF-8.
    await writeFile(path.join(issues, 'gbk.md'), Buffer.from('23 20 d4 c6 bc c6 cb e3 bc bc ca f5 b6 af cc ac 0a'.replace(/ /g, ''), 'hex'));
    await writeFile(path.join(issues, 'binary.md'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d]));
    await writeFile(path.join(issues, 'empty.md'), '');
    await writeFile(path.join(issues, 'broken.md'), '---\ntitle: [unclosed\n---\n# Broken\n');
    await writeFile(
      path.join(issues, 'xss.md'),
      [
        '# Weekly No. 7',
        '',
        '## Security',
        '',
        '**1.** **<script>alert(1)</script> Title**',
        '',
        '[click](javascript:alert(1))',
        '',
        '**Summary:** <img src=x onerror=alert(1)> <script>alert(2)</script> text',
        '',
      ].join('\n'),
    );
    const report = await build(root);
    expect(report.published.sort()).toEqual(['2024-18', '2024-32', 'xss']);
    expect(report.failedFiles.sort()).toEqual(
      ['issues/binary.md', 'issues/broken.md', 'issues/empty.md', 'issues/gbk.md'].sort(),
    );
    const codes = report.diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.file}:${d.line}:${d.code}`);
    expect(codes).toEqual(
      expect.arrayContaining(['issues/gbk.md:1:E_ENCODING', 'issues/empty.md:1:E_EMPTY', 'issues/broken.md:2:E_FRONT_MATTER']),
    );
    expect(codes.some((c) => c.startsWith('issues/binary.md:') && c.endsWith('E_ENCODING'))).toBe(true);
    const out = path.join(root, 'out');
    for (const file of Object.keys(await hashTree(out))) {
      const text = await readFile(path.join(out, file), 'utf8');
      expect(text, file).not.toMatch(/<script/i);
      expect(text, file).not.toMatch(/javascript:/i);
      expect(text, file).not.toMatch(/<img[^>]*onerror/i);
    }
  });

  it('keeps the last good pages of a published issue whose file breaks', async () => {
    const root = await project();
    await build(root);
    await writeFile(path.join(root, 'issues/2024-18.md'), Buffer.from([0xff, 0xfe, 0x00, 0x41]));
    const report = await build(root);
    expect(report.failedFiles).toEqual(['issues/2024-18.md']);
    expect(report.kept).toEqual(['2024-18']);
    expect(report.published.sort()).toEqual(['2024-18', '2024-32']);
    expect(await readFile(path.join(root, 'out/issues/2024-18/index.html'), 'utf8')).toContain('第十八期');
  });

  it('reports an MJML error per issue as E_RENDER and builds nothing broken', async () => {
    const root = await project();
    const template = path.join(root, 'templates/email/issue.mjml.hbs');
    await writeFile(template, (await readFile(template, 'utf8')).replace('<mj-section', '<mj-sectoin'));
    const report = await build(root);
    expect(report.failedFiles.sort()).toEqual(['issues/2024-18.md', 'issues/2024-32.md']);
    const render = report.diagnostics.filter((d) => d.code === 'E_RENDER');
    expect(render).toHaveLength(2);
    expect(render[0]!.message).toMatch(/MJML.*email\/issue\.mjml\.hbs/);
    expect(report.published).toEqual([]);
  });

  it('rejects two files with one slug and builds neither', async () => {
    const root = await project();
    const sample = await readFile(path.join(root, 'issues/2024-18.md'), 'utf8');
    await writeFile(path.join(root, 'issues/copy.md'), `---\nslug: 2024-18\n---\n${sample}`);
    const report = await build(root);
    expect(report.diagnostics.filter((d) => d.code === 'E_DUPLICATE_SLUG').map((d) => d.file).sort()).toEqual([
      'issues/2024-18.md',
      'issues/copy.md',
    ]);
    expect(report.published).toEqual(['2024-32']);
  });
});

describe('classifyIssue and resolveIssueMeta', () => {
  const base = { draft: false, contentHash: 'a', slug: 's' } as Issue;
  it('classifies drafts, future and due issues', () => {
    const now = new Date('2026-01-01T00:00:00Z');
    expect(classifyIssue({ ...base, draft: true }, now)).toBe('draft');
    expect(classifyIssue({ ...base, publishAt: '2026-01-01T08:00:01+08:00' }, now)).toBe('scheduled');
    expect(classifyIssue({ ...base, publishAt: '2026-01-01T08:00:00+08:00' }, now)).toBe('due');
    expect(classifyIssue(base, now)).toBe('due');
  });

  it('uses the recorded first-seen date, never the clock, for undated issues', () => {
    const now = new Date('2030-01-01T00:00:00Z');
    const first = resolveIssueMeta({ issue: base, record: undefined, firstSeenFallback: '2024-05-06T01:00:00Z', permalink: 'p', now });
    expect(first.meta).toEqual({ date: '2024-05-06T01:00:00Z', updated: '2024-05-06T01:00:00Z', feedId: 'p' });
    const record = { firstSeen: first.firstSeen, updated: first.meta.updated, feedId: 'frozen', contentHash: 'a' } as never;
    const again = resolveIssueMeta({ issue: base, record, firstSeenFallback: '2029-01-01T00:00:00Z', permalink: 'moved', now });
    expect(again.meta).toEqual({ date: '2024-05-06T01:00:00Z', updated: '2024-05-06T01:00:00Z', feedId: 'frozen' });
    const edited = resolveIssueMeta({ issue: { ...base, contentHash: 'b' }, record, firstSeenFallback: 'x', permalink: 'p', now });
    expect(edited.meta.updated).toBe('2030-01-01T00:00:00.000Z');
  });
});
