import { beforeAll, describe, expect, it } from 'vitest';
import { SUPPORTED_LOCALES } from '../../src/config/schema.ts';
import type { Templates } from '../../src/render/compile-templates.ts';
import type { SubscriptionPageInput } from '../../src/render/render-subscription-page.ts';
import { createSubscriptionPageRenderer, reasonKey, renderSubscriptionPage } from '../../src/render/render-subscription-page.ts';
import { EMAIL_PROBLEMS } from '../../src/store/email-address.ts';
import { englishSite, sampleSite, shippedTemplates } from './fixtures.ts';

let templates: Templates;
beforeAll(async () => {
  templates = await shippedTemplates();
});

describe('renderSubscriptionPage', () => {
  it('has a sentence for every address problem and fill-time verdict in every locale', () => {
    expect(reasonKey('domain-no-dot')).toBe('subscriptionReasonDomainNoDot');
    for (const locale of SUPPORTED_LOCALES) {
      for (const code of [...EMAIL_PROBLEMS, 'too-fast', 'stale-form']) {
        expect(templates.strings[locale][reasonKey(code)], `${locale} ${code}`).toEqual(expect.any(String));
      }
    }
  });

  it('fills the offending character into the sentence, escaped', () => {
    const html = renderSubscriptionPage(templates, englishSite(), {
      kind: 'invalid-email',
      reason: { code: 'domain-character', params: { character: '<' } },
      path: '/subscribe',
    });
    expect(html).toContain('The part after the @ contains a character that is not allowed: &lt;');
  });

  it('shows the address in bold on the check-inbox page, escaped, with the spam-folder hint', () => {
    const html = renderSubscriptionPage(templates, sampleSite(), { kind: 'check-inbox', email: 'a&b@example.org', path: '/subscribe' });
    expect(html).toContain('<strong class="subscription-address">a&amp;b@example.org</strong>');
    expect(html).toContain('垃圾邮件文件夹');
  });

  it('falls back to English for a string its locale lacks', () => {
    const partial: Templates = {
      ...templates,
      strings: { ...templates.strings, 'zh-CN': { ...templates.strings['zh-CN'], subscriptionReasonNoAt: undefined as unknown as string } },
    };
    const html = renderSubscriptionPage(partial, sampleSite(), { kind: 'invalid-email', reason: { code: 'no-at' }, path: '/subscribe' });
    expect(html).toContain('The address needs an @');
    expect(html).toContain('邮箱地址格式不正确');
  });
});

describe('createSubscriptionPageRenderer', () => {
  it('answers every page exactly as renderSubscriptionPage does, the kept ones on every call', () => {
    const addresses = ["o'brien&co+tag=1@example.org", 'ann@bücher.example', '`x`{|}~^!#$%*/?@example.org', '', undefined];
    const inputs: SubscriptionPageInput[] = [];
    for (const email of addresses) {
      for (const path of ['/subscribe', '/confirm', '/no/such/page']) {
        for (const kind of ['check-inbox', 'confirmed', 'not-found', 'subscribe'] as const) inputs.push({ kind, path, email });
      }
      inputs.push({ kind: 'invalid-email', path: '/subscribe', email, reason: { code: 'no-at' }, values: { email: email ?? '' } });
      inputs.push({ kind: 'confirm', path: '/confirm', email, token: 'v1.a.confirm.1.0.mac' });
    }
    for (const site of [englishSite(), sampleSite()]) {
      const render = createSubscriptionPageRenderer(templates, site);
      for (const round of [1, 2]) {
        for (const input of inputs) expect(render(input), `${site.locale} round ${round} ${JSON.stringify(input)}`).toBe(renderSubscriptionPage(templates, site, input));
      }
    }
  });
});
