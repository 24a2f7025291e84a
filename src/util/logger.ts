import { pino, type Logger } from 'pino';
import { prettyFactory } from 'pino-pretty';
import { escapeForTerminal } from './escape-for-terminal.ts';

export type { Logger };

/** The facts a readable line keeps from a log event's fields (the rest is for log collectors). */
function describeFields(log: Record<string, unknown>, messageKey: string): string {
  const parts = [String(log[messageKey] ?? '')];
  const req = log.req as { method?: string; url?: string } | undefined;
  const res = log.res as { statusCode?: number } | undefined;
  if (req?.method) parts.push(`${req.method} ${req.url ?? ''}`);
  if (res?.statusCode !== undefined) {
    parts.push(`→ ${res.statusCode}${typeof log.responseTime === 'number' ? ` in ${Math.round(log.responseTime)} ms` : ''}`);
  }
  const code = log.code;
  if (typeof code === 'string' && !parts[0]!.includes(`[${code}]`)) parts.push(`[${code}]`);
  // Messages quote titles, slugs and SMTP replies; pino-pretty's own colours are added after this.
  return escapeForTerminal(parts.filter(Boolean).join(' '));
}

/**
 * Where a pino JSON line goes: as is (for log collectors), or on a terminal as one readable,
 * coloured line. Fastify's own logger writes through this too, so `serve` never mixes a raw
 * JSON line into readable output.
 */
export function createLogWriter(options: { write: (line: string) => void; pretty: boolean }): (line: string) => void {
  if (!options.pretty) return options.write;
  // pino-pretty's own stream wants a real Writable (it calls `.on`); formatting each JSON line
  // ourselves keeps output synchronous and lets any `write` function be the destination.
  const prettify = prettyFactory({
    colorize: true,
    translateTime: 'SYS:HH:MM:ss',
    // The fields stay in the JSON for collectors; a person reads the message, which carries
    // what matters (slug, URL, code), not a trailing object.
    // (No singleLine: with hideObject it drops the line's end of line.)
    hideObject: true,
    ignore: 'pid,hostname',
    messageFormat: (log, messageKey) => describeFields(log, messageKey),
  });
  return (line) => options.write(prettify(line));
}

/**
 * The structured logger of long-running commands: one JSON line per event for log collectors,
 * or, on a terminal, the same events as readable lines. Fields carry the facts (slug, file,
 * line, counts); messages stay short and readable on their own. Never log addresses or tokens.
 */
export function createLogger(options: { write: (line: string) => void; pretty: boolean; level?: string }): Logger {
  const level = options.level ?? 'info';
  return pino({ level, base: undefined }, { write: createLogWriter(options) });
}
