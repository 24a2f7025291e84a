import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BUILD_STATE_FILE, readBuildState, writeBuildState, type BuildState } from '../../src/site/build-state.ts';

let dir: string | undefined;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

const record = (slug: string) => ({
  sourceFile: `issues/${slug}.md`,
  contentHash: 'c'.repeat(64),
  firstSeen: '2024-05-06T00:00:00.000Z',
  updated: '2024-05-06T00:00:00.000Z',
  feedId: `https://news.example/issues/${slug}/`,
  renderKey: 'k',
  feedEntry: {
    id: `https://news.example/issues/${slug}/`,
    slug,
    title: `“${slug}”`,
    link: `https://news.example/issues/${slug}/`,
    published: '2024-05-06T00:00:00.000Z',
    updated: '2024-05-06T00:00:00.000Z',
    summary: 'a\nb "q"',
    contentHtml: '<p>x</p>\n<p>y</p>',
    categories: [],
  },
  indexEntry: { slug, title: slug, published: '2024-05-06T00:00:00.000Z', summary: '', path: `issues/${slug}/` },
});

describe('writeBuildState', () => {
  it('writes, record by record, exactly the sorted whole-object JSON, and reads it back', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'letterpress-state-'));
    const all: BuildState['issues'][] = [{}, { b: record('b'), a: record('a'), c: record('c') }];
    for (const issues of all) {
      const state: BuildState = { version: 1, issues };
      await writeBuildState(dir, state);
      const sorted = Object.fromEntries(Object.keys(issues).sort().map((slug) => [slug, issues[slug]]));
      expect(await readFile(path.join(dir, BUILD_STATE_FILE), 'utf8')).toBe(`${JSON.stringify({ version: 1, issues: sorted }, null, 1)}\n`);
      expect(await readBuildState(dir)).toEqual(state);
    }
  });
});

describe('readBuildState', () => {
  it('parses an unchanged file once, and a changed one again, whoever changed it', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'letterpress-state-'));
    await writeBuildState(dir, { version: 1, issues: { a: record('a') } });
    const first = await readBuildState(dir);
    // The same file, unchanged: the same object, not a new parse.
    expect(await readBuildState(dir)).toBe(first);

    await writeBuildState(dir, { version: 1, issues: { a: record('a'), b: record('b') } });
    const second = await readBuildState(dir);
    expect(second).not.toBe(first);
    expect(Object.keys(second.issues)).toEqual(['a', 'b']);

    // Another process rewrites it with text of the same length: its new time tells.
    const file = path.join(dir, BUILD_STATE_FILE);
    const text = await readFile(file, 'utf8');
    await new Promise((resolve) => setTimeout(resolve, 20));
    await writeFile(file, text.replace('"renderKey": "k"', '"renderKey": "z"'));
    expect((await readBuildState(dir)).issues.a!.renderKey).toBe('z');
  });
});

describe('writeFileAtomic with text in parts', () => {
  it('writes exactly the joined parts, big and small, and leaves an unchanged file alone', async () => {
    const { writeFileAtomic } = await import('../../src/site/write-output.ts');
    dir = await mkdtemp(path.join(tmpdir(), 'letterpress-parts-'));
    const file = path.join(dir, 'feed.atom');
    const parts = ['<feed>', '𝒳'.repeat(40_000), ...Array.from({ length: 5_000 }, (_, i) => `<e>${i}</e>`), 'x'.repeat(200_000), '</feed>'];
    expect(await writeFileAtomic(file, parts)).toBe(true);
    expect(await readFile(file, 'utf8')).toBe(parts.join(''));
    expect(await writeFileAtomic(file, parts)).toBe(false);
    expect(await writeFileAtomic(file, parts.join(''))).toBe(false);
  });
});
