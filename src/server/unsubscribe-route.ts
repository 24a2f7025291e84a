import multipart from '@fastify/multipart';
import type { FastifyInstance } from 'fastify';
import type { SubscriberStatus } from '../store/types.ts';
import { tokenOf, type ServerContext } from './server-context.ts';

/** What an unsubscribe does: set the status, or nothing (already off the list). */
export function decideUnsubscribe(status: SubscriberStatus): 'unsubscribe' | 'unchanged' {
  return status === 'active' || status === 'pending' ? 'unsubscribe' : 'unchanged';
}

/**
 * What "subscribe again" from the unsubscribe page does. The unsubscribe token proves the
 * visitor reads that mailbox, so unsubscribed, pending and complained become active; a bounced
 * address does not exist any more and stays bounced.
 */
export function decideResubscribe(status: SubscriberStatus): 'activate' | 'unchanged' | 'refuse' {
  if (status === 'active') return 'unchanged';
  if (status === 'bounced') return 'refuse';
  return 'activate';
}

/**
 * `GET /unsubscribe?token=…` (a page with a button), `POST /unsubscribe?token=…` (the
 * List-Unsubscribe URL: RFC 8058 one-click, no login, cookie, confirmation or redirect; form,
 * multipart or empty body) and `POST /resubscribe?token=…` (the page's undo button).
 */
export async function registerUnsubscribeRoutes(app: FastifyInstance, context: ServerContext, limits: { unsubscribe: object; resubscribe: object }): Promise<void> {
  // Mail providers post RFC 8058 one-clicks as multipart/form-data: fields only, tiny.
  await app.register(multipart, {
    attachFieldsToBody: 'keyValues',
    limits: { fieldNameSize: 100, fieldSize: 1024, fields: 10, files: 0, parts: 10, headerPairs: 20 },
  });

  const invalid = { kind: 'link-invalid' as const, json: { ok: false, error: 'invalid-token' } };

  app.get('/unsubscribe', { config: { rateLimit: limits.unsubscribe }, compress: false }, async (request, reply) => {
    const token = tokenOf(request);
    const verified = await context.verify(token, 'unsub');
    if (!verified.ok) return context.respond(request, reply, 400, invalid);
    return context.respond(request, reply, 200, { kind: 'unsubscribe', token: token as string, json: { ok: true, action: 'POST to this URL' } });
  });

  app.post('/unsubscribe', { config: { rateLimit: limits.unsubscribe }, compress: false }, async (request, reply) => {
    const token = tokenOf(request);
    const verified = await context.verify(token, 'unsub');
    if (!verified.ok) {
      request.log.info({ reason: verified.reason }, 'unsubscribe: token refused');
      return context.respond(request, reply, 400, invalid);
    }
    const subscriber = await context.store.getSubscriber(verified.subscriberId);
    if (subscriber === undefined) {
      // Erased: nothing left to unsubscribe, and nothing to offer back.
      return context.respond(request, reply, 200, { kind: 'unsubscribed', json: { ok: true } });
    }
    if (decideUnsubscribe(subscriber.status) === 'unsubscribe') {
      await context.store.setSubscriberStatus(subscriber.id, 'unsubscribed', context.clock.now().toISOString());
      request.log.info({ subscriberId: subscriber.id }, 'unsubscribe: subscriber unsubscribed');
    }
    return context.respond(request, reply, 200, { kind: 'unsubscribed', token: token as string, json: { ok: true } });
  });

  app.post('/resubscribe', { config: { rateLimit: limits.resubscribe }, compress: false }, async (request, reply) => {
    const verified = await context.verify(tokenOf(request), 'unsub');
    if (!verified.ok) return context.respond(request, reply, 400, invalid);
    const subscriber = await context.store.getSubscriber(verified.subscriberId);
    const action = subscriber === undefined ? 'refuse' : decideResubscribe(subscriber.status);
    if (action === 'refuse') return context.respond(request, reply, 400, invalid);
    if (action === 'activate') {
      await context.store.setSubscriberStatus(subscriber!.id, 'active', context.clock.now().toISOString());
      request.log.info({ subscriberId: subscriber!.id }, 'resubscribe: subscriber active');
    }
    return context.respond(request, reply, 200, { kind: 'resubscribed', json: { ok: true } });
  });
}
