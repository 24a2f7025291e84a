import type { RateSlotStore } from '../store/types.ts';
import type { Clock } from '../util/clock.ts';
import type { Sleep } from '../util/sleep.ts';
import type { Transport } from './types.ts';

/** The store row every sender of one store shares for `delivery.globalRateLimit`. */
export const GLOBAL_RATE_LIMIT_NAME = 'relay';

/**
 * How late a message may leave after its slot. A sender that missed its slot by more (a busy
 * event loop, a slow store) gives the slot up and reserves a new one instead: sending late
 * would bunch its message with the next senders' slots. Over any window of W seconds at most
 * (W + grace) · rate + 1 slots can be used, which keeps a 10 s window within 1 % of the limit.
 */
export const SLOT_GRACE_MS = 100;

/** Slots one reservation takes: about a fifth of a second's worth, between 1 and 20. */
export function slotsPerReservation(ratePerSecond: number): number {
  return Math.max(1, Math.min(20, Math.round(ratePerSecond / 5)));
}

export interface GlobalRateLimiterDependencies {
  /** Resolved when first needed: the app opens its store lazily. */
  store: () => Promise<RateSlotStore>;
  clock: Clock;
  sleep: Sleep;
  /** Messages per second for every sender on the store together. */
  ratePerSecond: number;
  name?: string;
}

/** Hands out this process's send slots, reserving a few at a time from the store. */
export interface GlobalRateLimiter {
  /** Resolves at the instant this process may hand the next message to the relay. */
  take(): Promise<void>;
}

/**
 * The global rate limit (DESIGN.md §5: limits several processes share live in the store): the
 * store keeps one "next free slot" instant per limit; each sender reserves a few consecutive
 * slots `1000 / rate` ms apart in one compare-and-set update, then sends each message at its
 * slot. Reservations never overlap, so the slots of all senders together are never closer
 * than the interval, whatever the number of processes or machines (their clocks must agree,
 * as they must for leases). A reserved slot nobody used (the sender stopped or was late) is
 * simply lost: the limit errs on the slow side.
 */
export function createGlobalRateLimiter(deps: GlobalRateLimiterDependencies): GlobalRateLimiter {
  const intervalMs = 1000 / deps.ratePerSecond;
  const count = slotsPerReservation(deps.ratePerSecond);
  const name = deps.name ?? GLOBAL_RATE_LIMIT_NAME;
  const slots: number[] = [];
  let reserving: Promise<void> | undefined;

  const reserve = async () => {
    const store = await deps.store();
    const first = await store.reserveRateSlots({ name, count, intervalMs, now: deps.clock.now().toISOString() });
    for (let index = 0; index < count; index += 1) slots.push(first + index * intervalMs);
  };

  return {
    async take() {
      for (;;) {
        const now = deps.clock.now().getTime();
        while (slots.length > 0 && slots[0]! < now - SLOT_GRACE_MS) slots.shift();
        const slot = slots.shift();
        if (slot === undefined) {
          // One reservation at a time per process: concurrent callers share it.
          await (reserving ??= reserve().finally(() => {
            reserving = undefined;
          }));
          continue;
        }
        if (slot > now) await deps.sleep(slot - now);
        // Woken too late (a busy process): this slot is gone, take the next one.
        if (deps.clock.now().getTime() - slot > SLOT_GRACE_MS) continue;
        return;
      }
    },
  };
}

/** A transport whose every message waits for its slot of the global rate limit first. */
export function rateLimitedTransport(inner: Transport, limiter: GlobalRateLimiter): Transport {
  return {
    description: inner.description,
    concurrency: inner.concurrency,
    async send(message) {
      await limiter.take();
      return inner.send(message);
    },
    close: () => inner.close(),
  };
}
