import { describe, expect, it } from 'vitest';
import { classifySmtpFailure, enhancedStatusOf, type SmtpFailure } from '../../src/deliver/classify-smtp-error.ts';

/**
 * Every rule of classify-smtp-error.ts, in its order of precedence (DESIGN.md §4 "Errors"):
 * TLS (and "STARTTLS first"), auth, 421/503, message size, 5.7.x policy, bad sender, rejected greeting, unreachable server, then
 * per-recipient 4xx / 5xx (bounced for unknown mailboxes), connection codes, and the default.
 */

/** A nodemailer-shaped failure from an SMTP reply at `command`. */
const reply = (command: string, response: string, extra: Partial<SmtpFailure> = {}): SmtpFailure => ({
  code: command === 'CONN' ? 'EPROTOCOL' : 'EENVELOPE',
  command,
  responseCode: Number(response.slice(0, 3)),
  response,
  message: `Error: ${response}`,
  ...extra,
});

const kindOf = (failure: SmtpFailure) => {
  const classified = classifySmtpFailure(failure);
  if (classified.kind === 'session') return `session:${classified.code}`;
  if (classified.kind === 'recipient') return `recipient:${classified.status}`;
  return 'connection';
};

describe('enhancedStatusOf', () => {
  it.each([
    ['550 5.1.1 <a@b.org>: Recipient address rejected: User unknown', '5.1.1'],
    ['550-5.1.1 The email account that you tried to reach does not exist', '5.1.1'],
    ['452 4.2.2 Mailbox full', '4.2.2'],
    ['250 2.0.0 Ok: queued', '2.0.0'],
    ['550 5.1.10 RESOLVER.ADR.RecipientNotFound', '5.1.10'],
    ['  550 5.7.1 leading spaces are trimmed', '5.7.1'],
  ])('%s → %s', (response, expected) => {
    expect(enhancedStatusOf(response)).toBe(expected);
  });

  it.each([
    ['550 Requested action not taken'],
    ['550 5.1 incomplete'],
    ['550 6.1.1 not a class'],
    ['5.1.1 no reply code'],
    ['550 5.1.1000 too long a detail'],
    [''],
  ])('%j has none', (response) => {
    expect(enhancedStatusOf(response)).toBeUndefined();
  });

  it('undefined has none', () => expect(enhancedStatusOf(undefined)).toBeUndefined());
});

