import { setTimeout as delay } from 'node:timers/promises';

/**
 * Waits `ms`; when `signal` aborts, the wait ends at once and resolves (callers check their
 * signal). Injected wherever code waits, so tests advance a fake clock instead of sleeping.
 */
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

/** The real wait: a timer that an abort cancels, so a stopped wait never keeps the process alive. */
export const abortableSleep: Sleep = async (ms, signal) => {
  try {
    await delay(ms, undefined, { signal });
  } catch {
    // Aborted: the caller checks its signal.
  }
};
