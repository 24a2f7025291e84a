import SMTPConnection from 'nodemailer/lib/smtp-connection';
import { classifySmtpFailure, type SmtpFailureClass } from './classify-smtp-error.ts';
import type { SmtpTransportOptions } from './smtp-transport.ts';

/** Where and how to reach the relay: the same settings the send transport uses. */
export type SmtpProbeOptions = Pick<
  SmtpTransportOptions,
  'host' | 'port' | 'secure' | 'requireTLS' | 'tlsRejectUnauthorized' | 'user' | 'pass' | 'clientName'
> & {
  /** Bounds the connection, the greeting and each reply (a probe should answer in seconds). */
  timeoutMs: number;
};

export type SmtpProbeResult =
  | { ok: true; loggedIn: boolean; secure: boolean }
  | { ok: false; failure: SmtpFailureClass; reachable: boolean };

/**
 * Connects to the relay, logs in when a user is configured, and says goodbye: no MAIL FROM,
 * nothing sent. Failures are sorted by the send path's own classifier, so `doctor` and a real
 * run name a problem the same way.
 */
export function probeSmtp(options: SmtpProbeOptions): Promise<SmtpProbeResult> {
  return new Promise((resolve) => {
    const connection = new SMTPConnection({
      host: options.host,
      port: options.port,
      secure: options.secure,
      requireTLS: options.requireTLS,
      name: options.clientName,
      connectionTimeout: options.timeoutMs,
      greetingTimeout: options.timeoutMs,
      socketTimeout: options.timeoutMs,
      socketCloseTimeout: 0,
      tls: { rejectUnauthorized: options.tlsRejectUnauthorized },
      allowInternalNetworkInterfaces: true,
    });
    let reachable = false;
    let settled = false;
    const settle = (result: SmtpProbeResult) => {
      if (settled) return;
      settled = true;
      try {
        if (result.ok) connection.quit();
        else connection.close();
      } catch {
        // Already closed.
      }
      resolve(result);
    };
    const fail = (error: unknown) =>
      settle({ ok: false, reachable, failure: classifySmtpFailure(error as Parameters<typeof classifySmtpFailure>[0]) });
    connection.on('error', fail);
    connection.once('end', () =>
      fail(Object.assign(new Error('the server closed the connection'), { code: 'ECONNECTION', command: 'CONN' })),
    );
    connection.connect(() => {
      reachable = true;
      const secure = connection.secure;
      if (!options.user) return settle({ ok: true, loggedIn: false, secure });
      connection.login({ user: options.user, pass: options.pass ?? '' }, (error) => {
        if (error) return fail(error);
        settle({ ok: true, loggedIn: true, secure });
      });
    });
  });
}
