import type { IssueParser } from '../project/issue-parser.ts';
import type { LoadedConfig } from '../config/load-config.ts';
import { loadTemplateSources } from '../project/load-templates.ts';
import { siteInfoFromConfig } from '../project/site-info.ts';
import { compileTemplates } from '../render/compile-templates.ts';
import { renderConfirmationEmail } from '../render/render-confirmation-email.ts';
import { EMAIL_SLOTS, type EmailRendition } from '../render/types.ts';
import type { SubscriptionMailer } from '../server/types.ts';
import type { IssueRecord, IssueState, IssueStore, Subscriber } from '../store/types.ts';
import type { Clock } from '../util/clock.ts';
import { buildMessageTemplate, personalizeMessage, type MessageTemplate } from './message-template.ts';
import { prepareIssueEmail } from './prepare-issue-email.ts';
import { createComposer, senderFromConfig } from './run-send.ts';
import { CONFIRM_TOKEN_TTL_MS, confirmTokenExpiry, signToken, type Keyring } from './tokens.ts';
import type { OutgoingMessage, Transport } from './types.ts';

export interface SubscriptionMailerDependencies {
  loaded: LoadedConfig;
  keyring: Keyring;
  transport: Transport;
  clock: Clock;
  store: Pick<IssueStore, 'listIssues'>;
  /** PEM of the DKIM key when `sender.dkim` is configured (the app reads the file). */
  dkimPrivateKey?: string;
  /** Renders an issue's email for the welcome; prepareIssueEmail unless a test injects its own. */
  renderIssueEmail?: (record: IssueRecord) => Promise<EmailRendition>;
  /** Parses the welcome's issue file for prepareIssueEmail: the app's, off the server's event loop. */
  issueParser?: IssueParser;
}

/** The name of the confirmation message: its Message-IDs (`<confirm.<id>.<hash>@…>`) and outbox folder. */
export const CONFIRMATION_MESSAGE_NAME = 'confirm';

/**
 * A pre-built message carries a Date header; past this age it is built again from the cached
 * rendition (a few milliseconds of MIME encoding, no MJML), so a long-running server never
 * sends mail dated hours before it left.
 */
export const MESSAGE_DATE_MAX_AGE_MS = 60_000;

/** Issue states that are on the site: anything published, whether emailed or archived. */
const PUBLISHED_STATES: ReadonlySet<IssueState> = new Set<IssueState>(['published', 'planned', 'sending', 'sent', 'archived']);

/**
 * The emails of the subscription flow (see SubscriptionMailer). The confirmation email is
 * rendered once per mailer (MJML once per process) and encoded once into a message with slots;
 * each confirmation then fills in only the address (never a name), the Message-ID and the
 * confirm link. It is transactional: no List-* headers. The welcome is the newest published
 * issue, composed like a send run would but outside the delivery ledger.
 */
