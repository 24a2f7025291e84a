import { randomBytes } from 'node:crypto';
import type { Templates } from './compile-templates.ts';
import { buildSiteView } from './issue-view.ts';
import type { SiteInfo } from './types.ts';

/**
 * Every page the subscription server answers with. One template
 * (`web/subscription.html.hbs`) renders them all; the strings live in `templates/i18n`
 * under keys starting with `subscription`.
 */
export type SubscriptionPageKind =
  | 'subscribe'
  | 'check-inbox'
  | 'invalid-email'
  | 'resubmit'
  | 'confirm'
  | 'confirmed'
  | 'confirm-invalid'
  | 'unsubscribe'
  | 'unsubscribed'
  | 'resubscribed'
  | 'link-invalid'
  | 'not-found'
  | 'too-many-requests'
  | 'bad-request'
  | 'busy'
  | 'error';

/**
 * Why a request was refused, as a stable code: the address problems of `normalizeEmail`
 * (`no-at`, `domain-no-dot`, …) and the fill-time verdicts (`too-fast`, `stale-form`). Each has
 * its own sentence in `templates/i18n` under `subscriptionReason<CodeInPascalCase>`.
 */
export interface SubscriptionReason {
  code: string;
  /** Values for the sentence's `{placeholders}` (the offending `character`). */
  params?: Readonly<Record<string, string>>;
}

/** What a page needs besides its kind: the token its buttons carry, a detail line, form fields. */
export interface SubscriptionPageInput {
  kind: SubscriptionPageKind;
  /** The token from the link, echoed into the button's form (confirm) or its action (unsubscribe). */
  token?: string;
  /** Why the request was refused, shown as a sentence in the site's locale under the message. */
  reason?: SubscriptionReason;
  /** What the reader typed, put back into the redisplayed form so nothing needs typing twice. */
  values?: { email?: string; name?: string };
  /** The address a confirmation link went to, repeated on the check-inbox page. */
  email?: string;
  /** Hidden fields for the subscribe form (the signed fill-time stamp). */
  subscribeHidden?: ReadonlyArray<{ name: string; value: string }>;
  /** The request path, for the canonical link. */
  path: string;
}

interface FormView {
  action: string;
  buttonKey: string;
  hidden: ReadonlyArray<{ name: string; value: string }>;
  emailFields: boolean;
}

const TITLE_KEYS: Record<SubscriptionPageKind, [title: string, message: string]> = {
  subscribe: ['subscriptionSubscribeTitle', 'subscriptionSubscribeText'],
  'check-inbox': ['subscriptionCheckInboxTitle', 'subscriptionCheckInboxText'],
  'invalid-email': ['subscriptionInvalidEmailTitle', 'subscriptionInvalidEmailText'],
  resubmit: ['subscriptionResubmitTitle', 'subscriptionResubmitText'],
  confirm: ['subscriptionConfirmTitle', 'subscriptionConfirmText'],
  confirmed: ['subscriptionConfirmedTitle', 'subscriptionConfirmedText'],
  'confirm-invalid': ['subscriptionConfirmInvalidTitle', 'subscriptionConfirmInvalidText'],
  unsubscribe: ['subscriptionUnsubscribeTitle', 'subscriptionUnsubscribeText'],
  unsubscribed: ['subscriptionUnsubscribedTitle', 'subscriptionUnsubscribedText'],
  resubscribed: ['subscriptionResubscribedTitle', 'subscriptionResubscribedText'],
  'link-invalid': ['subscriptionLinkInvalidTitle', 'subscriptionLinkInvalidText'],
  'not-found': ['subscriptionNotFoundTitle', 'subscriptionNotFoundText'],
  'too-many-requests': ['subscriptionTooManyTitle', 'subscriptionTooManyText'],
  'bad-request': ['subscriptionBadRequestTitle', 'subscriptionBadRequestText'],
  busy: ['subscriptionBusyTitle', 'subscriptionBusyText'],
  error: ['subscriptionErrorTitle', 'subscriptionErrorText'],
};

/** Pages after which "subscribe (again)" is the useful next step, and the words of that link. */
const SUBSCRIBE_LINKS: Partial<Record<SubscriptionPageKind, string>> = {
  'confirm-invalid': 'subscriptionSubscribeLink',
  'link-invalid': 'subscriptionSubscribeLink',
  'check-inbox': 'subscriptionCheckInboxRetry',
};

/** A second line under the message, for pages that need one. */
const NOTE_KEYS: Partial<Record<SubscriptionPageKind, string>> = {
  'check-inbox': 'subscriptionCheckInboxSpam',
};

/** How much of what the reader typed is shown back (the fields' maxlength, with room to spare). */
const MAX_ECHO = { email: 320, name: 200 } as const;

function formsFor(input: SubscriptionPageInput): FormView[] {
  // Root-relative actions: the pages live at the server's top level, next to the routes they post to.
  const tokenQuery = input.token === undefined ? '' : `?token=${encodeURIComponent(input.token)}`;
  switch (input.kind) {
    case 'subscribe':
    case 'invalid-email':
    case 'resubmit':
      return [{ action: '/subscribe', buttonKey: 'subscriptionSubscribeButton', hidden: input.subscribeHidden ?? [], emailFields: true }];
    case 'confirm':
      return [{ action: '/confirm', buttonKey: 'subscriptionConfirmButton', hidden: [{ name: 'token', value: input.token ?? '' }], emailFields: false }];
    case 'unsubscribe':
      return [{ action: `/unsubscribe${tokenQuery}`, buttonKey: 'subscriptionUnsubscribeButton', hidden: [], emailFields: false }];
    case 'unsubscribed':
      return input.token === undefined
        ? []
        : [{ action: `/resubscribe${tokenQuery}`, buttonKey: 'subscriptionResubscribeButton', hidden: [], emailFields: false }];
    default:
      return [];
  }
}