describe('classifySmtpFailure', () => {
  describe('TLS → session E_SMTP_TLS', () => {
    it.each<[string, SmtpFailure]>([
      ['code ETLS', { code: 'ETLS', command: 'CONN', message: 'Error initiating TLS' }],
      ['code EREQUIRETLS', { code: 'EREQUIRETLS', command: 'MAIL FROM', message: 'REQUIRETLS not supported' }],
      ['errno ERR_SSL_WRONG_VERSION_NUMBER', { code: 'ESOCKET', originalCode: 'ERR_SSL_WRONG_VERSION_NUMBER', command: 'CONN' }],
      ['errno ERR_TLS_CERT_ALTNAME_INVALID', { code: 'ESOCKET', originalCode: 'ERR_TLS_CERT_ALTNAME_INVALID' }],
      ['errno CERT_HAS_EXPIRED', { code: 'ESOCKET', originalCode: 'CERT_HAS_EXPIRED' }],
      ['errno UNABLE_TO_VERIFY_LEAF_SIGNATURE', { code: 'ESOCKET', originalCode: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' }],
      ['errno DEPTH_ZERO_SELF_SIGNED_CERT', { code: 'ESOCKET', originalCode: 'DEPTH_ZERO_SELF_SIGNED_CERT' }],
      ['errno SELF_SIGNED_CERT_IN_CHAIN', { code: 'ESOCKET', originalCode: 'SELF_SIGNED_CERT_IN_CHAIN' }],
      ['errno HOSTNAME_MISMATCH', { code: 'ESOCKET', originalCode: 'HOSTNAME_MISMATCH' }],
      ['errno ERR_OSSL_EVP_UNSUPPORTED', { code: 'ESOCKET', originalCode: 'ERR_OSSL_EVP_UNSUPPORTED' }],
      ['a TLS errno in code itself', { code: 'CERT_HAS_EXPIRED' }],
      ['any failure at STARTTLS', reply('STARTTLS', '454 4.7.0 TLS not available due to local problem')],
      ['STARTTLS is matched case-insensitively', { command: 'starttls', code: 'ETLS' }],
    ])('%s', (_name, failure) => {
      const classified = classifySmtpFailure(failure);
      expect(classified).toMatchObject({ kind: 'session', code: 'E_SMTP_TLS' });
      expect(classified.kind === 'session' && classified.hint).toMatch(/TLS/);
    });

    it.each<[string, SmtpFailure]>([
      ['530 5.7.0 Must issue a STARTTLS command first (Postfix)', reply('MAIL FROM', '530 5.7.0 Must issue a STARTTLS command first')],
      ['530 at AUTH: STARTTLS first', reply('AUTH PLAIN', '530 5.7.0 Must issue a STARTTLS command first', { code: 'EAUTH' })],
      ['530 without an enhanced code', reply('MAIL FROM', '530 Must issue a STARTTLS command first')],
      ['538 5.7.11 encryption required', reply('AUTH PLAIN', '538 5.7.11 Encryption required for requested authentication mechanism')],
      ['554 5.7.10 TLS required', reply('MAIL FROM', '554 5.7.10 TLS is required for this connection')],
    ])('a server that wants TLS first: %s → a TLS hint, not a login one', (_name, failure) => {
      const classified = classifySmtpFailure(failure);
      expect(classified).toMatchObject({ kind: 'session', code: 'E_SMTP_TLS' });
      const hint = classified.kind === 'session' ? classified.hint : '';
      expect(hint).toMatch(/TLS/);
      expect(hint).toMatch(/smtp\.requireTLS/);
      expect(hint).toMatch(/587/);
      expect(hint).toMatch(/smtp\.secure true.*465|465.*smtp\.secure true/);
      expect(hint).not.toMatch(/login|smtp\.user|PASS/);
    });

    it('a certificate problem says so; TLS on the wrong port says which port wants which setting', () => {
      const hintOf = (failure: SmtpFailure) => {
        const classified = classifySmtpFailure(failure);
        return classified.kind === 'session' ? classified.hint : '';
      };
      expect(hintOf({ code: 'ESOCKET', originalCode: 'CERT_HAS_EXPIRED' })).toMatch(/certificate was not accepted/);
      expect(hintOf({ code: 'ESOCKET', originalCode: 'ERR_SSL_WRONG_VERSION_NUMBER' })).toMatch(/smtp\.secure true only for port 465/);
    });

    it('wins over auth: a TLS failure during AUTH is still TLS', () => {
      expect(kindOf({ code: 'ETLS', command: 'AUTH PLAIN' })).toBe('session:E_SMTP_TLS');
    });
  });

  describe('authentication → session E_SMTP_AUTH', () => {
    it.each<[string, SmtpFailure, RegExp]>([
      ['code EAUTH', reply('AUTH PLAIN', '535 5.7.8 Authentication credentials invalid', { code: 'EAUTH' }), /refused the login/],
      ['code ENOAUTH', { code: 'ENOAUTH', command: 'API', message: 'Missing credentials for "PLAIN"' }, /no password.*LETTERPRESS_SMTP_PASS/],
      ['any reply to AUTH LOGIN', reply('AUTH LOGIN', '454 4.7.0 Temporary authentication failure'), /refused the login/],
      ['530 at MAIL FROM (authentication required)', reply('MAIL FROM', '530 5.7.0 Authentication required'), /wants a login.*smtp\.user/],
      ['534 (mechanism too weak)', reply('AUTH PLAIN', '534 5.7.9 Authentication mechanism is too weak'), /login method.*TLS first.*app password/],
      ['535 at any command', reply('RCPT TO', '535 Authentication failed'), /refused the login/],
    ])('%s', (_name, failure, hint) => {
      const classified = classifySmtpFailure(failure);
      expect(classified).toMatchObject({ kind: 'session', code: 'E_SMTP_AUTH' });
      expect(classified.kind === 'session' && classified.hint).toMatch(hint);
    });

    it('wins over policy: 535 5.7.8 is an auth failure, not a policy one', () => {
      expect(kindOf(reply('AUTH PLAIN', '535 5.7.8 Error: authentication failed'))).toBe('session:E_SMTP_AUTH');
    });
  });

  describe('421 and 503 → connection (this message deferred, reconnect)', () => {
    it.each<[string, SmtpFailure]>([
      ['421 at the greeting', reply('CONN', '421 4.3.2 Service not available')],
      ['421 at RCPT TO', reply('RCPT TO', '421 4.4.2 Connection timed out')],
      ['421 with a 5.7 enhanced code (rate limiting) is still a connection problem', reply('MAIL FROM', '421 4.7.0 Too many connections')],
      ['503 bad sequence of commands', reply('DATA', '503 5.5.1 Error: need RCPT command')],
      ['503 at MAIL FROM', reply('MAIL FROM', '503 5.5.1 Error: nested MAIL command')],
    ])('%s', (_name, failure) => {
      expect(kindOf(failure)).toBe('connection');
    });
  });

  describe('5.7.x → session E_SMTP_POLICY', () => {
    it.each<[string, SmtpFailure]>([
      ['550 5.7.1 relaying denied at RCPT', reply('RCPT TO', '550 5.7.1 <a@b.org>: Relay access denied')],
      ['554 5.7.1 at DATA (spam policy)', reply('DATA', '554 5.7.1 Message rejected as spam')],
      ['550 5.7.26 DMARC', reply('DATA', '550 5.7.26 Unauthenticated email is not accepted (DMARC)')],
      ['5.7.x at MAIL FROM is policy, not a bad sender', reply('MAIL FROM', '550 5.7.1 Sender rejected by policy')],
      ['554 5.7.1 at the greeting is policy, not a rejected connection', reply('CONN', '554 5.7.1 Your IP is blocklisted')],
    ])('%s', (_name, failure) => {
      const classified = classifySmtpFailure(failure);
      expect(classified).toMatchObject({ kind: 'session', code: 'E_SMTP_POLICY' });
      expect(classified.kind === 'session' && classified.hint).toMatch(/policy/);
    });

    it('a 4xx with a 4.7.x code (greylisting) is per recipient: deferred', () => {
      expect(kindOf(reply('RCPT TO', '450 4.7.1 Greylisted, try again later'))).toBe('recipient:deferred');
    });
  });

  describe('bad sender → session E_SMTP_SENDER', () => {
    it.each<[string, SmtpFailure]>([
      ['5.1.7 bad sender syntax', reply('MAIL FROM', '553 5.1.7 The sender address is not valid')],
      ['5.1.8 bad sender domain', reply('MAIL FROM', '553 5.1.8 Sender address rejected: Domain not found')],
      ['5.1.8 reported at RCPT still names the sender', reply('RCPT TO', '550 5.1.8 Sender domain does not exist')],
      ['any 5xx at MAIL FROM', reply('MAIL FROM', '550 Sender not allowed')],
      ['MAIL FROM is matched case-insensitively', reply('mail from', '553 Bad sender')],
    ])('%s', (_name, failure) => {
      const classified = classifySmtpFailure(failure);
      expect(classified).toMatchObject({ kind: 'session', code: 'E_SMTP_SENDER' });
      expect(classified.kind === 'session' && classified.hint).toMatch(/envelope sender/);
    });

    it('a 4xx at MAIL FROM is temporary: deferred', () => {
      expect(kindOf(reply('MAIL FROM', '452 4.3.1 Insufficient system storage'))).toBe('recipient:deferred');
    });
  });

  describe('message too large for the server → session E_SMTP_SIZE', () => {
    it.each<[string, SmtpFailure]>([
      ['nodemailer refuses it against the advertised SIZE', { code: 'EMESSAGE', command: 'MAIL FROM', message: 'Message size larger than allowed 2000' }],
      ['552 to MAIL FROM … SIZE=', reply('MAIL FROM', '552 5.3.4 Message size exceeds fixed maximum message size')],
      ['a 5.3.4 to MAIL FROM with another code', reply('MAIL FROM', '550 5.3.4 Message too big for system')],
      ['552 5.3.4 after DATA (nodemailer: EMESSAGE with the reply)', reply('DATA', '552 5.3.4 Message size exceeds fixed limit', { code: 'EMESSAGE' })],
      ['552 after DATA without an enhanced code', reply('DATA', '552 Message size exceeds maximum permitted', { code: 'EMESSAGE' })],
      ['554 5.3.4 after DATA', reply('DATA', '554 5.3.4 Message too big for system', { code: 'EMESSAGE' })],
    ])('%s', (_name, failure) => {
      const classified = classifySmtpFailure(failure);
      expect(classified).toMatchObject({ kind: 'session', code: 'E_SMTP_SIZE' });
      expect(classified.kind === 'session' && classified.hint).toMatch(/refuses a message of this size.*smaller.*images.*HTML.*larger message size limit/);
    });

    it('names the size of the message when it is known', () => {
      const classified = classifySmtpFailure({ ...reply('DATA', '552 5.3.4 Message too big', { code: 'EMESSAGE' }), messageSize: 71_234 });
      expect(classified.kind === 'session' && classified.hint).toContain('(70 KB)');
      const large = classifySmtpFailure({ ...reply('DATA', '552 5.3.4 Message too big', { code: 'EMESSAGE' }), messageSize: 12 * 1024 * 1024 });
      expect(large.kind === 'session' && large.hint).toContain('(12.0 MB)');
    });

    it('552 5.2.x after DATA is the mailbox, not the message: per recipient, failed', () => {
      expect(kindOf(reply('DATA', '552 5.2.2 Mailbox full', { code: 'EMESSAGE' }))).toBe('recipient:failed');
      expect(kindOf(reply('DATA', '552 5.2.3 Message exceeds the mailbox size limit', { code: 'EMESSAGE' }))).toBe('recipient:failed');
      expect(kindOf(reply('DATA', '451 4.3.0 queue write error', { code: 'EMESSAGE' }))).toBe('recipient:deferred');
    });

    it('an empty message (a bug, not a size limit) is not called too large', () => {
      expect(kindOf({ code: 'EMESSAGE', command: 'API', message: 'Empty message' })).not.toBe('session:E_SMTP_SIZE');
    });
  });

  describe('5xx at the greeting → session E_SMTP_REJECTED', () => {
    it.each<[string, SmtpFailure]>([
      ['554 no service', reply('CONN', '554 No SMTP service here')],
      ['550 at the greeting', reply('CONN', '550 Access denied')],
    ])('%s', (_name, failure) => {
      const classified = classifySmtpFailure(failure);
      expect(classified).toMatchObject({ kind: 'session', code: 'E_SMTP_REJECTED' });
      expect(classified.kind === 'session' && classified.hint).toMatch(/rejected the connection/);
    });
  });

  describe('unreachable server → session E_SMTP_CONNECT', () => {
    it.each(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH'])('%s (as nodemailer wraps it)', (errno) => {
      const classified = classifySmtpFailure({ code: 'ESOCKET', originalCode: errno, command: 'CONN', message: `connect ${errno}` });
      expect(classified).toMatchObject({ kind: 'session', code: 'E_SMTP_CONNECT' });
      expect(classified.kind === 'session' && classified.hint).toMatch(/cannot reach/);
    });

    it('nodemailer code EDNS', () => {
      expect(kindOf({ code: 'EDNS', command: 'CONN', message: 'getaddrinfo ENOTFOUND smtp.invalid' })).toBe('session:E_SMTP_CONNECT');
    });

    it('an unwrapped errno in code', () => {
      expect(kindOf({ code: 'ECONNREFUSED' })).toBe('session:E_SMTP_CONNECT');
    });
  });

  describe('per recipient', () => {
    it.each<[string, SmtpFailure]>([
      ['450 mailbox busy', reply('RCPT TO', '450 4.2.1 Mailbox busy')],
      ['451 local error', reply('RCPT TO', '451 4.3.0 Temporary lookup failure')],
      ['452 too many recipients', reply('RCPT TO', '452 4.5.3 Too many recipients')],
      ['451 at DATA', reply('DATA', '451 4.3.0 Error: queue file write error')],
      ['4xx without an enhanced code', reply('RCPT TO', '450 Try later')],
    ])('4xx: %s → deferred', (_name, failure) => {
      expect(kindOf(failure)).toBe('recipient:deferred');
    });

    it.each(['5.1.1', '5.1.2', '5.1.6', '5.1.10'])('550 %s (mailbox gone) → bounced', (enhanced) => {
      expect(kindOf(reply('RCPT TO', `550 ${enhanced} <a@b.org>: Recipient address rejected`))).toBe('recipient:bounced');
    });

    it('a multi-line 550-5.1.1 reply → bounced', () => {
      expect(kindOf(reply('RCPT TO', '550-5.1.1 The email account that you tried to reach does not exist.\n550 5.1.1 Please try'))).toBe(
        'recipient:bounced',
      );
    });

    it.each<[string, SmtpFailure]>([
      ['550 5.1.3 bad address syntax (not "gone")', reply('RCPT TO', '550 5.1.3 Bad recipient address syntax')],
      ['552 5.2.2 mailbox full', reply('RCPT TO', '552 5.2.2 Mailbox full')],
      ['550 with no enhanced code', reply('RCPT TO', '550 Requested action not taken: mailbox unavailable')],
      ['554 5.6.0 at DATA', reply('DATA', '554 5.6.0 Message content rejected')],
    ])('5xx: %s → failed', (_name, failure) => {
      expect(kindOf(failure)).toBe('recipient:failed');
    });

    it('5.1.1 at DATA (a server that checks mailboxes late) → bounced too', () => {
      expect(kindOf(reply('DATA', '550 5.1.1 User unknown'))).toBe('recipient:bounced');
    });
  });

  describe('connection trouble → connection', () => {
    it.each(['ECONNECTION', 'ETIMEDOUT', 'ESOCKET', 'ECONNRESET', 'EPIPE', 'EPROTOCOL'])('code %s without a reply', (code) => {
      expect(kindOf({ code, command: 'CONN', message: 'Connection closed unexpectedly' })).toBe('connection');
    });

    it.each(['ECONNRESET', 'EPIPE', 'ETIMEDOUT'])('wrapped errno %s', (errno) => {
      expect(kindOf({ code: 'ESOCKET', originalCode: errno, command: 'CONN' })).toBe('connection');
    });

    it('anything unknown is a connection problem: never lose the message', () => {
      expect(kindOf({})).toBe('connection');
      expect(kindOf({ code: 'EWHATEVER', message: 'something odd' })).toBe('connection');
      expect(kindOf({ command: 'DATA', response: '250 odd success that failed anyway', responseCode: 250 })).toBe('connection');
    });
  });

  describe('the reply kept in the ledger', () => {
    it('is the server response, trimmed, on one line', () => {
      const classified = classifySmtpFailure(reply('RCPT TO', '  550-5.1.1 first line\r\n550 5.1.1 second   line  '));
      expect(classified.reply).toBe('550-5.1.1 first line 550 5.1.1 second line');
    });

    it('falls back to the message, then the code, then a fixed text', () => {
      expect(classifySmtpFailure({ message: 'read ECONNRESET', code: 'ESOCKET' }).reply).toBe('read ECONNRESET');
      expect(classifySmtpFailure({ code: 'ETIMEDOUT' }).reply).toBe('ETIMEDOUT');
      expect(classifySmtpFailure({}).reply).toBe('unknown SMTP error');
    });

    it('is at most 500 characters', () => {
      const classified = classifySmtpFailure(reply('RCPT TO', `550 5.1.1 ${'x'.repeat(2000)}`));
      expect(classified.reply).toHaveLength(500);
      expect(classified.kind === 'recipient' && classified.status).toBe('bounced');
    });

    it('session errors carry the reply too', () => {
      expect(classifySmtpFailure(reply('AUTH PLAIN', '535 5.7.8 bad credentials')).reply).toBe('535 5.7.8 bad credentials');
    });
  });
});