export function createSubscriptionMailer(deps: SubscriptionMailerDependencies): SubscriptionMailer {
  const { loaded, keyring, transport, clock } = deps;
  const dkim = loaded.config.sender.dkim;
  const renderIssueEmail = deps.renderIssueEmail ?? ((record: IssueRecord) => prepareIssueEmail(record, loaded, { parser: deps.issueParser }));

  let confirmation: Promise<EmailRendition> | undefined;
  const renderConfirmation = (): Promise<EmailRendition> => {
    if (confirmation) return confirmation;
    const rendering = (async () => {
      const templates = compileTemplates(await loadTemplateSources(loaded.paths.templates));
      return renderConfirmationEmail(templates, siteInfoFromConfig(loaded.config), {
        expiresInDays: Math.round(CONFIRM_TOKEN_TTL_MS / 86_400_000),
      });
    })();
    // A failed render is not kept: the next request tries again (the templates may be fixed by then).
    rendering.catch(() => {
      if (confirmation === rendering) confirmation = undefined;
    });
    confirmation = rendering;
    return rendering;
  };

  let confirmationMessage: { template: MessageTemplate; builtAt: number } | undefined;
  const confirmationTemplate = async (now: Date): Promise<MessageTemplate> => {
    const email = await renderConfirmation();
    if (confirmationMessage && Math.abs(now.getTime() - confirmationMessage.builtAt) < MESSAGE_DATE_MAX_AGE_MS) {
      return confirmationMessage.template;
    }
    const template = buildMessageTemplate({
      kind: 'transactional',
      issueSlug: CONFIRMATION_MESSAGE_NAME,
      subject: email.subject,
      email,
      sender: senderFromConfig(loaded),
      siteUrl: loaded.config.site.url,
      link: { path: '/confirm?token=', placeholder: EMAIL_SLOTS.confirmUrl },
      date: now,
      dkim:
        dkim && deps.dkimPrivateKey
          ? { domainName: dkim.domainName, keySelector: dkim.keySelector, privateKey: deps.dkimPrivateKey }
          : undefined,
    });
    confirmationMessage = { template, builtAt: now.getTime() };
    return template;
  };

  let welcome:
    | { key: string; builtAt: number; compose: (recipient: Subscriber & { unsubscribeToken?: string }) => OutgoingMessage }
    | undefined;
  const welcomeComposer = async (record: IssueRecord, now: Date) => {
    const key = `${record.slug}\n${record.contentHash}\n${record.updatedAt}`;
    if (welcome?.key === key && Math.abs(now.getTime() - welcome.builtAt) < MESSAGE_DATE_MAX_AGE_MS) return welcome.compose;
    const email = await renderIssueEmail(record);
    const compose = createComposer(record, email, { loaded, clock, keyring, dkimPrivateKey: deps.dkimPrivateKey });
    welcome = { key, builtAt: now.getTime(), compose };
    return compose;
  };

  return {
    async sendConfirmation(subscriber) {
      const now = clock.now();
      const template = await confirmationTemplate(now);
      const token = signToken(keyring, { purpose: 'confirm', subscriberId: subscriber.id, expiresAt: confirmTokenExpiry(now) });
      // The name the visitor typed is left out on purpose: whoever fills in the form chooses
      // it, and the address's owner has not agreed to anything yet.
      const message = personalizeMessage(template, {
        subscriberId: subscriber.id,
        email: subscriber.email,
        name: null,
        unsubscribeToken: token,
      });
      return transport.send(message);
    },

    async sendWelcome(subscriber) {
      const record = newestPublishedIssue(await deps.store.listIssues());
      if (!record) return undefined;
      const compose = await welcomeComposer(record, clock.now());
      const message = compose({
        ...subscriber,
        unsubscribeToken: signToken(keyring, { purpose: 'unsub', subscriberId: subscriber.id }),
      });
      return transport.send(message);
    },
  };
}

/**
 * The issue a new subscriber gets as a welcome: the most recently published one that is on the
 * site (never a draft or a scheduled issue), by publication time, then first-seen time, then
 * slug (issues recorded together, like a backlog, differ only there).
 */
export function newestPublishedIssue(records: readonly IssueRecord[]): IssueRecord | undefined {
  const instant = (iso: string | null): number => {
    const ms = iso === null ? Number.NaN : Date.parse(iso);
    return Number.isNaN(ms) ? -Infinity : ms;
  };
  const newer = (a: IssueRecord, b: IssueRecord): boolean =>
    instant(a.publishedAt) !== instant(b.publishedAt)
      ? instant(a.publishedAt) > instant(b.publishedAt)
      : instant(a.firstSeenAt) !== instant(b.firstSeenAt)
        ? instant(a.firstSeenAt) > instant(b.firstSeenAt)
        : a.slug > b.slug;
  let newest: IssueRecord | undefined;
  for (const record of records) {
    if (PUBLISHED_STATES.has(record.state) && (newest === undefined || newer(record, newest))) newest = record;
  }
  return newest;
}
