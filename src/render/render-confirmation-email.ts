import type { TemplateContext, Templates } from './compile-templates.ts';
import { buildSiteView, type SiteView } from './issue-view.ts';
import { compileEmailMjml, tidyEmailText } from './render-email.ts';
import { EMAIL_SLOTS, type EmailRendition, type SiteInfo } from './types.ts';

const MJML_TEMPLATE = 'email/confirm.mjml.hbs';
const TEXT_TEMPLATE = 'email/confirm.txt.hbs';

/** What the confirmation templates see: site facts only, never anything a visitor typed. */
export interface ConfirmationTemplateContext extends TemplateContext {
  site: SiteView;
  subject: string;
  preheader: string;
  /** EMAIL_SLOTS.confirmUrl: the per-recipient step puts the link there. */
  confirmUrl: string;
  expiresInDays: number;
}

/** A chrome string with its `{name}` placeholders filled (the `t` helper's rule, for Subject and preheader). */
function fillString(templates: Templates, site: SiteInfo, key: string, values: Record<string, string | number>): string {
  const text = templates.strings[site.locale][key] ?? key;
  return text.replace(/\{(\w+)\}/g, (match, name: string) => (name in values ? String(values[name]) : match));
}

/**
 * Renders the double opt-in email once (Handlebars → MJML strict → HTML, and its text part):
 * which newsletter, a Confirm button and the link as text, the expiry, what ignoring it means,
 * and the postal address. Every copy is the same but for EMAIL_SLOTS.confirmUrl, which the
 * per-recipient step fills; it has no name, no address and no unsubscribe link (there is no
 * subscription yet). Pure: `expiresInDays` comes from the token policy of the caller.
 */
export async function renderConfirmationEmail(
  templates: Templates,
  site: SiteInfo,
  options: { expiresInDays: number },
): Promise<EmailRendition> {
  const subject = fillString(templates, site, 'confirmSubject', { site: site.title }).replace(/\s+/g, ' ').trim();
  const preheader = fillString(templates, site, 'confirmPreheader', { site: site.title, days: options.expiresInDays });
  const context: ConfirmationTemplateContext = {
    locale: site.locale,
    timezone: site.timezone,
    site: buildSiteView(site),
    subject,
    preheader,
    confirmUrl: EMAIL_SLOTS.confirmUrl,
    expiresInDays: options.expiresInDays,
  };
  const html = await compileEmailMjml(templates.render(MJML_TEMPLATE, context), MJML_TEMPLATE, 'the confirmation email');
  const text = tidyEmailText(templates.render(TEXT_TEMPLATE, context));
  return { subject, preheader, html, text };
}
