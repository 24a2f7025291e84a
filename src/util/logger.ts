import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

/**
 * The structured logger of long-running commands: one JSON line per event for log collectors,
 * or, on a terminal, the same events as readable lines. Fields carry the facts (slug, file,
 * line, counts); messages stay short. Never log addresses or tokens.
 */
export function createLogger(options: { write: (line: string) => void; pretty: boolean; level?: string }): Logger {
  const level = options.level ?? 'info';
  if (!options.pretty) return pino({ level, base: undefined }, { write: options.write });
  const stream = pretty({
    colorize: true,
    translateTime: 'SYS:HH:MM:ss',
    ignore: 'pid,hostname',
    singleLine: true,
    destination: { write: (line: string) => options.write(line) } as unknown as NodeJS.WritableStream,
    sync: true,
  });
  return pino({ level, base: undefined }, stream);
}
