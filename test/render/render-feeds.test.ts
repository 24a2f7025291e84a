import { execFileSync, spawnSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Templates } from '../../src/render/compile-templates.ts';
import { EMPTY_FEED_UPDATED, renderFeeds, stripControlChars } from '../../src/render/render-feeds.ts';
import { renderFeedEntry } from '../../src/render/render-issue.ts';
import type { FeedEntry } from '../../src/render/types.ts';
import { LetterpressError } from '../../src/util/errors.ts';
import { sampleIssue, sampleMeta, sampleSite, shippedTemplates } from './fixtures.ts';

let templates: Templates;
beforeAll(async () => {
  templates = await shippedTemplates();
});

const hasXmllint = spawnSync('xmllint', ['--version']).status === 0;

/** Well-formedness by libxml2 (xmllint), the same tool the e2e feed test uses. */
function assertWellFormed(xml: string): void {
  execFileSync('xmllint', ['--noout', '-'], { input: xml, stdio: ['pipe', 'ignore', 'pipe'] });
}

/** Issue n (1-based) published n days after 2024-01-01, Shanghai time. */
function entryFor(n: number, overrides: Partial<FeedEntry> = {}): FeedEntry {
  const day = new Date(Date.UTC(2024, 0, 1 + n, 1));
  const date = day.toISOString();
  const slug = `2024-${String(n).padStart(2, '0')}`;
  return {
    ...renderFeedEntry(
      sampleIssue({ slug, number: n, title: `云计算技术动态 第${n}期` }),
      sampleMeta({ date, updated: date, feedId: `https://news.example.org/issues/${slug}/` }),
      templates,
      sampleSite(),
    ),
    ...overrides,
  };
}

