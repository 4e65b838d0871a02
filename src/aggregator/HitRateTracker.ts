/**
 * KV hit-rate events (docs/wire-protocol.md §5, §7): validated, accumulated per worker, with a cap on tracked
 * workers (the least recently active dropped first, drops counted) so that events naming ever
 * new worker ids cannot grow memory or series without bound.
 */
import { parseJson } from '../runtime/json.ts';

export const DEFAULT_MAX_TRACKED_WORKERS = 10_000;
/** The most `--max-tracked-workers` accepts. */
export const MAX_TRACKED_WORKERS_LIMIT = 10_000_000;
const MAX_WORKER_ID = (1n << 63n) - 1n;

export type EventRejectReason =
  | 'bad_json'
  | 'not_an_object'
  | 'missing_field'
  | 'wrong_type'
  | 'negative'
  | 'not_finite'
  | 'not_integer'
  | 'out_of_range'
  | 'overlap_exceeds_isl'
  | 'bad_worker_id'
  | 'unregistered_worker'
  /** The aggregator's event queue was full (events arrive faster than it decodes them). */
  | 'overloaded';

export interface WorkerHitRate {
  islBlocks: number;
  overlapBlocks: number;
}

export type HitRateEvent = { workerId: bigint; islBlocks: number; overlapBlocks: number };

const textDecoder = new TextDecoder('utf-8', { fatal: true });
/** The canonical body (serde's field order, plain non-negative integers): decoded without a parser. */
const CANONICAL = /^\s*\{\s*"worker_id"\s*:\s*(0|[1-9]\d{0,18})\s*,\s*"isl_blocks"\s*:\s*(0|[1-9]\d{0,14})\s*,\s*"overlap_blocks"\s*:\s*(0|[1-9]\d{0,14})\s*\}\s*$/;

/** Validates one event body; a reason when it must be rejected. Pure. */
export function decodeHitRateEvent(body: Uint8Array | string): HitRateEvent | EventRejectReason {
  let text: string;
  try {
    text = typeof body === 'string' ? body : textDecoder.decode(body);
  } catch {
    return 'bad_json';
  }
  const m = CANONICAL.exec(text);
  if (m !== null) {
    const workerId = BigInt(m[1]!);
    const isl = Number(m[2]);
    const overlap = Number(m[3]);
    if (workerId > MAX_WORKER_ID) return 'bad_worker_id';
    if (overlap > isl) return 'overlap_exceeds_isl';
    return { workerId, islBlocks: isl, overlapBlocks: overlap };
  }
  let v: unknown;
  try {
    v = parseJson(text);
  } catch {
    return 'bad_json';
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'not_an_object';
  const o = v as Record<string, unknown>;
  if (!('worker_id' in o) || !('isl_blocks' in o) || !('overlap_blocks' in o)) return 'missing_field';
  const id = o.worker_id;
  let workerId: bigint;
  if (typeof id === 'bigint') workerId = id;
  else if (typeof id === 'number' && Number.isSafeInteger(id)) workerId = BigInt(id);
  else return typeof id === 'number' ? 'bad_worker_id' : 'wrong_type';
  if (workerId < 0n || workerId > MAX_WORKER_ID) return 'bad_worker_id';
  const nums: number[] = [];
  for (const key of ['isl_blocks', 'overlap_blocks'] as const) {
    const x = o[key];
    if (typeof x === 'bigint') return 'out_of_range';
    if (typeof x !== 'number') return 'wrong_type';
    if (!Number.isFinite(x)) return 'not_finite';
    if (x < 0) return 'negative';
    if (!Number.isInteger(x)) return 'not_integer';
    if (!Number.isSafeInteger(x)) return 'out_of_range';
    nums.push(x);
  }
  const [isl, overlap] = nums as [number, number];
  if (overlap > isl) return 'overlap_exceeds_isl';
  return { workerId, islBlocks: isl, overlapBlocks: overlap };
}

export class HitRateTracker {
  /** Insertion order is recency order: a worker's entry is moved to the end on each event. */
  private readonly workers = new Map<bigint, WorkerHitRate>();
  private readonly rejected = new Map<EventRejectReason, number>();
  accepted = 0;
  dropped = 0;

  constructor(readonly maxWorkers = DEFAULT_MAX_TRACKED_WORKERS) {}

  /** Validates and accumulates one event body; returns the rejection reason, if any. */
  /**
   * Decodes and counts one event. `isRegistered` (when given) says whether its worker id is a
   * registered worker: events for others are counted apart (`unregistered_worker`) and never
   * fill the tracked set, so a flood of made-up ids cannot evict real workers' totals.
   */
  ingest(body: Uint8Array | string, isRegistered?: (workerId: bigint) => boolean): EventRejectReason | undefined {
    const e = decodeHitRateEvent(body);
    const reason = typeof e === 'string' ? e : isRegistered !== undefined && !isRegistered(e.workerId) ? 'unregistered_worker' : undefined;
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
    let w = this.workers.get(e.workerId);
    if (w === undefined) {
      if (this.workers.size >= this.maxWorkers) {
        const oldest = this.workers.keys().next().value as bigint;
        this.workers.delete(oldest);
        this.dropped++;
      }
      w = { islBlocks: 0, overlapBlocks: 0 };
    } else {
      this.workers.delete(e.workerId);
    }
    w.islBlocks += e.islBlocks;
    w.overlapBlocks += e.overlapBlocks;
    this.workers.set(e.workerId, w);
  }

  get(workerId: bigint): WorkerHitRate | undefined {
    return this.workers.get(workerId);
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
