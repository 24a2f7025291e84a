import { beforeAll, describe, expect, it } from 'vitest';
import type { Templates } from '../../src/render/compile-templates.ts';
import { renderFeeds } from '../../src/render/render-feeds.ts';
import { renderIssue } from '../../src/render/render-issue.ts';
import { renderIndex } from '../../src/render/render-page.ts';
import type { Rendition } from '../../src/render/types.ts';
import { hostileIssue, sampleIssue, sampleMeta, sampleSite, shippedTemplates } from './fixtures.ts';

let templates: Templates;
let hostile: Rendition;
let html: Record<string, string>;
let json: string;

beforeAll(async () => {
  templates = await shippedTemplates();
  hostile = await renderIssue(hostileIssue(), sampleMeta(), templates, sampleSite());
  const feeds = renderFeeds([hostile.feedEntry], sampleSite());
  html = {
    'email html': hostile.email.html,
    page: hostile.pageHtml,
    index: renderIndex([hostile.indexEntry], templates, sampleSite()),
    'feed content': hostile.feedEntry.contentHtml,
    atom: feeds.atom,
    rss: feeds.rss,
    // JSON Feed's title and summary are plain text by spec: check its HTML field here and
    // the raw JSON (where < and > are escapes) for markup below.
    'json content_html': (JSON.parse(feeds.json) as { items: Array<{ content_html: string }> }).items[0]!.content_html,
  };
  json = feeds.json;
});

describe('hostile issue content', () => {
  it('never yields a script, an event handler or a javascript:/data: URL in any HTML-bearing output', () => {
    for (const [name, text] of Object.entries(html)) {
      expect(text, name).not.toMatch(/<script/i);
      expect(text, name).not.toMatch(/onerror=/i);
      expect(text, name).not.toMatch(/javascript:/i);
      expect(text, name).not.toMatch(/data:text/i);
      expect(text, name).not.toMatch(/<(img|iframe|b)[\s>]/i);
      expect(text, name).not.toMatch(/<[a-z][^>]*\son\w+\s*=/i);
    }
  });

  it('keeps markup out of the raw JSON feed', () => {
    expect(json).not.toMatch(/<|>|javascript:|data:text/i);
  });

  it('shows what the editor wrote as escaped text', () => {
    expect(hostile.pageHtml).toContain('<h1>Hostile &lt;b&gt;bold&lt;/b&gt; issue</h1>');
    expect(hostile.pageHtml).toContain('Summary &lt;script&gt;alert(1)&lt;/script&gt; and &lt;img src&#x3D;x onerror&#x3D;alert(1)&gt;');
    expect(hostile.email.html).toContain('<title>Hostile &lt;b&gt;bold&lt;/b&gt; issue</title>');
    expect(hostile.email.html).toContain('Preheader &lt;script&gt;alert(1)&lt;/script&gt;');
    expect(hostile.email.html).toContain('Item &lt;b&gt;bold&lt;/b&gt; title');
    expect(html.atom).toContain('<title type="html"><![CDATA[Hostile &lt;b&gt;bold&lt;/b&gt; issue]]></title>');
    // An unsafe link keeps its text, loses its URL; the javascript: item link is not linked.
    expect(hostile.pageHtml).toContain('<p>See x and y and z and d and <a href="https://ok.example/path?a=1&amp;b=2" rel="noopener">ok</a></p>');
    expect(hostile.pageHtml).toContain('<h3><span class="num">1.</span> Item &lt;b&gt;bold&lt;/b&gt; title</h3>');
    // JSON keeps the exact text, with < and > as escapes.
    const parsed = JSON.parse(json) as { title: string; items: Array<{ title: string; summary: string }> };
    expect(parsed.items[0]!.title).toBe('Hostile <b>bold</b> issue');
    expect(parsed.items[0]!.summary).toBe(hostileIssue().summary);
  });

  it('drops raw HTML tags and unsafe URLs from the text/plain part, keeping the words', () => {
    // The parser warns about raw HTML (W_RAW_HTML); the text part keeps the words between
    // the tags, and javascript:/data: link targets are dropped like everywhere else.
    const text = hostile.email.text;
    expect(text).not.toMatch(/javascript:|data:text|<script|<img|onerror=/i);
    expect(text).toContain('Summary alert(1) and');
    expect(text).toContain('See x and y and z and d and ok (https://ok.example/path?a=1&b=2)');
    expect(text).toContain('1. Item bold title\n\n');
  });

  it('neutralises raw HTML links, autolinks and entity-encoded schemes', async () => {
    const issue = sampleIssue({
      intro: [
        '<a href="javascript:alert(1)">raw</a>',
        '<javascript:alert(1)>',
        '[enc](&#x6A;avascript:alert(1))',
        '[tab](java\tscript:alert(1))',
        '<svg onload=alert(1)>',
      ].join('\n\n'),
    });
    const out = await renderIssue(issue, sampleMeta(), templates, sampleSite());
    for (const text of [out.email.html, out.pageHtml, out.feedEntry.contentHtml]) {
      expect(text).not.toMatch(/<a [^>]*href="(?!https?:|mailto:|#|\.\.?\/|%%unsubscribe_url%%)/i);
      expect(text).not.toMatch(/<(svg|script)/i);
      expect(text).not.toMatch(/<[a-z][^>]*\son\w+\s*=/i);
      expect(text).not.toMatch(/href="[^"]*javascript/i);
    }
  });
});
