import type { Transport } from './types.ts';

/**
 * A transport whose implementation is loaded on its first message: the app can hand out a
 * transport (its description, its concurrency) without loading nodemailer, so commands that
 * never send — `status`, `build` — never pay for it. `close` before any message loads nothing.
 */
export function deferTransport(options: {
  description: string;
  concurrency: number;
  load: () => Promise<Transport>;
}): Transport {
  let loaded: Promise<Transport> | undefined;
  const get = () => (loaded ??= options.load());
  return {
    description: options.description,
    concurrency: options.concurrency,
    send: async (message) => (await get()).send(message),
    async close() {
      if (loaded) await (await loaded).close();
    },
  };
}

/** How an SMTP transport names itself in logs and summaries: `smtp://host:port`. */
export function describeSmtpEndpoint(options: { host: string; port: number; secure: boolean }): string {
  return `smtp://${options.host}:${options.port}${options.secure ? ' (TLS)' : ''}`;
}
