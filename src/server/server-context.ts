import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';
import type { LoadedConfig } from '../config/load-config.ts';
import type { Keyring, TokenPurpose, VerifiedToken } from '../deliver/tokens.ts';
import type { SubscriptionPageInput } from '../render/render-subscription-page.ts';
import type { Store } from '../store/types.ts';
import type { Clock } from '../util/clock.ts';
import type { SubscriptionMailer } from './types.ts';

/** A page to answer with: its kind and details; the JSON twin for API clients. */
export type PageAnswer = Omit<SubscriptionPageInput, 'path'> & { json?: Record<string, unknown> };

/** What the route modules share, built once by createServer. */
export interface ServerContext {
  loaded: LoadedConfig;
  store: Store;
  clock: Clock;
  mailer: SubscriptionMailer;
  /** The key ring in use (it may be reloaded after a rotation). */
  keyring(): Keyring;
  /** Verifies a link token; anything not a string is malformed. */
  verify(token: unknown, purpose: TokenPurpose): Promise<VerifiedToken>;
  /** Answers with a subscription page, or `{ok, …}` JSON when the client asked for JSON. */
  respond(request: FastifyRequest, reply: FastifyReply, status: number, answer: PageAnswer): FastifyReply;
  /** The sender of queued subscription emails in this process: woken when a route queues one. */
  mailQueue: { wake(): void };
}

/** True when the client sent or asked for JSON rather than an HTML form. */
export function wantsJson(request: FastifyRequest): boolean {
  const type = String(request.headers['content-type'] ?? '').toLowerCase();
  if (type.startsWith('application/json')) return true;
  const accept = String(request.headers.accept ?? '').toLowerCase();
  return accept.includes('application/json') && !accept.includes('text/html');
}

/** A body field as a string, or undefined when missing or not a single string (arrays, objects). */
export function textField(body: unknown, name: string): string | undefined {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return undefined;
  const value = (body as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : undefined;
}

/** The token of a request: the `token` query parameter, else a `token` body field. */
export function tokenOf(request: FastifyRequest): unknown {
  const query = request.query as Record<string, unknown> | undefined;
  if (query && query.token !== undefined) return query.token;
  return textField(request.body, 'token');
}

/**
 * Whether a request's logger writes info lines: a route's line masks the address with a keyed
 * hash, work wasted on every request when nobody reads it. Fastify's stand-in for "no logger"
 * has neither a level nor isLevelEnabled.
 */
export function logsInfo(log: FastifyBaseLogger): boolean {
  const { isLevelEnabled } = log as { isLevelEnabled?: (level: string) => boolean };
  return typeof isLevelEnabled === 'function' ? isLevelEnabled.call(log, 'info') : 'level' in log;
}