/**
 * Renders one subscription page: a whole document in the archive's layout, with plain forms
 * that work without JavaScript (the site sends no script at all). Pure: templates and site in,
 * HTML out.
 */
export function renderSubscriptionPage(templates: Templates, site: SiteInfo, input: SubscriptionPageInput): string {
  const [titleKey, messageKey] = TITLE_KEYS[input.kind];
  const siteView = buildSiteView(site);
  const text = (key: string): string | undefined => lookupString(templates, site, key);
  const title = text(titleKey) ?? titleKey;
  const message = text(messageKey) ?? '';
  const noteKey = NOTE_KEYS[input.kind];
  const reasonText = input.reason === undefined ? undefined : text(reasonKey(input.reason.code));
  const linkKey = SUBSCRIBE_LINKS[input.kind];
  return templates.render('web/subscription.html.hbs', {
    locale: site.locale,
    timezone: site.timezone,
    site: siteView,
    rootRel: './',
    pageTitle: `${title} · ${site.title}`,
    description: site.description,
    canonical: `${site.url}${input.path}`,
    kind: input.kind,
    heading: title,
    // The address is the one part worth seeing at a glance (a typo shows there): set in bold.
    messageHtml: fillHtml(message, { email: input.email ?? '' }, (value) => `<strong class="subscription-address">${value}</strong>`),
    detail: reasonText === undefined ? null : fillText(reasonText, input.reason?.params ?? {}),
    note: noteKey === undefined ? null : (text(noteKey) ?? null),
    forms: formsFor(input),
    emailValue: (input.values?.email ?? '').slice(0, MAX_ECHO.email),
    nameValue: (input.values?.name ?? '').slice(0, MAX_ECHO.name),
    subscribeHref: linkKey === undefined ? null : '/subscribe',
    subscribeLinkText: linkKey === undefined ? null : (text(linkKey) ?? null),
  });
}

/** Routes whose answer pages are kept rendered: a fixed set, so a request path cannot grow the cache. */
const CACHED_PATHS: ReadonlySet<string> = new Set(['/subscribe', '/confirm', '/unsubscribe', '/resubscribe']);

/**
 * Stands for the address while a page is rendered for the cache: letters and digits only, so
 * no escaping on the way changes it, and random, so no template or string can contain it.
 */
const ADDRESS_SLOT = `lpaddress${randomBytes(12).toString('hex')}`;

/**
 * renderSubscriptionPage for a server: a page that carries nothing of the request but its kind,
 * its route and the address (the check-inbox answer every subscribe request gets) is rendered
 * once, then the escaped address is put where it goes; any other page is rendered as it comes.
 * The output is the same string renderSubscriptionPage returns.
 */
export function createSubscriptionPageRenderer(templates: Templates, site: SiteInfo): (input: SubscriptionPageInput) => string {
  const rendered = new Map<string, readonly string[]>();
  return (input) => {
    const { kind, path, email, ...rest } = input;
    const details = Object.values(rest).some((value) => value !== undefined);
    if (details || !CACHED_PATHS.has(path)) return renderSubscriptionPage(templates, site, input);
    const key = `${kind}\n${path}`;
    let parts = rendered.get(key);
    if (parts === undefined) {
      parts = renderSubscriptionPage(templates, site, { kind, path, email: ADDRESS_SLOT }).split(ADDRESS_SLOT);
      rendered.set(key, parts);
    }
    // The one place the address goes is the message, escaped as fillHtml escapes it.
    return parts.join(escapeHtml(email ?? ''));
  };
}

/** The i18n key of a reason's sentence: `domain-no-dot` → `subscriptionReasonDomainNoDot`. */
export function reasonKey(code: string): string {
  return `subscriptionReason${code.replace(/(^|-)([a-z0-9])/g, (_m, _dash: string, letter: string) => letter.toUpperCase())}`;
}

/** A string in the site's locale, else in English (a template set made for one locale may lack newer keys). */
function lookupString(templates: Templates, site: SiteInfo, key: string): string | undefined {
  return templates.strings[site.locale]?.[key] ?? templates.strings.en?.[key];
}

function fillText(text: string, params: Readonly<Record<string, string>>): string {
  return text.replace(/\{(\w+)\}/g, (whole, name: string) => params[name] ?? whole);
}

const HTML_ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => HTML_ESCAPES[character]!);
}

/** A string as safe HTML: its text escaped, each `{placeholder}` filled with the escaped value, wrapped. */
function fillHtml(text: string, params: Readonly<Record<string, string>>, wrap: (escaped: string) => string): string {
  return text
    .split(/(\{\w+\})/)
    .map((part) => {
      const name = /^\{(\w+)\}$/.exec(part)?.[1];
      if (name !== undefined && name in params) return wrap(escapeHtml(params[name]!));
      return escapeHtml(part);
    })
    .join('');
}
