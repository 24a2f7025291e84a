import { beforeAll, describe, expect, it } from 'vitest';
import type { Templates } from '../../src/render/compile-templates.ts';
import { renderIndexEntry } from '../../src/render/render-issue.ts';
import { renderIndex, renderPage } from '../../src/render/render-page.ts';
import type { IndexEntry } from '../../src/render/types.ts';
import { englishSite, sampleIssue, sampleMeta, sampleSite, shippedTemplates } from './fixtures.ts';

let templates: Templates;
beforeAll(async () => {
  templates = await shippedTemplates();
});

describe('renderPage', () => {
  it('is a complete document with autodiscovery, stylesheet and no script or outside resource', () => {
    const html = renderPage(sampleIssue(), sampleMeta(), templates, sampleSite());
    expect(html.startsWith('<!doctype html>\n<html lang="zh-CN">')).toBe(true);
    expect(html).toContain('<meta charset="utf-8">');
    expect(html).toContain('<meta name="viewport" content="width=device-width, initial-scale=1">');
    expect(html).toContain('<title>云计算技术动态 2024 年第十八期 · 云计算技术动态</title>');
    expect(html).toContain('<link rel="alternate" type="application/atom+xml" title="云计算技术动态 (Atom)" href="https://news.example.org/feed.atom">');
    expect(html).toContain('type="application/rss+xml" title="云计算技术动态 (RSS)" href="https://news.example.org/feed.rss"');
    expect(html).toContain('type="application/feed+json" title="云计算技术动态 (JSON Feed)" href="https://news.example.org/feed.json"');
    expect(html).toContain('<link rel="stylesheet" href="../../style.css">');
    expect(html).not.toMatch(/<script|<img|<iframe|\ssrc=|@import|\sstyle=|\son\w+=/i);
    // The only stylesheet link is local; every other <link> is an alternate/canonical.
    expect(html.match(/<link rel="stylesheet"[^>]*>/g)).toHaveLength(1);
  });

  it('has section and item anchors from the model, and a link back to the archive', () => {
    const issue = sampleIssue();
    const html = renderPage(issue, sampleMeta(), templates, sampleSite());
    for (const section of issue.sections) {
      expect(html).toContain(`<section class="section" id="${section.anchor}">`);
      for (const item of section.items) expect(html).toContain(`<article class="card" id="${item.anchor}">`);
    }
    expect(html).toContain('<a href="#s2">云计算技术</a>');
    expect(html).toContain('<a href="../../">← 全部期刊</a>');
  });

  it('formats dates in the site timezone and locale', () => {
    const meta = sampleMeta({ date: '2024-05-05T16:30:00Z', updated: '2024-05-05T16:30:00Z' });
    const issue = sampleIssue({ date: '2024-05-05T16:30:00Z' });
    const zh = renderPage(issue, meta, templates, sampleSite());
    expect(zh).toContain('<time datetime="2024-05-06T00:30:00+08:00">2024年5月6日</time>');
    const en = renderPage(issue, meta, templates, englishSite());
    expect(en).toContain('<time datetime="2024-05-06T00:30:00+08:00">May 6, 2024</time>');
    expect(en).toContain('<html lang="en">');
    expect(en).toContain('Issue #18');
    expect(en).toContain('In this issue');
    const ny = renderPage(issue, meta, templates, englishSite({ timezone: 'America/New_York' }));
    expect(ny).toContain('>May 5, 2024</time>');
  });

  it('says when an issue was edited after publication', () => {
    const meta = sampleMeta({ updated: '2024-05-08T10:00:00+08:00' });
    expect(renderPage(sampleIssue(), meta, templates, sampleSite())).toContain('更新于 2024年5月8日');
    expect(renderPage(sampleIssue(), sampleMeta(), templates, sampleSite())).not.toContain('更新于');
  });

  it('is deterministic', () => {
    const a = renderPage(sampleIssue(), sampleMeta(), templates, sampleSite());
    expect(renderPage(sampleIssue(), sampleMeta(), templates, sampleSite())).toBe(a);
  });
});

describe('renderIndex', () => {
  const entry = (slug: string, date: string, number?: number): IndexEntry => ({
    ...renderIndexEntry(sampleIssue({ slug, title: `Issue ${slug}`, number, date, year: undefined }), sampleMeta({ date })),
  });

  it('lists issues newest first (date, then number) whatever order it is given', () => {
    const entries = [
      entry('a', '2024-05-06T00:00:00+08:00', 18),
      entry('c', '2024-08-12T00:00:00+08:00', 32),
      entry('b', '2024-05-06T00:00:00+08:00', 19),
      entry('d', '2024-05-05T23:00:00Z', 17), // later instant than 'a' despite the earlier calendar date
    ];
    const html = renderIndex(entries, templates, sampleSite());
    const order = [...html.matchAll(/<a href="\.\/issues\/([a-z])\/">/g)].map((m) => m[1]);
    expect(order).toEqual(['c', 'd', 'b', 'a']);
    expect(html).toContain('<link rel="stylesheet" href="./style.css">');
    expect(html).toContain('第 32 期');
    expect(html).not.toMatch(/<script/i);
  });

  it('says so when there are no issues', () => {
    expect(renderIndex([], templates, englishSite())).toContain('No issues have been published yet.');
    expect(renderIndex([], templates, sampleSite())).toContain('还没有发布任何一期。');
  });
});
