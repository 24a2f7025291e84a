/** The one source of "now", injected so scheduling and dating can be tested with a fake. */
export interface Clock {
  now(): Date;
}

/** The wall clock. */
export const systemClock: Clock = { now: () => new Date() };
