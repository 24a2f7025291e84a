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

/** What `letterpress start` runs (`--role`). */
export type StartRole = 'all' | 'web' | 'scheduler' | 'worker';
const START_ROLES: readonly StartRole[] = ['all', 'web', 'scheduler', 'worker'];

/** `--role` as given (default `all`); anything else is a usage error naming the choices. */
export function parseRole(value: string | undefined): StartRole {
  if (value === undefined) return 'all';
  if ((START_ROLES as readonly string[]).includes(value)) return value as StartRole;
  throw new LetterpressError('E_USAGE', `--role ${JSON.stringify(value)}: use one of ${START_ROLES.join(', ')}`);
}
