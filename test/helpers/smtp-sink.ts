import type { AddressInfo, Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { SMTPServer, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server';

/** One message as the test SMTP server received it: the envelope and the raw bytes. */
export interface ReceivedMessage {
  mailFrom: string;
  rcpt: string[];
  raw: Buffer;
  sessionId: string;
}

export interface SmtpSink {
  server: SMTPServer;
  port: number;
  /** `smtp://user:pass@127.0.0.1:PORT`, for LETTERPRESS_SMTP_URL. */
  url: string;
  /** Every message the server answered 250 to, in order of arrival. */
  messages: ReceivedMessage[];
  /**
   * MAIL FROM and RCPT TO lines exactly as the client sent them (smtp-server itself hands
   * handlers IDN domains already decoded to Unicode, so the wire form is only visible here).
   */
  commands: string[];
  /** Reads a DATA stream to the end (the default onData does this and answers 250). */
  collect(stream: Readable, session: SMTPServerSession): Promise<ReceivedMessage>;
  /** The live connections (smtp-server keeps them in a Set; not part of its typed API). */
  connections(): { session: SMTPServerSession; _socket: { destroy(): void } }[];
  /** Destroys every open connection and stops listening. */
  close(): Promise<void>;
}

/** How the loopback test relays listen: plain SMTP, any login accepted, quick to close. */
export const LOOPBACK_RELAY_OPTIONS = {
  logger: false,
  authOptional: true,
  allowInsecureAuth: true,
  disabledCommands: ['STARTTLS'],
  closeTimeout: 50,
  onAuth: (_auth, _session, callback) => callback(null, { user: 'test' }),
} satisfies SMTPServerOptions;

/**
 * An in-process SMTP server on 127.0.0.1 (an ephemeral port) that keeps every message.
 * Plaintext AUTH is accepted and STARTTLS is not offered, so nodemailer speaks plain SMTP;
 * every smtp-server hook can be replaced to script faults.
 */
export async function startSmtpSink(options: SMTPServerOptions = {}): Promise<SmtpSink> {
  const messages: ReceivedMessage[] = [];
  const collect = (stream: Readable, session: SMTPServerSession) =>
    new Promise<ReceivedMessage>((resolve, reject) => {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('error', reject);
      stream.on('end', () =>
        resolve({
          mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          rcpt: session.envelope.rcptTo.map((entry) => entry.address),
          raw: Buffer.concat(chunks),
          sessionId: session.id,
        }),
      );
    });

  const server = new SMTPServer({
    ...LOOPBACK_RELAY_OPTIONS,
    onData: (stream, session, callback) => {
      collect(stream, session).then(
        (message) => {
          messages.push(message);
          callback(null);
        },
        (error: Error) => callback(error),
      );
    },
    ...options,
  });
  // A client that goes away mid-session makes smtp-server emit 'error'; the test decides what counts.
  server.on('error', () => undefined);
  const commands: string[] = [];
  server.server.on('connection', (socket: Socket) => {
    let pending = '';
    socket.on('data', (chunk: Buffer) => {
      pending += chunk.toString('latin1');
      const lines = pending.split('\r\n');
      pending = (lines.pop() ?? '').slice(-2048);
      for (const line of lines) if (/^(MAIL FROM|RCPT TO):/i.test(line)) commands.push(line);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.server.address() as AddressInfo).port;

  const connections = () => [...((server as unknown as { connections: Set<unknown> }).connections ?? [])] as ReturnType<SmtpSink['connections']>;
  return {
    server,
    port,
    url: `smtp://user:pass@127.0.0.1:${port}`,
    messages,
    commands,
    collect,
    connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const connection of connections()) connection._socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Envelope recipient → how many messages it received. */
export function countByRecipient(messages: readonly ReceivedMessage[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const message of messages) {
    for (const rcpt of message.rcpt) counts.set(rcpt, (counts.get(rcpt) ?? 0) + 1);
  }
  return counts;
}
