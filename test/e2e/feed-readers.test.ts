import { execFile } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTempProject, runCli, SHARED_DIR } from '../helpers/temp-project.ts';

const run = promisify(execFile);
const SITE_URL = 'https://news.example.org';
const expectedLinks = [`${SITE_URL}/issues/2024-32/`, `${SITE_URL}/issues/2024-18/`];

let root: string;
let out: string;

beforeAll(async () => {
  root = await createTempProject();
  out = path.join(root, 'out');
  const result = await runCli(['build'], root, { LETTERPRESS_SITE_URL: SITE_URL });
  expect(result.code, result.stderr).toBe(0);
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Real feed tooling from Debian (installed by .ci/run): validators and two feed readers. */
describe('feeds in real validators and readers', () => {
  it('Atom validates against the RELAX NG schema (jing) and is well-formed (xmllint)', async () => {
    const atom = path.join(out, 'feed.atom');
    await run('jing', ['-c', path.join(SHARED_DIR, 'schemas/atom.rnc'), atom]);
    await run('xmllint', ['--noout', atom, path.join(out, 'feed.rss')]);
  });

  it('python3-feedparser reads both feeds with the right entries and links', async () => {
    const script = [
      'import feedparser, json, sys',
      'result = {}',
      'for name in sys.argv[1:]:',
      '    d = feedparser.parse(name)',
      '    result[name] = {"bozo": bool(d.bozo), "version": d.version, "title": d.feed.get("title"),',
      '        "entries": [{"title": e.get("title"), "link": e.get("link"), "id": e.get("id"),',
      '                     "content": len((e.get("content") or [{"value": e.get("summary", "")}])[0]["value"])} for e in d.entries]}',
      'print(json.dumps(result))',
    ].join('\n');
    const feeds = ['feed.atom', 'feed.rss'].map((name) => path.join(out, name));
    const { stdout } = await run('/usr/bin/python3', ['-c', script, ...feeds]);
    const parsed = JSON.parse(stdout) as Record<
      string,
      { bozo: boolean; version: string; title: string; entries: { title: string; link: string; id: string; content: number }[] }
    >;
    expect(parsed[feeds[0]!]!.version).toBe('atom10');
    expect(parsed[feeds[1]!]!.version).toBe('rss20');
    for (const feed of feeds) {
      const { bozo, entries, title } = parsed[feed]!;
      expect(bozo).toBe(false);
      expect(title).toBe('云计算技术动态');
      expect(entries.map((e) => e.link)).toEqual(expectedLinks);
      expect(entries.map((e) => e.title)).toEqual(['云计算技术动态 2024 年第三十二期', '云计算技术动态 2024 年第十八期']);
      // Full content, not just a summary: each entry carries all eight items.
      for (const entry of entries) expect(entry.content).toBeGreaterThan(2000);
    }
  });

  it('newsboat fetches both feeds with the right item links', async () => {
    const home = path.join(root, 'newsboat');
    await mkdir(home, { recursive: true });
    // newsboat keys its cache by guid across feeds, so each feed gets its own cache.
    for (const name of ['feed.atom', 'feed.rss']) {
      const urls = path.join(home, `${name}.urls`);
      const cache = path.join(home, `${name}.db`);
      await writeFile(urls, `file://${path.join(out, name)}\n`);
      await run('newsboat', ['-u', urls, '-c', cache, '-C', '/dev/null', '-x', 'reload'], {
        env: { ...process.env, HOME: home },
        timeout: 20_000,
      });
      const { stdout } = await run('/usr/bin/python3', [
        '-c',
        'import sqlite3, sys, json; print(json.dumps(sqlite3.connect(sys.argv[1]).execute("select url, title from rss_item").fetchall()))',
        cache,
      ]);
      const rows = JSON.parse(stdout) as [string, string][];
      expect(rows.map(([link]) => link).sort(), name).toEqual([...expectedLinks].sort());
      expect(rows.every(([, title]) => title.startsWith('云计算技术动态 2024 年第')), name).toBe(true);
    }
  });

  it('JSON Feed is version 1.1 with string ids and authors', async () => {
    const feed = JSON.parse(await readFile(path.join(out, 'feed.json'), 'utf8'));
    expect(feed.version).toBe('https://jsonfeed.org/version/1.1');
    expect(feed.feed_url).toBe(`${SITE_URL}/feed.json`);
    expect(feed.authors).toEqual([{ name: '云计算技术动态编辑部' }]);
    expect(feed.items.map((item: { url: string }) => item.url)).toEqual(expectedLinks);
    for (const item of feed.items) {
      expect(typeof item.id).toBe('string');
      expect(item.content_html.length).toBeGreaterThan(2000);
    }
  });

  it('pages advertise the feeds for autodiscovery', async () => {
    for (const page of ['index.html', 'issues/2024-18/index.html']) {
      const html = await readFile(path.join(out, page), 'utf8');
      expect(html).toContain(`type="application/atom+xml"`);
      expect(html).toContain(`type="application/rss+xml"`);
      expect(html).toContain(`type="application/feed+json"`);
      expect(html).toContain(`${SITE_URL}/feed.atom`);
    }
  });
});
