import { beforeAll, describe, expect, it } from 'vitest';
import type { Templates } from '../../src/render/compile-templates.ts';
import { renderIssue } from '../../src/render/render-issue.ts';
import { sampleIssue, sampleMeta, sampleSite, shippedTemplates } from './fixtures.ts';

let templates: Templates;
beforeAll(async () => {
  templates = await shippedTemplates();
});

describe('renderIssue', () => {
  it('combines email, page, feed entry and index entry for one issue', async () => {
    const meta = sampleMeta({ feedId: 'tag:news.example.org,2024:2024-18', updated: '2024-05-07T12:00:00+08:00' });
    const rendition = await renderIssue(sampleIssue(), meta, templates, sampleSite());
    expect(rendition.slug).toBe('2024-18');
    expect(rendition.permalink).toBe('https://news.example.org/issues/2024-18/');
    expect(rendition.diagnostics).toEqual([]);
    expect(rendition.feedEntry).toMatchObject({
      id: 'tag:news.example.org,2024:2024-18',
      slug: '2024-18',
      title: '云计算技术动态 2024 年第十八期',
      link: 'https://news.example.org/issues/2024-18/',
      published: '2024-05-06T00:00:00+08:00',
      updated: '2024-05-07T12:00:00+08:00',
      number: 18,
      categories: ['分布式系统', '云计算技术', '大模型技术', '技术之外'],
    });
    expect(rendition.indexEntry).toEqual({
      slug: '2024-18',
      title: '云计算技术动态 2024 年第十八期',
      number: 18,
      date: '2024-05-06T00:00:00+08:00',
      published: '2024-05-06T00:00:00+08:00',
      year: 2024,
      summary: sampleIssue().summary,
      path: 'issues/2024-18/',
    });
    expect(rendition.pageHtml).toContain('<h1>云计算技术动态 2024 年第十八期</h1>');
  });

  it('encodes the slug in every URL it builds', async () => {
    const rendition = await renderIssue(sampleIssue({ slug: 'spring 2024/1' }), sampleMeta(), templates, sampleSite());
    expect(rendition.permalink).toBe('https://news.example.org/issues/spring%202024%2F1/');
    expect(rendition.indexEntry.path).toBe('issues/spring%202024%2F1/');
    expect(rendition.email.html).toContain('href="https://news.example.org/issues/spring%202024%2F1/"');
  });

  it('is deterministic: rendering twice gives identical bytes everywhere', async () => {
    const a = await renderIssue(sampleIssue(), sampleMeta(), templates, sampleSite());
    const b = await renderIssue(sampleIssue(), sampleMeta(), templates, sampleSite());
    expect(b).toEqual(a);
  });

  it('warns (W_MJML) when the email HTML would be clipped by Gmail', async () => {
    const base = sampleIssue();
    const items = Array.from({ length: 60 }, (_, i) => ({
      ...base.sections[0]!.items[0]!,
      number: i + 1,
      anchor: `s1-i${i + 1}`,
    }));
    const big = sampleIssue({ sections: [{ ...base.sections[0]!, items }] });
    const rendition = await renderIssue(big, sampleMeta(), templates, sampleSite());
    expect(Buffer.byteLength(rendition.email.html)).toBeGreaterThan(100 * 1024);
    expect(rendition.diagnostics).toEqual([
      expect.objectContaining({ code: 'W_MJML', severity: 'warning', file: 'issues/2024-18.md' }),
    ]);
  });
});
