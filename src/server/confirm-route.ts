import type { FastifyInstance } from 'fastify';
import type { Subscriber, SubscriberStatus } from '../store/types.ts';
import { tokenOf, type ServerContext } from './server-context.ts';

/** What confirming does to a subscriber in a given status. */
export type ConfirmAction = 'activate' | 'already-active' | 'refuse';

/**
 * Confirming activates a pending subscriber, and an unsubscribed one (their explicit
 * re-subscribe: only they received the link); it is harmless when already active. A bounced,
 * complained or erased address is not revived by an old link.
 */
export function decideConfirm(subscriber: { status: SubscriberStatus } | undefined): ConfirmAction {
  if (subscriber === undefined) return 'refuse';
  if (subscriber.status === 'active') return 'already-active';
  if (subscriber.status === 'pending' || subscriber.status === 'unsubscribed') return 'activate';
  return 'refuse';
}

/**
 * `GET /confirm?token=…` shows a button and changes nothing (mail scanners follow links);
 * `POST /confirm` with the token activates the subscriber, then maybe sends the welcome issue.
 */
export function registerConfirmRoutes(app: FastifyInstance, context: ServerContext, rateLimit: object): void {
  // Two clicks at once must not send two welcome emails.
  const inFlight = new Set<number>();

  const invalid = { kind: 'confirm-invalid' as const, json: { ok: false, error: 'invalid-token' } };

  app.get('/confirm', { config: { rateLimit }, compress: false }, async (request, reply) => {
    const token = tokenOf(request);
    const verified = await context.verify(token, 'confirm');
    if (!verified.ok) return context.respond(request, reply, 400, invalid);
    return context.respond(request, reply, 200, { kind: 'confirm', token: token as string, json: { ok: true, action: 'POST this token to /confirm' } });
  });

  app.post('/confirm', { config: { rateLimit }, compress: false }, async (request, reply) => {
    const verified = await context.verify(tokenOf(request), 'confirm');
    if (!verified.ok) {
      request.log.info({ reason: verified.reason }, 'confirm: token refused');
      return context.respond(request, reply, 400, invalid);
    }
    const id = verified.subscriberId;
    const subscriber = await context.store.getSubscriber(id);
    const action = decideConfirm(subscriber);
    if (action === 'refuse') {
      request.log.info({ subscriberId: id, status: subscriber?.status ?? 'erased' }, 'confirm: not confirmable');
      return context.respond(request, reply, 400, invalid);
    }
    if (action === 'activate' && !inFlight.has(id)) {
      inFlight.add(id);
      try {
        await context.store.setSubscriberStatus(id, 'active', context.clock.now().toISOString());
        request.log.info({ subscriberId: id, from: subscriber!.status }, 'confirm: subscriber active');
        if (context.loaded.config.server.welcomeLatestIssue) {
          const active: Subscriber = (await context.store.getSubscriber(id)) ?? { ...subscriber!, status: 'active' };
          await context.dispatchMail(request.log, 'welcome', () => context.mailer.sendWelcome(active));
        }
      } finally {
        inFlight.delete(id);
      }
    }
    return context.respond(request, reply, 200, { kind: 'confirmed', json: { ok: true } });
  });
}
