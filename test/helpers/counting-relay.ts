import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { LOOPBACK_RELAY_OPTIONS } from './smtp-sink.ts';

/**
 * An SMTP server on 127.0.0.1 that keeps no message, only what a test of many senders counts:
 * messages per recipient, per sender (the EHLO name each sender's `smtp.clientName` gives) and
 * the instant each was accepted. Light enough for tens of thousands of messages.
 */
export interface CountingRelay {
  port: number;
  /** `smtp://user:pass@127.0.0.1:PORT`, for LETTERPRESS_SMTP_URL. */
  url: string;
  /** Messages accepted (250) so far. */
  total(): number;
  /** Envelope recipient → how many messages it received. */
  byRecipient: Map<string, number>;
  /** EHLO name → how many messages came over its connections. */
  bySender: Map<string, number>;
  /** Envelope recipient → the EHLO names that sent it a message, in order. */
  sendersOf: Map<string, string[]>;
  /** When each message was accepted (ms since the epoch, sub-millisecond), in order. */
  acceptedAt: number[];
  close(): Promise<void>;
}

/**
 * `acceptDelayMs` holds each message's 250 that long: a test that needs several senders to
 * share the work keeps one fast sender from taking it all before the others wake.
 */
export async function startCountingRelay(options: { acceptDelayMs?: number } = {}): Promise<CountingRelay> {
  const byRecipient = new Map<string, number>();
  const bySender = new Map<string, number>();
  const sendersOf = new Map<string, string[]>();
  const acceptedAt: number[] = [];
  const server = new SMTPServer({
    ...LOOPBACK_RELAY_OPTIONS,
    onData: (stream, session, callback) => {
      stream.on('data', () => undefined);
      stream.on('error', (error: Error) => callback(error));
      stream.on('end', () => {
        acceptedAt.push(performance.timeOrigin + performance.now());
        const sender = session.hostNameAppearsAs;
        bySender.set(sender, (bySender.get(sender) ?? 0) + 1);
        for (const { address } of session.envelope.rcptTo) {
          byRecipient.set(address, (byRecipient.get(address) ?? 0) + 1);
          const senders = sendersOf.get(address) ?? [];
          senders.push(sender);
          sendersOf.set(address, senders);
        }
        if (options.acceptDelayMs) setTimeout(() => callback(null), options.acceptDelayMs);
        else callback(null);
      });
    },
  });
  // A sender killed mid-session makes smtp-server emit 'error': expected here.
  server.on('error', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.server.address() as AddressInfo).port;
  const connections = () => [...((server as unknown as { connections: Set<{ _socket: { destroy(): void } }> }).connections ?? [])];
  return {
    port,
    url: `smtp://user:pass@127.0.0.1:${port}`,
    total: () => acceptedAt.length,
    byRecipient,
    bySender,
    sendersOf,
    acceptedAt,
    close: () =>
      new Promise<void>((resolve) => {
        for (const connection of connections()) connection._socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** The most instants that fall in any window [t, t + windowMs) (instants sorted ascending). */
export function busiestWindow(instants: readonly number[], windowMs: number): number {
  let most = 0;
  let start = 0;
  for (let end = 0; end < instants.length; end += 1) {
    while (instants[end]! - instants[start]! >= windowMs) start += 1;
    most = Math.max(most, end - start + 1);
  }
  return most;
}
