import type { SendOutcome } from '../deliver/types.ts';
import type { Subscriber } from '../store/types.ts';

/**
 * The emails the subscription flow sends, as the HTTP server needs them. The implementation
 * (src/deliver/subscription-mailer.ts) renders each kind once and sends through the configured
 * transport; the server only decides when.
 */
export interface SubscriptionMailer {
  /**
   * The double opt-in email to a pending (or formerly unsubscribed) address: a link to
   * `/confirm?token=…` with a `confirm` token (7 days). It carries the address only — never
   * the name the visitor typed, not even in To — and no List-Unsubscribe headers.
   */
  sendConfirmation(subscriber: Subscriber): Promise<SendOutcome>;
  /**
   * The latest published issue as a welcome, to a subscriber who has just confirmed, with
   * their own unsubscribe link. Resolves undefined when there is no issue yet.
   */
  sendWelcome(subscriber: Subscriber): Promise<SendOutcome | undefined>;
}
