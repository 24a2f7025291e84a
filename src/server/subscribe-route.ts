import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { normalizeEmail, sanitizeDisplayName } from '../store/email-address.ts';
import type { ConfirmationFacts, SubscriberStatus } from '../store/types.ts';
import { checkFormStamp, createFormStamp, FORM_STAMP_FIELD } from './form-stamp.ts';
import { maskEmail } from './redact.ts';
import { logsInfo, textField, type ServerContext } from './server-context.ts';

/** What one subscribe request does: add a pending subscriber, mail an existing one again, or nothing. */
export type SubscribeAction = 'create' | 'resend' | 'silent';

/** The per-address limits (config `server.limits`). */
export interface AddressLimits {
  perAddressPerDay: number;
  resendCooldownMinutes: number;
}

/** Every limit on confirmation emails (config `server.limits`): per address, per mailbox with tags folded, per hour. */
export interface ConfirmationLimits extends AddressLimits {
  perMailboxPerDay: number;
  confirmationsPerHour: number;
}

/** Confirmation emails an address got: how many in the last day, and the latest ever. */
export interface ConfirmationHistory {
  count: number;
  lastSentAt: string | null;
}

const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;

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
  | 'mailbox-limit'
  | 'hourly-limit';

/** What happened to one accepted subscribe request: a confirmation email queued, or the reason there was none. */
type SubscribeResult =
  | { sent: true; action: 'create' | 'resend'; subscriberId: number; mailId: number }
  | { sent: false; reason: SubscribeSkip; subscriberId?: number };

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

/**
 * Whether a subscribe request queues a confirmation email, from what the store holds inside the
 * request's transaction: an erased address never gets one; then the status and per-address
 * limits (decideSubscribe), the mailbox budget (`+tag`s folded) and the hourly cap overall.
 */
export function decideConfirmation(
  facts: ConfirmationFacts,
  now: Date,
  limits: ConfirmationLimits,
): { send: true } | { send: false; reason: SubscribeSkip } {
  if (facts.erased) return { send: false, reason: 'suppressed' };
  if (decideSubscribe(facts.subscriber, facts.address, now, limits) === 'silent') {
    return { send: false, reason: silentReason(facts.subscriber, facts.address, now, limits) };
  }
  if (facts.mailboxCount >= limits.perMailboxPerDay) return { send: false, reason: 'mailbox-limit' };
  if (facts.overallCount >= limits.confirmationsPerHour) return { send: false, reason: 'hourly-limit' };
  return { send: true };
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
  if (!logsInfo(request.log)) return;
  const fields = { event: 'subscribe', subscriber: maskEmail(email.slice(0, 320)), ...result, ...extra };
  request.log.info(fields, result.sent ? 'subscribe: confirmation queued' : `subscribe: nothing sent (${result.reason})`);
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

/**
 * One store transaction for every address, whatever its state (new, pending, active,
 * unsubscribed, bounced, erased): the same reads, then at most a few row writes. Nothing here
 * waits on a relay: the email is queued with the pending subscriber and the serving process's
 * sender is woken, so the answer comes as fast for an address that gets mail as for one that
 * does not.
 */
async function handleSubscribe(
  request: FastifyRequest,
  context: ServerContext,
  email: string,
  limits: ConfirmationLimits,
): Promise<SubscribeResult> {
  const now = context.clock.now();
  const daySince = new Date(now.getTime() - DAY_MS).toISOString();
  const result = await context.store.requestConfirmation({
    email,
    name: cleanFormName(textField(request.body, 'name')),
    at: now.toISOString(),
    windows: { addressSince: daySince, mailboxSince: daySince, overallSince: new Date(now.getTime() - HOUR_MS).toISOString() },
    decide: (facts) => decideConfirmation(facts, now, limits),
  });
  if (!result.queued) return { sent: false, reason: result.reason, subscriberId: result.subscriberId };
  context.mailQueue.wake();
  return { sent: true, action: result.action, subscriberId: result.subscriberId, mailId: result.mailId };
}
