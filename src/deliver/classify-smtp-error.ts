/**
 * What an SMTP failure means for the ledger (pure). DESIGN.md §4: per-recipient 4xx and
 * dropped connections are retried later; per-recipient 5xx are final, and "no such mailbox"
 * also stops mailing the address; problems with the sender's own setup stop the whole run and
 * leave every row queued, because retrying them per recipient would only burn the list.
 */

/** The facts of a failure, as nodemailer's SMTPConnection reports them. */
export interface SmtpFailure {
  /** nodemailer's code (`EAUTH`, `EENVELOPE`, `EMESSAGE`, `ETIMEDOUT`, …) or a socket errno. */
  code?: string;
  /** The errno behind a wrapped socket error (`ECONNREFUSED`). */
  originalCode?: string;
  /** The command in flight (`CONN`, `AUTH PLAIN`, `MAIL FROM`, `RCPT TO`, `DATA`, …). */
  command?: string;
  responseCode?: number;
  response?: string;
  message?: string;
}

export type SessionErrorCode =
  | 'E_SMTP_AUTH'
  | 'E_SMTP_POLICY'
  | 'E_SMTP_SENDER'
  | 'E_SMTP_TLS'
  | 'E_SMTP_CONNECT'
  | 'E_SMTP_REJECTED'
  | 'E_SMTP_SIZE';

export type SmtpFailureClass =
  /** This recipient only; the connection is still usable. */
  | { kind: 'recipient'; status: 'deferred' | 'failed' | 'bounced'; reply: string }
  /** The connection broke (drop, timeout, 421): this message is deferred, the next one reconnects. */
  | { kind: 'connection'; reply: string }
  /** The sender's problem: stop the run, leave rows queued. */
  | { kind: 'session'; code: SessionErrorCode; reply: string; hint: string };

/** Enhanced status codes (RFC 3463) that say the mailbox does not exist or cannot exist. */
const MAILBOX_GONE = new Set(['5.1.1', '5.1.2', '5.1.6', '5.1.10']);
const BAD_SENDER = new Set(['5.1.7', '5.1.8']);
const TLS_ERRNO = /^(ERR_SSL|ERR_TLS|CERT_|UNABLE_TO_|DEPTH_ZERO|SELF_SIGNED|HOSTNAME_MISMATCH|ERR_OSSL)/;
const UNREACHABLE_ERRNO = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EDNS']);
const CONNECTION_CODES = new Set(['ECONNECTION', 'ETIMEDOUT', 'ESOCKET', 'ECONNRESET', 'EPIPE', 'EPROTOCOL']);

/** `550 5.1.1 <a@b>: user unknown` → `5.1.1`. */
export function enhancedStatusOf(response: string | undefined): string | undefined {
  const match = /^\d{3}[ -]([245]\.\d{1,3}\.\d{1,3})\b/.exec(response?.trim() ?? '');
  return match?.[1];
}

function replyOf(failure: SmtpFailure): string {
  const text = (failure.response ?? failure.message ?? failure.code ?? 'unknown SMTP error').trim();
  // Keep the ledger readable: one line, bounded.
  return text.replace(/\s+/g, ' ').slice(0, 500);
}

/** Sorts one SMTP failure into recipient, connection or session trouble. */
export function classifySmtpFailure(failure: SmtpFailure): SmtpFailureClass {
  const reply = replyOf(failure);
  const command = (failure.command ?? '').toUpperCase();
  const status = failure.responseCode;
  const enhanced = enhancedStatusOf(failure.response);
  const errno = failure.originalCode ?? failure.code ?? '';

  if (failure.code === 'ETLS' || failure.code === 'EREQUIRETLS' || TLS_ERRNO.test(errno) || command === 'STARTTLS') {
    return {
      kind: 'session',
      code: 'E_SMTP_TLS',
      reply,
      hint: 'TLS with the SMTP server failed; check smtp.secure, smtp.requireTLS and the server certificate',
    };
  }
  if (
    failure.code === 'EAUTH' ||
    failure.code === 'ENOAUTH' ||
    command.startsWith('AUTH') ||
    status === 530 ||
    status === 534 ||
    status === 535
  ) {
    return {
      kind: 'session',
      code: 'E_SMTP_AUTH',
      reply,
      hint: 'the SMTP server refused the login; check smtp.user and LETTERPRESS_SMTP_PASS (or LETTERPRESS_SMTP_URL)',
    };
  }
  if (status === 421 || status === 503) return { kind: 'connection', reply };
  // The same message goes to everyone: a server that refuses its size (nodemailer checks the
  // advertised SIZE itself: EMESSAGE without a reply; or 552 to MAIL FROM … SIZE=) refuses it
  // for every recipient. Deferring would retry the whole list for days, one new connection
  // each. (A reply to the end of DATA is also EMESSAGE, with a reply: per recipient, below.)
  if (
    (failure.code === 'EMESSAGE' && status === undefined) ||
    (command.startsWith('MAIL') && (status === 552 || enhanced === '5.3.4'))
  ) {
    return {
      kind: 'session',
      code: 'E_SMTP_SIZE',
      reply,
      hint: 'the message is larger than the SMTP server accepts (its SIZE limit); shorten the issue or raise the limit',
    };
  }
  if (enhanced?.startsWith('5.7.')) {
    return {
      kind: 'session',
      code: 'E_SMTP_POLICY',
      reply,
      hint: 'the SMTP server refuses this sender by policy (relaying, SPF/DMARC, quota); fix the sender setup before sending again',
    };
  }
  if ((enhanced !== undefined && BAD_SENDER.has(enhanced)) || (command.startsWith('MAIL') && status !== undefined && status >= 500)) {
    return {
      kind: 'session',
      code: 'E_SMTP_SENDER',
      reply,
      hint: 'the SMTP server refuses the envelope sender; check sender.envelopeFrom / sender.fromAddress',
    };
  }
  if (command === 'CONN' && status !== undefined && status >= 500) {
    return {
      kind: 'session',
      code: 'E_SMTP_REJECTED',
      reply,
      hint: 'the SMTP server rejected the connection at its greeting',
    };
  }
  if (UNREACHABLE_ERRNO.has(errno) || UNREACHABLE_ERRNO.has(failure.code ?? '')) {
    return {
      kind: 'session',
      code: 'E_SMTP_CONNECT',
      reply,
      hint: 'cannot reach the SMTP server; check smtp.host and smtp.port (or LETTERPRESS_SMTP_URL)',
    };
  }
  if (status !== undefined && status >= 400 && status < 500) return { kind: 'recipient', status: 'deferred', reply };
  if (status !== undefined && status >= 500) {
    return { kind: 'recipient', status: enhanced !== undefined && MAILBOX_GONE.has(enhanced) ? 'bounced' : 'failed', reply };
  }
  if (CONNECTION_CODES.has(failure.code ?? '') || CONNECTION_CODES.has(errno)) return { kind: 'connection', reply };
  // Anything else unknown: assume the connection is unusable and try again later; never lose it.
  return { kind: 'connection', reply };
}
