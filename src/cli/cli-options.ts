import { LetterpressError } from '../util/errors.ts';

/** `--port` as given on the command line, else `fallback`; 0 lets the system pick a free port. */
export function parsePort(value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^[0-9]{1,5}$/.test(value) || Number(value) > 65535) {
    throw new LetterpressError('E_USAGE', `--port ${JSON.stringify(value)}: use a port number from 0 to 65535`);
  }
  return Number(value);
}

/** Resolves with the first SIGINT or SIGTERM, and stops listening for both. */
export function waitForStopSignal(): Promise<string> {
  return new Promise((resolve) => {
    const stop = (signal: string) => {
      process.removeListener('SIGINT', stop);
      process.removeListener('SIGTERM', stop);
      resolve(signal);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

/**
 * An AbortSignal aborted by the first SIGINT or SIGTERM (each said to `onSignal`, e.g. a log
 * line), and `dispose` to stop listening: the long-running commands' way to stop cleanly.
 */
export function abortOnStopSignals(onSignal: (signal: NodeJS.Signals) => void): { signal: AbortSignal; dispose(): void } {
  const stop = new AbortController();
  const listener = (signal: NodeJS.Signals) => {
    onSignal(signal);
    stop.abort();
  };
  process.once('SIGINT', listener);
  process.once('SIGTERM', listener);
  return {
    signal: stop.signal,
    dispose() {
      process.removeListener('SIGINT', listener);
      process.removeListener('SIGTERM', listener);
    },
  };
}

/** What `letterpress start` runs (`--role`). */
export type StartRole = 'all' | 'web' | 'scheduler' | 'worker';
const START_ROLES: readonly StartRole[] = ['all', 'web', 'scheduler', 'worker'];

/** `--role` as given (default `all`); anything else is a usage error naming the choices. */
export function parseRole(value: string | undefined): StartRole {
  if (value === undefined) return 'all';
  if ((START_ROLES as readonly string[]).includes(value)) return value as StartRole;
  throw new LetterpressError('E_USAGE', `--role ${JSON.stringify(value)}: use one of ${START_ROLES.join(', ')}`);
}
