/**
 * Timers written once: a promise raced against a deadline whose timer is always cleared, and a
 * pause. Every module that bounds a wait uses these instead of its own `Promise.race`.
 */
import { TimeoutError } from './errors.ts';

/** Node's timers hold at most 2^31−1 ms; a longer delay fires at once. */
export const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

const LATE: unique symbol = Symbol('late');

/** `p`'s value if it settles within `ms`, `onTimeout` otherwise; `p`'s rejection passes through. */
export async function settleWithin<T, F>(p: Promise<T>, ms: number, onTimeout: F): Promise<T | F> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<F>((resolve) => {
        timer = setTimeout(() => resolve(onTimeout), Math.min(ms, MAX_TIMER_DELAY_MS));
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Rejects with `onTimeout()` (a `TimeoutError` by default) if `p` does not settle within `ms`. */
export async function withTimeout<T>(
  p: Promise<T>,
  ms: number,
  onTimeout: () => Error = () => new TimeoutError(`timed out after ${ms} ms`),
): Promise<T> {
  const r = await settleWithin<T, typeof LATE>(p, ms, LATE);
  if (r === LATE) throw onTimeout();
  return r;
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.min(ms, MAX_TIMER_DELAY_MS)));
}
