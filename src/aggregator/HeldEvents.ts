/**
 * Events (hit-rate and load) of workers etcd does not list yet, held briefly: when every id changes at once
 * (new leases after an etcd outage), a worker publishes under its new id a moment before its
 * registration reaches the aggregator, and those events are its real traffic. An event whose
 * worker is listed within the hold is counted as if it had arrived then; one still unknown at the
 * end of it is refused (`unregistered_worker`). Bounded: a flood of made-up ids cannot grow it
 * beyond `maxHeld` events; beyond that, events are refused at once. Pure: the caller gives the
 * clock and says who is registered.
 */
import type { HitRateEvent } from './hitRateEvent.ts';

/** How long an event waits for its worker's registration. */
export const DEFAULT_EVENT_HOLD_MS = 3_000;
/** Events held at most (about 100 bytes each). */
export const DEFAULT_MAX_HELD_EVENTS = 10_000;

export class HeldEvents<T extends { workerId: bigint } = HitRateEvent> {
  private items: { event: T; at: number }[] = [];

  constructor(
    private readonly maxHeld = DEFAULT_MAX_HELD_EVENTS,
    private readonly holdMs = DEFAULT_EVENT_HOLD_MS,
  ) {}

  /** Holds `event`; false when full (the caller refuses it). */
  hold(event: T, now: number): boolean {
    if (this.items.length >= this.maxHeld) return false;
    this.items.push({ event, at: now });
    return true;
  }

  get size(): number {
    return this.items.length;
  }

  /**
   * Takes out, in arrival order, the events whose worker is now registered (`ready`) and counts
   * those held for longer than the hold (`expired`, dropped); the rest stay.
   */
  settle(isRegistered: (workerId: bigint) => boolean, now: number): { ready: T[]; expired: number } {
    const ready: T[] = [];
    let expired = 0;
    const kept: { event: T; at: number }[] = [];
    for (const item of this.items) {
      if (isRegistered(item.event.workerId)) ready.push(item.event);
      else if (now - item.at >= this.holdMs) expired++;
      else kept.push(item);
    }
    this.items = kept;
    return { ready, expired };
  }
}
