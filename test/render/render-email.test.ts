import { beforeAll, describe, expect, it } from 'vitest';
import { loadTemplateSources } from '../../src/project/load-templates.ts';
import { compileTemplates, type Templates } from '../../src/render/compile-templates.ts';
import { renderEmail } from '../../src/render/render-email.ts';
import { EMAIL_SLOTS } from '../../src/render/types.ts';
import { LetterpressError } from '../../src/util/errors.ts';
import { hiddenElements, PREHEADER_STYLE } from './hidden-text.ts';
import { englishSite, sampleIssue, sampleMeta, sampleSite, shippedTemplates, TEMPLATES_DIR } from './fixtures.ts';

let templates: Templates;
beforeAll(async () => {
  templates = await shippedTemplates();
});

/** Every absolute URL in the document must be the site's, an item's, or the XHTML namespace. */
function foreignUrls(html: string, allowed: string[]): string[] {
  const urls = html.match(/https?:\/\/[^\s"'<>)]+/g) ?? [];
  return urls.filter(
    (url) => url !== 'http://www.w3.org/1999/xhtml' && !allowed.some((prefix) => url.startsWith(prefix)),
  );
}

describe('renderEmail', () => {
  for (const [name, site] of [
    ['zh-CN', sampleSite()],
    ['en', englishSite()],
  ] as const) {
    it(`compiles the sample issue with MJML in strict mode (${name})`, async () => {
      const issue = sampleIssue();
      const { email, diagnostics } = await renderEmail(issue, sampleMeta(), templates, site);
      expect(diagnostics).toEqual([]);
      const bytes = Buffer.byteLength(email.html);
      expect(bytes).toBeLessThan(100 * 1024);

      expect(email.html).toMatch(/^<!doctype html>/i);
      expect(email.html).toContain(`<html lang="${name}"`);
      expect(email.html).toContain(`<title>${issue.title}</title>`);
      expect(email.preheader).toBe(issue.summary);
      expect(email.html).toContain(issue.summary);
      expect(email.html).toContain(site.postalAddress);
      expect(email.html).toContain(`href="${EMAIL_SLOTS.unsubscribeUrl}"`);
      expect(email.text).toContain(EMAIL_SLOTS.unsubscribeUrl);
      expect(email.text).toContain(site.postalAddress);

      // Loads nothing: no fonts, stylesheets, scripts, images, frames or CSS imports.
      expect(email.html).not.toContain('fonts.googleapis');
      expect(email.html).not.toMatch(/<script|<link|<img|<iframe|@import|url\(|\ssrc=/i);
      const allowed = [site.url, ...issue.sections.flatMap((s) => s.items.map((i) => i.url!))];
      expect(foreignUrls(email.html, allowed)).toEqual([]);

      // Responsive single column: 600px wide, stacking below the 480px breakpoint.
      expect(email.html).toContain('max-width:600px');
      expect(email.html).toContain('@media only screen and (min-width:480px)');
      // The font stack with CJK fallbacks is inlined on the text blocks.
      expect(email.html).toMatch(/font-family:[^;"]*PingFang SC[^;"]*Microsoft YaHei/);

      // View in browser, headings, anchors and linked item titles.
      expect(email.html).toContain('href="https://news.example.org/issues/2024-18/"');
      for (const section of issue.sections) {
        expect(email.html).toContain(`<h2 id="${section.anchor}"`);
        for (const item of section.items) {
          expect(email.html).toContain(`<h3 id="${item.anchor}"`);
          expect(email.html).toContain(`href="${item.url}"`);
        }
      }
    });
  }

  it('hides its one preheader by layout, never by colouring it like the background', async () => {
    const issue = sampleIssue();
    const { email } = await renderEmail(issue, sampleMeta(), templates, sampleSite());
    const hidden = hiddenElements(email.html);
    // MJML's mj-preview would add a second one, coloured #ffffff: the template no longer uses it.
    expect(hidden).toHaveLength(1);
    const [preheader] = hidden;
    expect(preheader?.className).toBe('lp-preheader');
    expect(preheader?.text).toBe(issue.summary);
    const declarations = preheader!.style.split(';').map((d) => d.trim().replace(/\s+/g, ''));
    for (const declaration of PREHEADER_STYLE) expect(declarations).toContain(declaration);
    expect(preheader?.style).not.toMatch(/(^|;)\s*color\s*:/i);
    expect(email.html).not.toMatch(/color:#ffffff;line-height:1px/);
  });

  it('shows the chrome in the site locale', async () => {
    const zh = await renderEmail(sampleIssue(), sampleMeta(), templates, sampleSite());
    expect(zh.email.html).toContain('在浏览器中查看');
    expect(zh.email.html).toContain('退订');
    expect(zh.email.html).toContain('您收到这封邮件，是因为您订阅了「云计算技术动态」。');
    expect(zh.email.text).toContain('退订：%%unsubscribe_url%%');
    const en = await renderEmail(sampleIssue(), sampleMeta(), templates, englishSite());
    expect(en.email.html).toContain('View in browser');
    expect(en.email.html).toContain('Unsubscribe');
    expect(en.email.html).toContain('You are receiving this email because you subscribed to 云计算技术动态.');
    expect(en.email.html).toContain('Read more');
    expect(en.email.text).toContain('Unsubscribe: %%unsubscribe_url%%');
  });

  it('is deterministic: the same input gives the same bytes', async () => {
    const a = await renderEmail(sampleIssue(), sampleMeta(), templates, sampleSite());
    const b = await renderEmail(sampleIssue(), sampleMeta(), await shippedTemplates(), sampleSite());
    expect(b.email.html).toBe(a.email.html);
    expect(b.email.text).toBe(a.email.text);
    expect(b.email.subject).toBe(a.email.subject);
  });

  it('renders the text part with numbered items, URLs and CJK-aware wrapping', async () => {
    const { email } = await renderEmail(sampleIssue(), sampleMeta(), templates, sampleSite());
    const lines = email.text.split('\n');
    expect(lines[0]).toBe('云计算技术动态 2024 年第十八期');
    expect(email.text).toContain('\n分布式系统\n----------\n');
    expect(email.text).toContain('\n1. Google Fellow解读：分布式计算的第五个时代\n   https://mp.weixin.qq.com/s/iur1mcN1o0pKcUlxtw-0IA\n');
    expect(email.text).toContain('在浏览器中查看：https://news.example.org/issues/2024-18/');
    for (const line of lines) {
      if (!/https?:\/\//.test(line)) expect([...line].reduce((w, ch) => w + (/[\u2e80-\uffef]/.test(ch) ? 2 : 1), 0), line).toBeLessThanOrEqual(72);
    }
    expect(email.text).not.toMatch(/\n{3,}/);
    expect(email.text).not.toMatch(/[ \t]+\n/);
    expect(email.text.endsWith('%%unsubscribe_url%%\n')).toBe(true);
  });

  it('builds the Subject from the config template without HTML escaping', async () => {
    const site = sampleSite({ subjectTemplate: '【{{site.title}}】第 {{number}} 期 · {{title}} <{{slug}}>' });
    const { email } = await renderEmail(sampleIssue(), sampleMeta(), templates, site);
    expect(email.subject).toBe('【云计算技术动态】第 18 期 · 云计算技术动态 2024 年第十八期 <2024-18>');
  });

  it('turns invalid MJML into E_MJML naming the template and the MJML line', async () => {
    const sources = await loadTemplateSources(TEMPLATES_DIR);
    const broken = sources.files['email/issue.mjml.hbs']!.replace(
      '<mj-text font-size="13px" css-class="lp-kicker">',
      '<mj-text font-size="13px" css-class="lp-kicker" colour="red">',
    );
    const bad = compileTemplates({ ...sources, files: { ...sources.files, 'email/issue.mjml.hbs': broken } });
    const error = (await renderEmail(sampleIssue(), sampleMeta(), bad, sampleSite()).catch((e: unknown) => e)) as LetterpressError;
    expect(error).toBeInstanceOf(LetterpressError);
    expect(error.code).toBe('E_MJML');
    expect(error.file).toBe('email/issue.mjml.hbs');
    expect(error.line).toBeGreaterThan(0);
    expect(error.message).toContain('colour');
    expect(error.message).toContain('lp-kicker');
  });

  it('renders a non-digest issue (intro only) and an item without link or summary', async () => {
    const issue = sampleIssue({ isDigest: false, sections: [], intro: '# Hello\n\nA plain **issue** with [a link](/about/).' });
    const { email } = await renderEmail(issue, sampleMeta(), templates, sampleSite());
    expect(email.html).toContain('<strong>issue</strong>');
    expect(email.html).toContain('href="https://news.example.org/about/"');
    expect(email.text).toContain('A plain issue with a link (https://news.example.org/about/).');

    const base = sampleIssue();
    const bare = sampleIssue({
      sections: [{ ...base.sections[0]!, items: [{ number: 1, title: 'No link', anchor: 's1-i1', position: { line: 5, column: 1 } }] }],
    });
    const out = await renderEmail(bare, sampleMeta(), templates, sampleSite());
    expect(out.email.html).toContain('No link');
    expect(out.email.text).toContain('1. No link');
  });
});

describe('compileEmailMjml', () => {
  it('gives the same HTML as the full minifier and loads neither svgo nor csso (cold check and build)', async () => {
    // A fresh process: the first compile is what a cold `check` pays for.
    const script = `
      import { createRequire } from 'node:module';
      const { compileEmailMjml, MJML_OPTIONS } = await import(${JSON.stringify(new URL('../../dist/render/render-email.js', import.meta.url).href)});
      const mjml = process.argv[1];
      const html = await compileEmailMjml(mjml, 'email/issue.mjml.hbs', 'a test');
      const loaded = Object.keys(createRequire(import.meta.url).cache).filter((file) => /node_modules\\/(svgo|csso|css-tree)\\//.test(file));
      const mjml2html = createRequire(${JSON.stringify(new URL('../../dist/render/render-email.js', import.meta.url).href)})('mjml');
      const { minifySvg, minifyJson, minifyHtmlTemplate, ...full } = MJML_OPTIONS.minifyOptions;
      const reference = (await mjml2html(mjml, { ...MJML_OPTIONS, minifyOptions: full })).html;
      process.stdout.write(JSON.stringify({ loaded, same: html === reference, bytes: html.length }));
    `;
    const issue = sampleIssue();
    const { renderEmailMjml } = await import('../../src/render/render-email.ts');
    const mjml = renderEmailMjml(issue, sampleMeta(), templates, sampleSite());
    const { execFile } = await import('node:child_process');
    const { promisify } = await import('node:util');
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script, mjml]);
    const result = JSON.parse(stdout) as { loaded: string[]; same: boolean; bytes: number };
    expect(result.bytes).toBeGreaterThan(1000);
    expect(result.same).toBe(true);
    expect(result.loaded).toEqual([]);
  });
});
