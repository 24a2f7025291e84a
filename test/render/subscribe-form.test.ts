import { beforeAll, describe, expect, it } from 'vitest';
import type { Templates } from '../../src/render/compile-templates.ts';
import { renderIndexEntry } from '../../src/render/render-issue.ts';
import { renderIndex, renderPage } from '../../src/render/render-page.ts';
import { englishSite, sampleIssue, sampleMeta, sampleSite, shippedTemplates } from './fixtures.ts';

let templates: Templates;
beforeAll(async () => {
  templates = await shippedTemplates();
});

/** The one <form> of a page and the tags of its fields. */
function formOf(html: string) {
  const forms = html.match(/<form\b[\s\S]*?<\/form>/g) ?? [];
  expect(forms).toHaveLength(1);
  const form = forms[0]!;
  const input = (name: string) => {
    const tag = new RegExp(`<input[^>]*\\sname="${name}"[^>]*>`).exec(form)?.[0];
    expect(tag, name).toBeDefined();
    return tag!;
  };
  return { form, input };
}

describe('subscribe form', () => {
  const pages = (site = sampleSite()) => ({
    index: renderIndex([renderIndexEntry(sampleIssue(), sampleMeta())], templates, site),
    issue: renderPage(sampleIssue(), sampleMeta(), templates, site),
    empty: renderIndex([], templates, site),
  });

  it('is on the archive index and every issue page, posting to the subscription endpoint of site.url', () => {
    for (const [name, html] of Object.entries(pages())) {
      const { form, input } = formOf(html);
      expect(form, name).toMatch(/^<form class="subscribe-form" method="post" action="https:\/\/news\.example\.org\/subscribe">/);
      const email = input('email');
      for (const attribute of ['type="email"', ' required', 'autocomplete="email"']) expect(email).toContain(attribute);
      expect(input('name')).not.toContain('required');
      const honeypot = input('website');
      for (const attribute of ['tabindex="-1"', 'autocomplete="off"']) expect(honeypot).toContain(attribute);
      // Hidden by the stylesheet's class on its wrapper, which is also hidden from screen readers.
      expect(form).toMatch(/<p class="subscribe-hp" aria-hidden="true"><label for="subscribe-website">[^<]+<\/label>\s*<input id="subscribe-website"/);
      expect(form).toMatch(/<button type="submit">订阅<\/button>/);
      // Every visible field has its label.
      for (const id of ['subscribe-email', 'subscribe-name']) expect(form).toContain(`<label for="${id}">`);
      // No inline script, style or handler anywhere on the page.
      expect(html).not.toMatch(/<script|\sstyle=|<style|\son\w+=/i);
    }
  });

  it('hides the honeypot in the stylesheet, not inline', () => {
    expect(templates.styleCss).toMatch(/\.subscribe-hp\s*\{[^}]*position:\s*absolute;[^}]*left:\s*-10000px/);
  });

  it('speaks the site locale', () => {
    const en = pages(englishSite());
    expect(en.index).toContain('<h2 id="subscribe-title">Subscribe by email</h2>');
    expect(en.issue).toContain('<label for="subscribe-email">Email address</label>');
    expect(en.issue).toContain('<button type="submit">Subscribe</button>');
    const zh = pages();
    expect(zh.index).toContain('<h2 id="subscribe-title">邮件订阅</h2>');
    expect(zh.issue).toContain('<label for="subscribe-name">称呼（可选）</label>');
  });

  it('escapes the site URL into the action', () => {
    const html = renderPage(sampleIssue(), sampleMeta(), templates, sampleSite({ url: 'https://x.example/"><b>' }));
    expect(html).toContain('action="https://x.example/&quot;&gt;&lt;b&gt;/subscribe"');
  });
});
