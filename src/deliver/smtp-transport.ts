import { Readable } from 'node:stream';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import type { ErrorCode } from '../util/error-codes.ts';
import { LetterpressError } from '../util/errors.ts';
import { FastDataSmtpConnection, joinWireReady } from './smtp-connection.ts';
import { classifySmtpFailure, type SmtpFailure } from './classify-smtp-error.ts';
import { describeSmtpEndpoint } from './defer-transport.ts';
import type { OutgoingMessage, SendOutcome, Transport } from './types.ts';

/** Everything the SMTP pool needs; the app builds it from config and env. */
export interface SmtpTransportOptions {
  host: string;
  port: number;
  secure: boolean;
  requireTLS: boolean;
  tlsRejectUnauthorized: boolean;
  user?: string;
  pass?: string;
  /** EHLO name. */
  clientName?: string;
  maxConnections: number;
  /** Messages per connection before it is replaced (0: unlimited). */
  maxMessages: number;
  /** Messages per second over the whole pool (0: unlimited). */
  rateLimit: number;
  timeouts: { connectionMs: number; greetingMs: number; socketMs: number };
  /** Injectable for tests of the rate limiter. */
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

interface Job {
  message: OutgoingMessage;
  resolve: (outcome: SendOutcome) => void;
  reject: (error: unknown) => void;
  /** A message is retried once on a fresh connection when a reused one turned out dead before any byte went out. */
  retried: boolean;
}

interface Slot {
  connection?: SMTPConnection;
  /** Set when the connection ended or failed while idle: the next job reconnects. */
  dead: boolean;
  sending: boolean;
  messages: number;
  busy: boolean;
  /**
   * Where this slot's messages are joined before they go out. Reused only after a transaction
   * the server answered (every byte of the last message was on the wire by then); dropped on
   * any failure, when a write to a broken connection might still hold it.
   */
  scratch?: Buffer;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function toFailure(error: unknown): SmtpFailure {
  const e = (error ?? {}) as Record<string, unknown>;
  // nodemailer puts the per-recipient reply of a rejected RCPT on rejectedErrors[0].
  const rejected = Array.isArray(e.rejectedErrors) ? (e.rejectedErrors[0] as Record<string, unknown>) : undefined;
  const source = rejected ?? e;
  return {
    code: (source.code ?? e.code) as string | undefined,
    originalCode: (source.originalCode ?? e.originalCode) as string | undefined,
    command: (source.command ?? e.command) as string | undefined,
    responseCode: (source.responseCode ?? e.responseCode) as number | undefined,
    response: (source.response ?? e.response) as string | undefined,
    message: (source.message ?? e.message) as string | undefined,
  };
}

/**
 * A pool of nodemailer SMTP connections that sends pre-built raw messages. nodemailer's own
 * pool re-composes every message and only tells "error" from "sent"; this one hands the raw
 * bytes straight to `SMTPConnection.send` and sorts each failure into recipient, connection or
 * session trouble (classify-smtp-error.ts), which the ledger needs.
 */
export function createSmtpTransport(options: SmtpTransportOptions): Transport {
  const sleep = options.sleep ?? defaultSleep;
  const now = options.now ?? Date.now;
  const queue: Job[] = [];
  const slots: Slot[] = Array.from({ length: options.maxConnections }, () => ({
    dead: false,
    sending: false,
    messages: 0,
    busy: false,
  }));
  let sessionError: LetterpressError | undefined;
  let closed = false;
  let nextSendAt = 0;

  const connectionOptions: SMTPConnection.Options = {
    host: options.host,
    port: options.port,
    secure: options.secure,
    requireTLS: options.requireTLS,
    name: options.clientName,
    connectionTimeout: options.timeouts.connectionMs,
    greetingTimeout: options.timeouts.greetingMs,
    socketTimeout: options.timeouts.socketMs,
    socketCloseTimeout: 0,
    tls: { rejectUnauthorized: options.tlsRejectUnauthorized },
    allowInternalNetworkInterfaces: true,
  };

  const failSession = (error: unknown, classified: { code: ErrorCode; reply: string; hint: string }) => {
    sessionError ??= new LetterpressError(
      classified.code,
      `SMTP ${options.host}:${options.port}: ${classified.reply} — ${classified.hint}`,
      { cause: error },
    );
    // Nothing queued may go out after a session error: the run stops and the rows stay queued.
    for (const job of queue.splice(0)) job.reject(sessionError);
    return sessionError;
  };

  const dropConnection = (slot: Slot) => {
    const connection = slot.connection;
    slot.connection = undefined;
    slot.dead = false;
    slot.messages = 0;
    if (connection) {
      connection.removeAllListeners('end');
      try {
        connection.close();
      } catch {
        // Already closed.
      }
    }
  };

  const open = (slot: Slot) =>
    new Promise<SMTPConnection>((resolve, reject) => {
      const connection = new FastDataSmtpConnection(connectionOptions);
      let settled = false;
      const settle = (error: unknown, value?: SMTPConnection) => {
        if (settled) return;
        settled = true;
        if (error) reject(error);
        else resolve(value!);
      };
      // One listener for the connection's whole life: while a message is in flight its send
      // callback reports the same failure; while idle the connection is just marked dead.
      // Only the slot's current connection may mark it dead: a connection that failed to open
      // (or was dropped) can still emit 'end' later, when the slot already holds a new one.
      connection.on('error', (error: unknown) => {
        if (!settled) settle(error);
        else if (!slot.sending && slot.connection === connection) slot.dead = true;
      });
      connection.once('end', () => {
        if (!settled) {
          settle(Object.assign(new Error('connection closed before the greeting'), { code: 'ECONNECTION', command: 'CONN' }));
        } else if (slot.connection === connection) {
          slot.dead = true;
        }
      });
      connection.connect(() => {
        if (!options.user) return settle(undefined, connection);
        connection.login({ user: options.user, pass: options.pass ?? '' }, (error) => {
          if (error) {
            // Settle first: close() emits 'end' synchronously, and the 'end' listener above would
            // otherwise report "closed before the greeting" (a connection error → deferred)
            // instead of this login error (a session error → the run stops, rows stay queued).
            settle(error);
            connection.close();
            return;
          }
          settle(undefined, connection);
        });
      });
    });

  /** Sends one message; `stage.handedOver` turns true once every byte of it was read. */
  const transmit = (slot: Slot, connection: SMTPConnection, message: OutgoingMessage, stage: { handedOver: boolean }) =>
    new Promise<string>((resolve, reject) => {
      slot.sending = true;
      let settled = false;
      const settle = (error: unknown, reply?: string) => {
        if (settled) return;
        settled = true;
        slot.sending = false;
        connection.removeListener('end', onEnd);
        if (error) reject(error);
        else resolve(reply ?? '250');
      };
      // A connection that ends mid-transaction without calling back is a drop: defer. nodemailer
      // emits 'end' just before it calls the send callback with the real error (its command,
      // reply and timeout), so give that callback the chance to settle first.
      const onEnd = () =>
        setImmediate(() => settle(Object.assign(new Error('connection closed during the transaction'), { code: 'ECONNECTION' })));
      connection.once('end', onEnd);
      if (!slot.scratch || slot.scratch.length < message.size) slot.scratch = Buffer.allocUnsafeSlow(Math.ceil(message.size * 1.25));
      const joined = joinWireReady(message.parts, message.size, slot.scratch);
      const body = joined ? Readable.from([joined], { objectMode: false }) : Readable.from(message.parts, { objectMode: false });
      body.once('end', () => {
        stage.handedOver = true;
      });
      connection.send({ from: message.envelope.from, to: [message.envelope.to], size: message.size }, body, (error, info) => {
        if (error) settle(error);
        else settle(undefined, info?.response ?? '250 OK');
      });
    });

  const reset = (connection: SMTPConnection) =>
    new Promise<boolean>((resolve) => {
      connection.reset((error) => resolve(!error));
    });

  const waitForRateLimit = async () => {
    if (options.rateLimit <= 0) return;
    const interval = 1000 / options.rateLimit;
    const at = Math.max(now(), nextSendAt);
    nextSendAt = at + interval;
    const delay = at - now();
    if (delay > 0) await sleep(delay);
  };

  const runJob = async (slot: Slot, job: Job) => {
    if (sessionError) return job.reject(sessionError);
    if (slot.connection && slot.dead) dropConnection(slot);
    const reused = slot.connection !== undefined;
    let connection = slot.connection;
    if (!connection) {
      try {
        connection = await open(slot);
        slot.connection = connection;
        slot.messages = 0;
      } catch (error) {
        const classified = classifySmtpFailure({ command: 'CONN', ...toFailure(error) });
        if (classified.kind === 'session') return job.reject(failSession(error, classified));
        return job.resolve({ status: 'deferred', reply: classified.reply });
      }
    }
    await waitForRateLimit();
    const stage = { handedOver: false };
    try {
      const reply = await transmit(slot, connection, job.message, stage);
      slot.messages += 1;
      if (options.maxMessages > 0 && slot.messages >= options.maxMessages) {
        connection.quit();
        slot.connection = undefined;
      }
      job.resolve({ status: 'sent', reply: reply.trim() });
    } catch (error) {
      slot.scratch = undefined;
      const failure: SmtpFailure = { ...toFailure(error), messageSize: job.message.size };
      const classified = classifySmtpFailure(failure);
      if (classified.kind === 'session') {
        dropConnection(slot);
        return job.reject(failSession(error, classified));
      }
      if (classified.kind === 'connection') {
        dropConnection(slot);
        // A pooled connection the server closed while idle fails at MAIL FROM (or, already
        // closed, at the API call), before any byte of the message: that is no reason to defer
        // the message, try a fresh one once. A failure at any later stage (nodemailer reports
        // drops and timeouts as CONN) may come after the server took the whole message, and an
        // immediate resend would then be a duplicate: those are deferred.
        const command = (failure.command ?? '').toUpperCase();
        const beforeData = command.startsWith('MAIL') || command === 'API';
        if (reused && beforeData && !job.retried) {
          job.retried = true;
          return runJob(slot, job);
        }
        // nodemailer reports every timeout as ETIMEDOUT at CONN; only this side knows whether
        // the message had gone out whole and the relay then fell silent.
        const timedOutAfterData = stage.handedOver && (failure.code === 'ETIMEDOUT' || failure.originalCode === 'ETIMEDOUT');
        return job.resolve({ status: 'deferred', reply: classified.reply, ...(timedOutAfterData ? { timedOutAfterData } : {}) });
      }
      job.resolve({ status: classified.status, reply: classified.reply });
      if (!(await reset(connection))) dropConnection(slot);
    }
  };

  const pump = () => {
    // A session error stops the run that met it, not the process: once every message of that
    // run has been answered, the next send (the next daemon pass, a confirmation email) tries
    // the server afresh — a relay that restarted is usable again.
    if (sessionError && queue.length === 0 && slots.every((slot) => !slot.busy)) sessionError = undefined;
    for (const slot of slots) {
      if (slot.busy || queue.length === 0) continue;
      const job = queue.shift()!;
      slot.busy = true;
      void runJob(slot, job)
        .catch((error) => job.reject(error))
        .finally(() => {
          slot.busy = false;
          pump();
        });
    }
  };

  return {
    description: describeSmtpEndpoint(options),
    concurrency: options.maxConnections,
    send(message) {
      if (closed) return Promise.reject(new LetterpressError('E_SMTP_CLOSED', 'the SMTP transport is closed'));
      if (sessionError) return Promise.reject(sessionError);
      return new Promise<SendOutcome>((resolve, reject) => {
        queue.push({ message, resolve, reject, retried: false });
        pump();
      });
    },
    async close() {
      closed = true;
      for (const job of queue.splice(0)) {
        job.reject(new LetterpressError('E_SMTP_CLOSED', 'the SMTP transport closed before this message was sent'));
      }
      while (slots.some((slot) => slot.busy)) await defaultSleep(10);
      for (const slot of slots) {
        if (slot.connection) {
          try {
            slot.connection.quit();
          } catch {
            // Already gone.
          }
          slot.connection = undefined;
        }
      }
    },
  };
}
