import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { normalizeEmail, sanitizeDisplayName } from '../store/email-address.ts';
import type { Subscriber, SubscriberStatus } from '../store/types.ts';
import { checkFormStamp, createFormStamp, FORM_STAMP_FIELD } from './form-stamp.ts';
import { maskEmail } from './redact.ts';
import { textField, type ServerContext } from './server-context.ts';

/** What one subscribe request does: add a pending subscriber, mail an existing one again, or nothing. */
export type SubscribeAction = 'create' | 'resend' | 'silent';

/** The per-address limits (config `server.limits`). */
export interface AddressLimits {
  perAddressPerDay: number;
  resendCooldownMinutes: number;
}

/** Confirmation emails an address got: how many in the last day, and the latest ever. */
export interface ConfirmationHistory {
  count: number;
  lastSentAt: string | null;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** Statuses that may get a confirmation email: confirming is how they (re)join. */
const CONFIRMABLE: ReadonlySet<SubscriberStatus> = new Set(['pending', 'unsubscribed']);

/**
 * Decides a subscribe request from what the store knows. Active, bounced and complained
 * addresses get nothing (nothing to confirm, or mail that must not be sent); a new, pending or
 * unsubscribed address gets a confirmation email if the per-address limits allow one. Every
 * outcome answers the visitor the same way, so this decision never shows.
 */
export function decideSubscribe(
  existing: { status: SubscriberStatus } | undefined,
  history: ConfirmationHistory,
  now: Date,
  limits: AddressLimits,
): SubscribeAction {
  if (existing !== undefined && !CONFIRMABLE.has(existing.status)) return 'silent';
  const cooledDown =
    history.lastSentAt === null || now.getTime() - Date.parse(history.lastSentAt) >= limits.resendCooldownMinutes * 60_000;
  if (!cooledDown || history.count >= limits.perAddressPerDay) return 'silent';
  return existing === undefined ? 'create' : 'resend';
}

/**
 * A display name from the public form, as it may be stored: sanitised like every name, and
 * without angle brackets, which no name needs and which would make the store hold markup.
 */
export function cleanFormName(raw: string | undefined): string | null {
  if (raw === undefined) return null;
  return sanitizeDisplayName(raw.replace(/[<>]/g, ''));
}

/** `GET /subscribe` (the form, with a fill-time stamp) and `POST /subscribe` (double opt-in). */
export function registerSubscribeRoutes(app: FastifyInstance, context: ServerContext, rateLimit: object): void {
  const limits = context.loaded.config.server.limits;

  app.get('/subscribe', { config: { rateLimit }, compress: false }, async (request, reply) =>
    context.respond(request, reply, 200, {
      kind: 'subscribe',
      subscribeHidden: [{ name: FORM_STAMP_FIELD, value: createFormStamp(context.keyring(), context.clock.now()) }],
    }),
  );

  app.post('/subscribe', { config: { rateLimit }, compress: false }, async (request, reply) => {
    const body = request.body;
    const rawEmail = textField(body, 'email');
    const normalized = normalizeEmail(rawEmail ?? '');
    if (!normalized.ok) {
      return context.respond(request, reply, 400, {
        kind: 'invalid-email',
        detail: rawEmail === undefined ? undefined : `${rawEmail.slice(0, 100)}: ${normalized.reason}`,
        json: { ok: false, error: 'invalid-email', message: rawEmail === undefined ? 'email is required' : `email ${normalized.reason}` },
      });
    }
    await handleSubscribe(request, context, normalized.email, limits);
    return answerAccepted(request, reply, context);
  });
}

/** The one answer every accepted subscribe request gets, whatever happened behind it. */
function answerAccepted(request: FastifyRequest, reply: FastifyReply, context: ServerContext): FastifyReply {
  return context.respond(request, reply, 200, { kind: 'check-inbox', json: { ok: true } });
}

async function handleSubscribe(
  request: FastifyRequest,
  context: ServerContext,
  email: string,
  limits: AddressLimits & { minFillSeconds: number },
): Promise<void> {
  const { store, clock } = context;
  const log = request.log.child({ subscriber: maskEmail(email) });
  const body = request.body;
  const trap = (body as Record<string, unknown>).website;
  if (trap !== undefined && trap !== '') {
    log.info('subscribe: honeypot filled, ignored');
    return;
  }
  const stamp = textField(body, FORM_STAMP_FIELD);
  if ((body as Record<string, unknown>)[FORM_STAMP_FIELD] !== undefined) {
    const verdict = stamp === undefined ? 'invalid' : checkFormStamp(context.keyring(), stamp, clock.now(), limits.minFillSeconds);
    if (verdict !== 'ok') {
      log.info({ verdict }, 'subscribe: form stamp refused, ignored');
      return;
    }
  }

  const now = clock.now();
  const existing = await store.findSubscriberByEmail(email);
  const history = await store.confirmationHistory(email, new Date(now.getTime() - DAY_MS).toISOString());
  const action = decideSubscribe(existing, history, now, limits);
  if (action === 'silent') {
    log.info({ status: existing?.status ?? 'new' }, 'subscribe: nothing to send');
    return;
  }
  // The reservation re-checks the limits atomically: of two racing requests only one mails.
  const reserved = await store.reserveConfirmationEmail({
    email,
    at: now.toISOString(),
    cooldownSince: new Date(now.getTime() - limits.resendCooldownMinutes * 60_000).toISOString(),
    windowSince: new Date(now.getTime() - DAY_MS).toISOString(),
    maxCount: limits.perAddressPerDay,
  });
  if (!reserved) {
    log.info('subscribe: per-address limit reached, ignored');
    return;
  }
  let subscriber: Subscriber | undefined = existing;
  if (action === 'create') {
    const result = await store.upsertSubscriber({
      email,
      name: cleanFormName(textField(body, 'name')),
      status: 'pending',
      source: 'form',
      at: now.toISOString(),
    });
    if (result.outcome === 'refused' || result.subscriber === undefined) {
      log.info('subscribe: address suppressed, ignored');
      return;
    }
    subscriber = result.subscriber;
    // Another request may have added the address in between: only mail a confirmable row.
    if (!CONFIRMABLE.has(subscriber.status)) return;
  }
  if (subscriber === undefined) return;
  const recipient = subscriber;
  log.info({ action, subscriberId: recipient.id }, 'subscribe: sending confirmation');
  await context.dispatchMail(log, 'confirmation', () => context.mailer.sendConfirmation(recipient));
}
