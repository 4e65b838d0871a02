/**
 * KV hit-rate events between the NATS socket and their decoding. The subscription callback only
 * queues the raw body; the queue is drained in batches of `EVENTS_PER_TURN`, one batch per turn
 * of the event loop, so a flood of events (hundreds of thousands a second) never holds the loop
 * for long: scatter replies, scrapes and timers run between batches. The queue is bounded; an
 * event beyond the bound is refused (the caller counts it as `overloaded`) rather than growing
 * memory without limit.
 */

/** Events decoded per turn of the event loop. */
export const EVENTS_PER_TURN = 1_000;
/** Events waiting to be decoded at most (a few seconds of a flood; about 100 bytes each). */
export const DEFAULT_MAX_QUEUED_EVENTS = 1_000_000;
/** Consumed slots are compacted away once there are this many. */
const COMPACT_AFTER = 16_384;

export class EventQueue<T> {
  private items: T[] = [];
  private head = 0;
  private scheduled = false;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly consume: (item: T) => void,
    private readonly maxQueued = DEFAULT_MAX_QUEUED_EVENTS,
    private readonly perTurn = EVENTS_PER_TURN,
  ) {}

  /** Queues `item`; false when the queue is full (the item is not kept). */
  push(item: T): boolean {
    if (this.items.length - this.head >= this.maxQueued) return false;
    this.items.push(item);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.drain);
    }
    return true;
  }

  /** Items waiting. */
  get pending(): number {
    return this.items.length - this.head;
  }

  /** Resolves once nothing is waiting. */
  idle(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private readonly drain = (): void => {
    this.scheduled = false;
    const items = this.items;
    const end = Math.min(items.length, this.head + this.perTurn);
    for (let i = this.head; i < end; i++) {
      // biome-ignore lint/style/noNonNullAssertion: head <= i < end <= items.length
      const item = items[i]!;
      (items as (T | undefined)[])[i] = undefined; // let the body go now
      this.head = i + 1;
      this.consume(item);
    }
    if (this.head === items.length) {
      this.items = [];
      this.head = 0;
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    } else {
      if (this.head >= COMPACT_AFTER) {
        this.items = items.slice(this.head);
        this.head = 0;
      }
      this.scheduled = true;
      setImmediate(this.drain);
    }
  };
}
