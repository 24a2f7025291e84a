import { beforeAll, describe, expect, it } from 'vitest';
import type { Templates } from '../../src/render/compile-templates.ts';
import { renderConfirmationEmail } from '../../src/render/render-confirmation-email.ts';
import { EMAIL_SLOTS } from '../../src/render/types.ts';
import { englishSite, sampleSite, shippedTemplates } from './fixtures.ts';
import { hiddenElements, PREHEADER_STYLE } from './hidden-text.ts';

let templates: Templates;
beforeAll(async () => {
  templates = await shippedTemplates();
});

/** Every absolute URL that is not the site's (the XHTML namespace MJML writes is allowed). */
function foreignUrls(text: string, siteUrl: string): string[] {
  return (text.match(/https?:\/\/[^\s"'<>)]+/g) ?? []).filter(
    (url) => url !== 'http://www.w3.org/1999/xhtml' && !url.startsWith(`${siteUrl}/`) && url !== siteUrl,
  );
}

describe('renderConfirmationEmail', () => {
  for (const [locale, site, expected] of [
    [
      'zh-CN',
      sampleSite(),
      { subject: '请确认订阅「云计算技术动态」', button: '确认订阅', expires: '此链接 7 天内有效。', ignore: '请忽略这封邮件：您不会被订阅。' },
    ],
    [
      'en',
      englishSite(),
      {
        subject: 'Confirm your subscription to 云计算技术动态',
        button: 'Confirm subscription',
        expires: 'The link expires in 7 days.',
        ignore: 'just ignore this email: you will not be subscribed.',
      },
    ],
  ] as const) {
    it(`compiles with MJML in strict mode and says what it must (${locale})`, async () => {
      // MJML strict throws on any validation error, so resolving is the zero-error check.
      const email = await renderConfirmationEmail(templates, site, { expiresInDays: 7 });
      expect(email.subject).toBe(expected.subject);
      expect(Buffer.byteLength(email.html)).toBeLessThan(100 * 1024);
      expect(email.html).toMatch(/^<!doctype html>/i);
      expect(email.html).toContain(`<html lang="${locale}"`);
      expect(email.html).toContain(`<title>${expected.subject}</title>`);
      expect(email.html).toContain(email.preheader);

      // Which newsletter, the big button to the slot, the expiry, what ignoring means, the postal address.
      expect(email.html).toContain(site.title);
      expect(email.html).toMatch(new RegExp(`<a href="${EMAIL_SLOTS.confirmUrl}"[^>]*>\\s*${expected.button}\\s*</a>`));
      for (const part of [email.html, email.text]) {
        expect(part).toContain(EMAIL_SLOTS.confirmUrl);
        // The text part wraps at 72 columns: compare with the line breaks as spaces.
        const flat = part.replace(/\s+/g, ' ');
        expect(flat).toContain(expected.expires);
        expect(flat).toContain(expected.ignore);
        expect(part).toContain(site.postalAddress);
        // A pending address has nothing to unsubscribe from.
        expect(part).not.toContain(EMAIL_SLOTS.unsubscribeUrl);
        expect(foreignUrls(part, site.url)).toEqual([]);
      }

      // Loads nothing: no fonts, stylesheets, scripts, images or frames; the system font stack.
      expect(email.html).not.toMatch(/<script|<link|<img|<iframe|@import|url\(|\ssrc=|fonts\.googleapis/i);
      expect(email.html).toMatch(/font-family:[^;"]*PingFang SC[^;"]*Microsoft YaHei/);
      expect(email.html).toContain('max-width:600px');
    });
  }

  it('hides its one preheader by layout, never by colouring it like the background', async () => {
    const email = await renderConfirmationEmail(templates, sampleSite(), { expiresInDays: 7 });
    const hidden = hiddenElements(email.html);
    expect(hidden).toHaveLength(1);
    expect(hidden[0]?.className).toBe('lp-preheader');
    expect(hidden[0]?.text).toBe(email.preheader);
    const declarations = hidden[0]!.style.split(';').map((d) => d.trim().replace(/\s+/g, ''));
    for (const declaration of PREHEADER_STYLE) expect(declarations).toContain(declaration);
    expect(hidden[0]?.style).not.toMatch(/(^|;)\s*color\s*:/i);
  });

  it('takes the expiry from its caller and is the same for everyone (nothing personal in it)', async () => {
    const a = await renderConfirmationEmail(templates, englishSite(), { expiresInDays: 3 });
    const b = await renderConfirmationEmail(templates, englishSite(), { expiresInDays: 3 });
    expect(a).toEqual(b);
    expect(a.text).toContain('The link expires in 3 days.');
    expect(a.preheader).toBe('One click to start receiving 云计算技术动态. The link expires in 3 days.');
  });

  it('escapes site facts in the HTML', async () => {
    const email = await renderConfirmationEmail(
      templates,
      englishSite({ title: 'News <b>&</b>', postalAddress: '1 <i>Road</i>' }),
      { expiresInDays: 7 },
    );
    expect(email.html).not.toContain('<b>');
    expect(email.html).not.toContain('<i>Road');
    expect(email.html).toContain('1 &lt;i&gt;Road&lt;/i&gt;');
    expect(email.subject).toBe('Confirm your subscription to News <b>&</b>');
  });
});
