import { mkdtemp, readFile, rm } from 'node:fs/promises';
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
