/**
 * What an SMTP failure means for the ledger (pure). DESIGN.md §4: per-recipient 4xx and
 * dropped connections are retried later; per-recipient 5xx are final, and "no such mailbox"
 * also stops mailing the address; problems with the sender's own setup (including a message
 * too big for the relay, one message for everyone) stop the whole run and leave every row
 * queued, because retrying them per recipient would only burn the list. Faults that only show
 * across many replies (a relay that goes silent, mass bounces) are the send loop's to judge.
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
  /** Bytes of the message that was refused, when known (for the size hint). */
  messageSize?: number;
}

export type SessionErrorCode =
  | 'E_SMTP_AUTH'
  | 'E_SMTP_POLICY'
  | 'E_SMTP_SENDER'
  | 'E_SMTP_TLS'
  | 'E_SMTP_CONNECT'
  | 'E_SMTP_REJECTED'
  | 'E_SMTP_SIZE'
  /** Raised by the send loop, not by this classifier: post-DATA timeouts in a row. */
  | 'E_SMTP_STALLED'
  /** Raised by the send loop: nearly every one of a run's first recipients hard-bounced. */
  | 'E_SMTP_MASS_BOUNCE';

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
/** "530 5.7.0 Must issue a STARTTLS command first", "554 5.7.11 Encryption required", … */
const STARTTLS_FIRST = /STARTTLS|\bTLS\b|encryption (is )?required|must (use|issue) (an? )?(secure|encrypted)/i;
const CERTIFICATE_ERRNO = /^(CERT_|UNABLE_TO_|DEPTH_ZERO|SELF_SIGNED|HOSTNAME_MISMATCH|ERR_TLS_CERT)/;
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

/** What to check for a failed TLS handshake: a certificate, or TLS on the wrong port. */
function tlsHint(errno: string): string {
  if (CERTIFICATE_ERRNO.test(errno)) {
    return "the SMTP server's TLS certificate was not accepted; check smtp.host is the name on the certificate (turn smtp.tlsRejectUnauthorized off only for a relay on loopback)";
  }
  if (errno === 'ERR_SSL_WRONG_VERSION_NUMBER') {
    return 'TLS with the SMTP server failed: the port does not speak TLS from the start; use smtp.secure true only for port 465, false for 587 or 25 (STARTTLS)';
  }
  return 'TLS with the SMTP server failed; check smtp.secure (true for port 465, false for 587 with STARTTLS), smtp.requireTLS and the server certificate';
}

function formatBytes(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MB` : `${Math.ceil(bytes / 1024)} KB`;
}

/** Sorts one SMTP failure into recipient, connection or session trouble. */
export function classifySmtpFailure(failure: SmtpFailure): SmtpFailureClass {
  const reply = replyOf(failure);
  const command = (failure.command ?? '').toUpperCase();
  const status = failure.responseCode;
  const enhanced = enhancedStatusOf(failure.response);
  const errno = failure.originalCode ?? failure.code ?? '';

  if (failure.code === 'ETLS' || failure.code === 'EREQUIRETLS' || TLS_ERRNO.test(errno) || command === 'STARTTLS') {
    return { kind: 'session', code: 'E_SMTP_TLS', reply, hint: tlsHint(errno) };
  }
  // 530 is both "log in first" (RFC 4954) and "start TLS first" (RFC 3207, often 530 5.7.0):
  // only the text tells them apart, and the fix is a different setting.
  if ((status === 530 || enhanced === '5.7.0' || enhanced === '5.7.10' || enhanced === '5.7.11') && STARTTLS_FIRST.test(reply)) {
    return {
      kind: 'session',
      code: 'E_SMTP_TLS',
      reply,
      hint:
        'the SMTP server wants TLS before it takes mail, and this session did not use it: on port 587 (or 25) keep smtp.secure false ' +
        'and set smtp.requireTLS true (STARTTLS); on port 465 set smtp.secure true (TLS from the start)',
    };
  }
  if (failure.code === 'ENOAUTH') {
    return {
      kind: 'session',
      code: 'E_SMTP_AUTH',
      reply,
      hint: 'smtp.user is set but there is no password; set LETTERPRESS_SMTP_PASS (or put it in LETTERPRESS_SMTP_URL)',
    };
  }
  if (status === 530) {
    return {
      kind: 'session',
      code: 'E_SMTP_AUTH',
      reply,
      hint: 'the SMTP server wants a login before it takes mail; set smtp.user and LETTERPRESS_SMTP_PASS (or LETTERPRESS_SMTP_URL)',
    };
  }
  if (status === 534) {
    return {
      kind: 'session',
      code: 'E_SMTP_AUTH',
      reply,
      hint:
        'the SMTP server refused the login method: it may want TLS first (smtp.requireTLS on port 587, smtp.secure on 465) ' +
        'or an app password in LETTERPRESS_SMTP_PASS instead of the account password',
    };
  }
  if (failure.code === 'EAUTH' || command.startsWith('AUTH') || status === 535) {
    return {
      kind: 'session',
      code: 'E_SMTP_AUTH',
      reply,
      hint: 'the SMTP server refused the login; check smtp.user and LETTERPRESS_SMTP_PASS (or LETTERPRESS_SMTP_URL)',
    };
  }
  if (status === 421 || status === 503) return { kind: 'connection', reply };
  // The same message goes to everyone: a server that refuses its size refuses it for every
  // recipient, and deferring or failing row by row would burn the whole list (or retry it for
  // days). nodemailer checks the advertised SIZE itself (EMESSAGE at MAIL FROM without a
  // reply); a server may answer 552 to MAIL FROM … SIZE=, or 552 / 5.3.4 to the end of DATA.
  // 552 5.2.x after DATA is this mailbox's quota (5.2.2 full, 5.2.3 over its own limit): per
  // recipient, below.
  if (
    (failure.code === 'EMESSAGE' && status === undefined && command.startsWith('MAIL')) ||
    enhanced === '5.3.4' ||
    (status === 552 && (command.startsWith('MAIL') || (command === 'DATA' && !enhanced?.startsWith('5.2.'))))
  ) {
    return {
      kind: 'session',
      code: 'E_SMTP_SIZE',
      reply,
      hint:
        `the SMTP server refuses a message of this size${failure.messageSize ? ` (${formatBytes(failure.messageSize)})` : ''}, ` +
        'the same for every recipient: make the issue smaller (fewer or smaller images, less HTML), or ask the relay for a larger message size limit',
    };
  }
  if (enhanced?.startsWith('5.7.')) {
    return {
      kind: 'session',
      code: 'E_SMTP_POLICY',
      reply,
      hint:
        'the SMTP server refuses this sender by policy: "relaying denied" usually means it wants a login (smtp.user) or does not relay ' +
        'for this From domain; SPF/DMARC refusals mean the domain\'s DNS records do not allow this relay; fix the sender setup before sending again',
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