describe('renderFeedEntry', () => {
  it('carries full content with absolute links only, and section titles as categories', () => {
    const entry = entryFor(1);
    expect(entry.link).toBe('https://news.example.org/issues/2024-01/');
    expect(entry.id).toBe('https://news.example.org/issues/2024-01/');
    expect(entry.categories).toEqual(['分布式系统', '云计算技术', '大模型技术', '技术之外']);
    expect(entry.contentHtml.length).toBeGreaterThan(2000);
    const hrefs = [...entry.contentHtml.matchAll(/href="([^"]*)"/g)].map((m) => m[1]!);
    expect(hrefs.length).toBeGreaterThan(8);
    for (const href of hrefs) expect(href).toMatch(/^https:\/\//);
    expect(entry.contentHtml).toContain('href="https://news.example.org/issues/2024-01/#s1"');
  });
});

describe('renderFeeds', () => {
  it('keeps the newest feedLimit entries, newest first, in all three formats', () => {
    const entries = Array.from({ length: 25 }, (_, i) => entryFor(i + 1)).reverse();
    entries.push(entries.shift()!); // the caller's order must not matter
    const feeds = renderFeeds(entries, sampleSite({ feedLimit: 20 }));
    expect(feeds.atom.match(/<entry>/g)).toHaveLength(20);
    expect(feeds.rss.match(/<item>/g)).toHaveLength(20);
    const json = JSON.parse(feeds.json) as { items: Array<{ url: string }> };
    expect(json.items).toHaveLength(20);
    expect(json.items[0]!.url).toBe('https://news.example.org/issues/2024-25/');
    expect(json.items[19]!.url).toBe('https://news.example.org/issues/2024-06/');
    expect(feeds.atom.indexOf('2024-25/')).toBeLessThan(feeds.atom.indexOf('2024-24/'));
    expect(feeds.atom).not.toContain('2024-05/');
  });

  it('writes well-formed Atom and RSS (xmllint, which .ci/run installs)', () => {
    expect(hasXmllint, 'xmllint is not on PATH (Debian: apt-get install libxml2-utils)').toBe(true);
    const feeds = renderFeeds([entryFor(1), entryFor(2)], sampleSite());
    assertWellFormed(feeds.atom);
    assertWellFormed(feeds.rss);
  });

  it('takes the feed date from the entries, never the clock', () => {
    const older = entryFor(1);
    const newer = entryFor(2, { updated: '2024-01-05T08:00:00+08:00' });
    const feeds = renderFeeds([older, newer], sampleSite());
    expect(feeds.atom).toContain('<feed xmlns="http://www.w3.org/2005/Atom">\n    <id>https://news.example.org/</id>\n    <title>云计算技术动态</title>\n    <updated>2024-01-05T00:00:00.000Z</updated>');
    expect(feeds.rss).toContain('<lastBuildDate>Fri, 05 Jan 2024 00:00:00 GMT</lastBuildDate>');
    expect(feeds.atom).toContain('<published>2024-01-03T01:00:00.000Z</published>');

    const empty = renderFeeds([], sampleSite());
    expect(empty.atom).toContain(`<updated>${EMPTY_FEED_UPDATED}</updated>`);
    expect(empty.rss).toContain('<lastBuildDate>Thu, 01 Jan 1970 00:00:00 GMT</lastBuildDate>');
    expect(renderFeeds([], sampleSite())).toEqual(empty);
  });

  it('has self links, feed id, author and categories', () => {
    const feeds = renderFeeds([entryFor(1)], sampleSite({ author: { name: '编辑部', email: 'ed@example.org' } }));
    expect(feeds.atom).toContain('<link rel="self" href="https://news.example.org/feed.atom"/>');
    expect(feeds.atom).toContain('<link rel="alternate" href="https://news.example.org/"/>');
    expect(feeds.atom).toContain('<name>编辑部</name>');
    expect(feeds.atom).toContain('<category label="分布式系统" term="分布式系统"/>');
    expect(feeds.atom).toContain('<content type="html"><![CDATA[<section');
    expect(feeds.rss).toContain('<atom:link href="https://news.example.org/feed.rss" rel="self" type="application/rss+xml"/>');
    expect(feeds.rss).toContain('<author>ed@example.org (编辑部)</author>');
    expect(feeds.rss).toContain('<category>分布式系统</category>');
    expect(feeds.rss).toContain('<language>zh-CN</language>');
    expect(feeds.rss).toContain('<guid isPermaLink="false">https://news.example.org/issues/2024-01/</guid>');
  });

  it('writes JSON Feed 1.1 with string ids and authors', () => {
    const feeds = renderFeeds([entryFor(1)], sampleSite());
    const json = JSON.parse(feeds.json) as Record<string, unknown> & { items: Array<Record<string, unknown>> };
    expect(json.version).toBe('https://jsonfeed.org/version/1.1');
    expect(json.title).toBe('云计算技术动态');
    expect(json.home_page_url).toBe('https://news.example.org/');
    expect(json.feed_url).toBe('https://news.example.org/feed.json');
    expect(json.language).toBe('zh-CN');
    expect(json.authors).toEqual([{ name: '云计算技术动态编辑部' }]);
    expect(json).not.toHaveProperty('author');
    const [item] = json.items;
    expect(item).toMatchObject({
      id: 'https://news.example.org/issues/2024-01/',
      url: 'https://news.example.org/issues/2024-01/',
      title: '云计算技术动态 第1期',
      date_published: '2024-01-02T01:00:00.000Z',
      date_modified: '2024-01-02T01:00:00.000Z',
      tags: ['分布式系统', '云计算技术', '大模型技术', '技术之外'],
    });
    expect(typeof item!.id).toBe('string');
    expect(String(item!.content_html)).toContain('<section');
    expect(item!.summary).toBe(sampleIssue().summary);
  });

  it('strips control characters from every string and stays well-formed', () => {
    const dirty = entryFor(1, {
      title: 'Bell\u0007 and NUL\u0000 and ESC\u001b title\uFFFE',
      summary: 'Sum\u0001mary \ud800 lone',
      contentHtml: '<p>Con\u000btent</p>',
      categories: ['Cat\u0002 <b> & "q"'],
    });
    const feeds = renderFeeds([dirty], sampleSite({ title: 'Site\u0003', description: 'Desc\u0008' }));
    for (const text of [feeds.atom, feeds.rss, feeds.json]) {
      // eslint-disable-next-line no-control-regex
      expect(text).not.toMatch(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|\\u000[0-8]|\\u001b/);
      expect(text).toContain('NUL and ESC title');
    }
    expect(feeds.atom).toContain('<category label="Cat &lt;b&gt; &amp; &quot;q&quot;" term="Cat &lt;b&gt; &amp; &quot;q&quot;"/>');
    expect(JSON.parse(feeds.json).items[0].summary).toBe('Summary \ufffd lone');
    assertWellFormed(feeds.atom);
    assertWellFormed(feeds.rss);
    expect(stripControlChars('a\u0000b\u007fc\u0085d\td\ne')).toBe('abc\u0085d\td\ne');
  });

  it('is deterministic', () => {
    const entries = [entryFor(1), entryFor(2), entryFor(3)];
    expect(renderFeeds(entries, sampleSite())).toEqual(renderFeeds([...entries].reverse(), sampleSite()));
  });

  it('refuses a feed id that is not a URI, naming the issue', () => {
    const error = (() => {
      try {
        renderFeeds([entryFor(1, { id: 'not a uri' })], sampleSite());
      } catch (e) {
        return e as LetterpressError;
      }
      throw new Error('expected an error');
    })();
    expect(error.code).toBe('E_FEED');
    expect(error.message).toContain('2024-01');
  });
});
