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

/**
 * Why a subscribe request sent no email, as its log line says (never as the answer shows:
 * every accepted request gets the same page whatever the address's state).
 */
export type SubscribeSkip =
  | 'invalid-email'
  | 'honeypot'
  | 'too-fast'
  | 'stale-form'
  | 'already-active'
  | 'bounced'
  | 'complained'
  | 'cooldown'
  | 'daily-limit'
  | 'suppressed'
  | 'raced';

/** What happened to one accepted subscribe request: a confirmation email, or the reason there was none. */
type SubscribeResult = { sent: true; action: 'create' | 'resend'; subscriberId: number } | { sent: false; reason: SubscribeSkip; subscriberId?: number };

/**
 * Why `decideSubscribe` said 'silent', for the log: the status that gets nothing, else the
 * limit that held the email back.
 */
export function silentReason(
  existing: { status: SubscriberStatus } | undefined,
  history: ConfirmationHistory,
  now: Date,
  limits: AddressLimits,
): SubscribeSkip {
  if (existing?.status === 'active') return 'already-active';
  if (existing?.status === 'bounced') return 'bounced';
  if (existing?.status === 'complained') return 'complained';
  if (history.count >= limits.perAddressPerDay) return 'daily-limit';
  return 'cooldown';
}

/** `GET /subscribe` (the form, with a fill-time stamp) and `POST /subscribe` (double opt-in). */
export function registerSubscribeRoutes(app: FastifyInstance, context: ServerContext, rateLimit: object): void {
  const limits = context.loaded.config.server.limits;
  const freshStamp = () => [{ name: FORM_STAMP_FIELD, value: createFormStamp(context.keyring(), context.clock.now()) }];

  app.get('/subscribe', { config: { rateLimit } }, async (request, reply) =>
    context.respond(request, reply, 200, { kind: 'subscribe', subscribeHidden: freshStamp() }),
  );

  app.post('/subscribe', { config: { rateLimit } }, async (request, reply) => {
    const body = request.body;
    const rawEmail = textField(body, 'email');
    const values = { email: rawEmail ?? '', name: textField(body, 'name') ?? '' };
    const normalized = normalizeEmail(rawEmail ?? '');
    if (!normalized.ok) {
      logSubscribe(request, rawEmail ?? '', { sent: false, reason: 'invalid-email' }, { code: normalized.code });
      return context.respond(request, reply, 400, {
        kind: 'invalid-email',
        reason: { code: normalized.code, params: normalized.character === undefined ? undefined : { character: normalized.character } },
        values,
        subscribeHidden: freshStamp(),
        json: {
          ok: false,
          error: 'invalid-email',
          reason: normalized.code,
          message: rawEmail === undefined ? 'email is required' : `email ${normalized.reason}`,
        },
      });
    }
    const email = normalized.email;
    // A bot filling every field gets the success page: telling it apart would teach it.
    const trap = (body as Record<string, unknown>).website;
    if (trap !== undefined && trap !== '') {
      logSubscribe(request, email, { sent: false, reason: 'honeypot' });
      return answerAccepted(request, reply, context, email);
    }
    // The check depends only on the request, never on the address, so answering it openly
    // reveals nothing about subscribers; a person (autofill is fast) just presses once more.
    const stampProblem = checkStamp(body, context, limits.minFillSeconds);
    if (stampProblem !== undefined) {
      logSubscribe(request, email, { sent: false, reason: stampProblem });
      const hidden = freshStamp();
      return context.respond(request, reply, 400, {
        kind: 'resubmit',
        reason: { code: stampProblem },
        values,
        subscribeHidden: hidden,
        json: { ok: false, error: 'too-fast', reason: stampProblem, [FORM_STAMP_FIELD]: hidden[0]!.value },
      });
    }
    const result = await handleSubscribe(request, context, email, limits);
    logSubscribe(request, email, result);
    return answerAccepted(request, reply, context, email);
  });
}

/** The one line a subscribe request logs: the masked address with its keyed hash, and what happened. */
function logSubscribe(request: FastifyRequest, email: string, result: SubscribeResult, extra: Record<string, unknown> = {}): void {
  const fields = { event: 'subscribe', subscriber: maskEmail(email.slice(0, 320)), ...result, ...extra };
  request.log.info(fields, result.sent ? 'subscribe: confirmation sent' : `subscribe: nothing sent (${result.reason})`);
}

/** Whether the form's fill-time stamp, when it carries one, lets the request through. */
function checkStamp(body: unknown, context: ServerContext, minFillSeconds: number): 'too-fast' | 'stale-form' | undefined {
  if ((body as Record<string, unknown>)[FORM_STAMP_FIELD] === undefined) return undefined;
  const stamp = textField(body, FORM_STAMP_FIELD);
  const verdict = stamp === undefined ? 'invalid' : checkFormStamp(context.keyring(), stamp, context.clock.now(), minFillSeconds);
  if (verdict === 'ok') return undefined;
  return verdict === 'too-fast' ? 'too-fast' : 'stale-form';
}

/** The one answer every accepted subscribe request gets, whatever happened behind it. */
function answerAccepted(request: FastifyRequest, reply: FastifyReply, context: ServerContext, email: string): FastifyReply {
  return context.respond(request, reply, 200, { kind: 'check-inbox', email, json: { ok: true } });
}

async function handleSubscribe(
  request: FastifyRequest,
  context: ServerContext,
  email: string,
  limits: AddressLimits,
): Promise<SubscribeResult> {
  const { store, clock } = context;
  const body = request.body;
  const now = clock.now();
  const existing = await store.findSubscriberByEmail(email);
  const history = await store.confirmationHistory(email, new Date(now.getTime() - DAY_MS).toISOString());
  const action = decideSubscribe(existing, history, now, limits);
  if (action === 'silent') return { sent: false, reason: silentReason(existing, history, now, limits), subscriberId: existing?.id };
  // The reservation re-checks the limits atomically: of two racing requests only one mails.
  const reserved = await store.reserveConfirmationEmail({
    email,
    at: now.toISOString(),
    cooldownSince: new Date(now.getTime() - limits.resendCooldownMinutes * 60_000).toISOString(),
    windowSince: new Date(now.getTime() - DAY_MS).toISOString(),
    maxCount: limits.perAddressPerDay,
  });
  if (!reserved) return { sent: false, reason: 'raced', subscriberId: existing?.id };
  let subscriber: Subscriber | undefined = existing;
  if (action === 'create') {
    const result = await store.upsertSubscriber({
      email,
      name: cleanFormName(textField(body, 'name')),
      status: 'pending',
      source: 'form',
      at: now.toISOString(),
    });
    if (result.outcome === 'refused' || result.subscriber === undefined) return { sent: false, reason: 'suppressed' };
    subscriber = result.subscriber;
    // Another request may have added the address in between: only mail a confirmable row.
    if (!CONFIRMABLE.has(subscriber.status)) return { sent: false, reason: 'raced', subscriberId: subscriber.id };
  }
  if (subscriber === undefined) return { sent: false, reason: 'raced' };
  const recipient = subscriber;
  const log = request.log.child({ subscriber: maskEmail(email) });
  await context.dispatchMail(log, 'confirmation', () => context.mailer.sendConfirmation(recipient));
  return { sent: true, action, subscriberId: recipient.id };
}
