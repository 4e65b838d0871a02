/**
 * KV hit-rate events (docs/wire-protocol.md §5, §7): validated, accumulated per worker, with a cap on tracked
 * workers (the least recently active dropped first, drops counted) so that events naming ever
 * new worker ids cannot grow memory or series without bound.
 */
import { decodeHitRateEvent, type HitRateEvent, type EventRejectReason } from './hitRateEvent.ts';

export { decodeHitRateEvent, type EventRejectReason, type HitRateEvent } from './hitRateEvent.ts';

export const DEFAULT_MAX_TRACKED_WORKERS = 10_000;
/** The most `--max-tracked-workers` accepts. */
export const MAX_TRACKED_WORKERS_LIMIT = 10_000_000;

export interface WorkerHitRate {
  islBlocks: number;
  overlapBlocks: number;
}

/** A tracked worker: its totals and its place in the recency list. */
interface Entry extends WorkerHitRate {
  readonly id: bigint;
  prev: Entry | undefined;
  next: Entry | undefined;
}

export class HitRateTracker {
  /**
   * Worker id → totals, and a doubly linked list in recency order (head: least recently active),
   * so an event costs one map lookup and the cap drops the least recently active in O(1).
   */
  private readonly workers = new Map<bigint, Entry>();
  private head: Entry | undefined;
  private tail: Entry | undefined;
  private readonly rejected = new Map<EventRejectReason, number>();
  accepted = 0;
  dropped = 0;
  /** Σ isl_blocks and Σ overlap_blocks of every accepted event (the fleet's hit rate over time). */
  islTotal = 0;
  overlapTotal = 0;

  constructor(readonly maxWorkers = DEFAULT_MAX_TRACKED_WORKERS) {}

  /**
   * Decodes and counts one event; returns the rejection reason, if any. `isRegistered` (when
   * given) says whether its worker id is a registered worker: events for others are counted apart
   * (`notRegistered`: `unregistered_worker`, or `unverified_worker` while etcd cannot be consulted)
   * and never fill the tracked set, so a flood of made-up ids cannot evict real workers' totals.
   * `hold` may take such an event instead (its worker's registration may be in flight): `held`.
   */
  ingest(
    body: Uint8Array | string,
    isRegistered?: (workerId: bigint) => boolean,
    notRegistered: 'unregistered_worker' | 'unverified_worker' = 'unregistered_worker',
    hold?: (e: HitRateEvent) => boolean,
  ): EventRejectReason | 'held' | undefined {
    const e = decodeHitRateEvent(body);
    if (typeof e !== 'string' && isRegistered !== undefined && !isRegistered(e.workerId) && hold?.(e) === true) return 'held';
    const reason = typeof e === 'string' ? e : isRegistered !== undefined && !isRegistered(e.workerId) ? notRegistered : undefined;
    if (reason !== undefined) {
      this.rejected.set(reason, (this.rejected.get(reason) ?? 0) + 1);
      return reason;
    }
    this.add(e as HitRateEvent);
    return undefined;
  }

  /** Counts an event refused before decoding. */
  reject(reason: EventRejectReason): void {
    this.rejected.set(reason, (this.rejected.get(reason) ?? 0) + 1);
  }

  add(e: HitRateEvent): void {
    this.accepted++;
    this.islTotal += e.islBlocks;
    this.overlapTotal += e.overlapBlocks;
    let w = this.workers.get(e.workerId);
    if (w === undefined) {
      const oldest = this.head;
      if (this.workers.size >= this.maxWorkers && oldest !== undefined) {
        this.unlink(oldest);
        this.workers.delete(oldest.id);
        this.dropped++;
      }
      w = { id: e.workerId, islBlocks: 0, overlapBlocks: 0, prev: undefined, next: undefined };
      this.workers.set(e.workerId, w);
      this.append(w);
    } else if (w !== this.tail) {
      this.unlink(w);
      this.append(w);
    }
    w.islBlocks += e.islBlocks;
    w.overlapBlocks += e.overlapBlocks;
  }

  private unlink(w: Entry): void {
    if (w.prev === undefined) this.head = w.next;
    else w.prev.next = w.next;
    if (w.next === undefined) this.tail = w.prev;
    else w.next.prev = w.prev;
    w.prev = w.next = undefined;
  }

  private append(w: Entry): void {
    w.prev = this.tail;
    if (this.tail === undefined) this.head = w;
    else this.tail.next = w;
    this.tail = w;
  }

  /** A worker's totals (a copy), if tracked. */
  get(workerId: bigint): WorkerHitRate | undefined {
    const w = this.workers.get(workerId);
    return w === undefined ? undefined : { islBlocks: w.islBlocks, overlapBlocks: w.overlapBlocks };
  }

  get size(): number {
    return this.workers.size;
  }

  rejections(): ReadonlyMap<EventRejectReason, number> {
    return this.rejected;
  }

  /** Percent = 100 × Σoverlap / Σisl, only once Σisl > 0. */
  static percent(w: WorkerHitRate): number | undefined {
    return w.islBlocks > 0 ? (100 * w.overlapBlocks) / w.islBlocks : undefined;
  }
}
