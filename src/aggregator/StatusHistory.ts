/**
 * The status page's recent history (docs/status-page.md): one point per scrape cycle, in a ring
 * of fixed size, so memory stays bounded however long the aggregator runs. Pure.
 */

/** Points kept: ten minutes at the default 1 s poll interval. */
export const DEFAULT_STATUS_HISTORY_POINTS = 600;

export interface HistoryPoint {
  /** Unix seconds of the cycle. */
  t: number;
  workers: number;
  load_avg: number | null;
  load_std: number | null;
  /** 100 × Σoverlap / Σisl of the events accepted since the previous point; null when none. */
  hit_rate_percent: number | null;
  /** Hit-rate events accepted since the previous point. */
  events: number;
}

export interface HistoryInput {
  t: number;
  workers: number;
  load: { avg: number; std: number } | undefined;
  /** Running totals of accepted events (HitRateTracker). */
  events: number;
  islTotal: number;
  overlapTotal: number;
}

export class StatusHistory {
  private readonly ring: (HistoryPoint | undefined)[];
  private next = 0;
  private count = 0;
  private last: HistoryInput | undefined;

  constructor(readonly capacity: number = DEFAULT_STATUS_HISTORY_POINTS) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`history capacity must be a whole number ≥ 1, not ${capacity}`);
    this.ring = new Array<HistoryPoint | undefined>(capacity);
  }

  /** Adds the point of one cycle; the oldest leaves when the ring is full. */
  record(input: HistoryInput): void {
    const prev = this.last;
    const isl = prev === undefined ? input.islTotal : input.islTotal - prev.islTotal;
    const overlap = prev === undefined ? input.overlapTotal : input.overlapTotal - prev.overlapTotal;
    this.ring[this.next] = {
      t: input.t,
      workers: input.workers,
      load_avg: input.load?.avg ?? null,
      load_std: input.load?.std ?? null,
      hit_rate_percent: isl > 0 ? (100 * overlap) / isl : null,
      events: prev === undefined ? input.events : input.events - prev.events,
    };
    this.last = input;
    this.next = (this.next + 1) % this.capacity;
    this.count = Math.min(this.count + 1, this.capacity);
  }

  /** Oldest first. */
  points(): HistoryPoint[] {
    const out: HistoryPoint[] = [];
    const start = (this.next - this.count + this.capacity) % this.capacity;
    // biome-ignore lint/style/noNonNullAssertion: an index modulo capacity of a ring of capacity slots, i < count of them written
    for (let i = 0; i < this.count; i++) out.push(this.ring[(start + i) % this.capacity]!);
    return out;
  }

  get size(): number {
    return this.count;
  }
}
