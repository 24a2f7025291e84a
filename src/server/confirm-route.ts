import type { FastifyInstance } from 'fastify';
import type { Subscriber, SubscriberStatus } from '../store/types.ts';
import { maskEmail } from './redact.ts';
import { logsInfo, tokenOf, type ServerContext } from './server-context.ts';

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

  app.get('/confirm', { config: { rateLimit } }, async (request, reply) => {
    const token = tokenOf(request);
    const verified = await context.verify(token, 'confirm');
    if (!verified.ok) return context.respond(request, reply, 400, invalid);
    return context.respond(request, reply, 200, { kind: 'confirm', token: token as string, json: { ok: true, action: 'POST this token to /confirm' } });
  });

  app.post('/confirm', { config: { rateLimit } }, async (request, reply) => {
    // One line per request: the keyed hash of the address (never the address) and what happened.
    const logConfirm = (fields: { outcome: 'activated' | 'unchanged' | 'refused'; reason?: string; subscriber?: Subscriber; subscriberId?: number; from?: string }) => {
      if (!logsInfo(request.log)) return;
      const { subscriber, subscriberId, ...rest } = fields;
      const who = subscriber === undefined ? (subscriberId === undefined ? {} : { subscriberId }) : { subscriberId: subscriber.id, subscriber: maskEmail(subscriber.email) };
      request.log.info({ event: 'confirm', ...who, ...rest }, `confirm: ${fields.outcome}${fields.reason === undefined ? '' : ` (${fields.reason})`}`);
    };
    const verified = await context.verify(tokenOf(request), 'confirm');
    if (!verified.ok) {
      logConfirm({ outcome: 'refused', reason: verified.reason });
      return context.respond(request, reply, 400, invalid);
    }
    const id = verified.subscriberId;
    const subscriber = await context.store.getSubscriber(id);
    const action = decideConfirm(subscriber);
    if (action === 'refuse') {
      logConfirm({ outcome: 'refused', reason: subscriber?.status ?? 'erased', subscriber, subscriberId: id });
      return context.respond(request, reply, 400, invalid);
    }
    if (action === 'already-active') logConfirm({ outcome: 'unchanged', reason: 'already-active', subscriber });
    else if (inFlight.has(id)) logConfirm({ outcome: 'unchanged', reason: 'in-progress', subscriber });
    else {
      inFlight.add(id);
      try {
        // The welcome is queued with the change of status, and sent after the answer.
        const queueWelcome = context.loaded.config.server.welcomeLatestIssue;
        await context.store.activateSubscriber(id, context.clock.now().toISOString(), { queueWelcome });
        logConfirm({ outcome: 'activated', from: subscriber!.status, subscriber });
        if (queueWelcome) context.mailQueue.wake();
      } finally {
        inFlight.delete(id);
      }
    }
    return context.respond(request, reply, 200, { kind: 'confirmed', json: { ok: true } });
  });
}
