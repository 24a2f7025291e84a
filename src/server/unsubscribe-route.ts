import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Subscriber, SubscriberStatus } from '../store/types.ts';
import { maskEmail } from './redact.ts';
import { logsInfo, tokenOf, type ServerContext } from './server-context.ts';

/** What an unsubscribe or resubscribe request did, for its one log line. */
interface LinkOutcome {
  outcome: 'unsubscribed' | 'resubscribed' | 'unchanged' | 'refused';
  reason?: string;
  from?: SubscriberStatus;
}

/** The one line each unsubscribe and resubscribe logs: the keyed hash of the address, never the address. */
function logLink(request: FastifyRequest, event: 'unsubscribe' | 'resubscribe', subscriber: Subscriber | undefined, fields: LinkOutcome, subscriberId?: number): void {
  if (!logsInfo(request.log)) return;
  const who = subscriber === undefined ? (subscriberId === undefined ? {} : { subscriberId }) : { subscriberId: subscriber.id, subscriber: maskEmail(subscriber.email) };
  request.log.info({ event, ...who, ...fields }, `${event}: ${fields.outcome}${fields.reason === undefined ? '' : ` (${fields.reason})`}`);
}

/** Why nothing changed for a subscriber in this status, in the words of the log. */
function unchangedReason(status: SubscriberStatus, wanted: 'unsubscribed' | 'active'): string {
  return status === wanted ? `already-${wanted}` : status;
}

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

  app.get('/unsubscribe', { config: { rateLimit: limits.unsubscribe } }, async (request, reply) => {
    const token = tokenOf(request);
    const verified = await context.verify(token, 'unsub');
    if (!verified.ok) return context.respond(request, reply, 400, invalid);
    return context.respond(request, reply, 200, { kind: 'unsubscribe', token: token as string, json: { ok: true, action: 'POST to this URL' } });
  });

  app.post('/unsubscribe', { config: { rateLimit: limits.unsubscribe } }, async (request, reply) => {
    const token = tokenOf(request);
    const verified = await context.verify(token, 'unsub');
    if (!verified.ok) {
      logLink(request, 'unsubscribe', undefined, { outcome: 'refused', reason: verified.reason });
      return context.respond(request, reply, 400, invalid);
    }
    const subscriber = await context.store.getSubscriber(verified.subscriberId);
    if (subscriber === undefined) {
      // Erased: nothing left to unsubscribe, and nothing to offer back.
      logLink(request, 'unsubscribe', undefined, { outcome: 'unchanged', reason: 'erased' }, verified.subscriberId);
      return context.respond(request, reply, 200, { kind: 'unsubscribed', json: { ok: true } });
    }
    if (decideUnsubscribe(subscriber.status) === 'unsubscribe') {
      await context.store.setSubscriberStatus(subscriber.id, 'unsubscribed', context.clock.now().toISOString());
      logLink(request, 'unsubscribe', subscriber, { outcome: 'unsubscribed', from: subscriber.status });
    } else {
      logLink(request, 'unsubscribe', subscriber, { outcome: 'unchanged', reason: unchangedReason(subscriber.status, 'unsubscribed') });
    }
    return context.respond(request, reply, 200, { kind: 'unsubscribed', token: token as string, json: { ok: true } });
  });

  app.post('/resubscribe', { config: { rateLimit: limits.resubscribe } }, async (request, reply) => {
    const verified = await context.verify(tokenOf(request), 'unsub');
    if (!verified.ok) {
      logLink(request, 'resubscribe', undefined, { outcome: 'refused', reason: verified.reason });
      return context.respond(request, reply, 400, invalid);
    }
    const subscriber = await context.store.getSubscriber(verified.subscriberId);
    const action = subscriber === undefined ? 'refuse' : decideResubscribe(subscriber.status);
    if (action === 'refuse') {
      logLink(request, 'resubscribe', subscriber, { outcome: 'refused', reason: subscriber?.status ?? 'erased' }, verified.subscriberId);
      return context.respond(request, reply, 400, invalid);
    }
    if (action === 'activate') {
      await context.store.setSubscriberStatus(subscriber!.id, 'active', context.clock.now().toISOString());
      logLink(request, 'resubscribe', subscriber, { outcome: 'resubscribed', from: subscriber!.status });
    } else {
      logLink(request, 'resubscribe', subscriber, { outcome: 'unchanged', reason: unchangedReason(subscriber!.status, 'active') });
    }
    return context.respond(request, reply, 200, { kind: 'resubscribed', json: { ok: true } });
  });
}
