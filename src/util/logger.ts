import { pino, type Logger } from 'pino';
import { prettyFactory } from 'pino-pretty';

export type { Logger };

/**
 * The structured logger of long-running commands: one JSON line per event for log collectors,
 * or, on a terminal, the same events as readable lines. Fields carry the facts (slug, file,
 * line, counts); messages stay short. Never log addresses or tokens.
 */
export function createLogger(options: { write: (line: string) => void; pretty: boolean; level?: string }): Logger {
  const level = options.level ?? 'info';
  if (!options.pretty) return pino({ level, base: undefined }, { write: options.write });
  // pino-pretty's own stream wants a real Writable (it calls `.on`); formatting each JSON line
  // ourselves keeps output synchronous and lets any `write` function be the destination.
  const prettify = prettyFactory({
    colorize: true,
    translateTime: 'SYS:HH:MM:ss',
    ignore: 'pid,hostname',
    singleLine: true,
  });
  return pino({ level, base: undefined }, { write: (line: string) => options.write(prettify(line)) });
}
