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
  | 'error';

/** What a page needs besides its kind: the token its buttons carry, a detail line, form fields. */
export interface SubscriptionPageInput {
  kind: SubscriptionPageKind;
  /** The token from the link, echoed into the button's form (confirm) or its action (unsubscribe). */
  token?: string;
  /** A short explanation shown under the message (why an address was refused). */
  detail?: string;
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
  error: ['subscriptionErrorTitle', 'subscriptionErrorText'],
};

/** Pages after which "subscribe (again)" is the useful next step. */
const OFFERS_SUBSCRIBE: ReadonlySet<SubscriptionPageKind> = new Set(['confirm-invalid', 'link-invalid', 'invalid-email']);

function formsFor(input: SubscriptionPageInput): FormView[] {
  // Root-relative actions: the pages live at the server's top level, next to the routes they post to.
  const tokenQuery = input.token === undefined ? '' : `?token=${encodeURIComponent(input.token)}`;
  switch (input.kind) {
    case 'subscribe':
    case 'invalid-email':
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
  const title = templates.strings[site.locale][titleKey] ?? titleKey;
  return templates.render('web/subscription.html.hbs', {
    locale: site.locale,
    timezone: site.timezone,
    site: siteView,
    rootRel: './',
    pageTitle: `${title} · ${site.title}`,
    description: site.description,
    canonical: `${site.url}${input.path}`,
    kind: input.kind,
    titleKey,
    messageKey,
    detail: input.detail ?? null,
    forms: formsFor(input),
    subscribeHref: OFFERS_SUBSCRIBE.has(input.kind) && input.kind !== 'invalid-email' ? '/subscribe' : null,
  });
}
