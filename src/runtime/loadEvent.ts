/**
 * Decoding one load event from a worker's `kv_metrics` topic (docs/wire-protocol.md §8), in both
 * generations Dynamo has published as JSON on NATS:
 *
 * - `LoadEvent` (late 2025): `{"worker_id": N, "data": ForwardPassMetrics}`, `data` in any form
 *   the stats path reads (forwardPassMetrics.ts), its rank from `data_parallel_rank`;
 * - `ActiveLoad` (2026, the kv-router crate's protocols): `{"worker_id": N, "dp_rank": R,
 *   "active_decode_blocks": …, "active_prefill_tokens": …, "kv_used_blocks": …,
 *   "num_waiting_reqs": …}`, every load field optional (null or absent).
 *
 * Worker ids are read exactly (64-bit). A MessagePack envelope (the newer event plane's codec) is
 * recognised and refused as such. Checked for size and depth before it is parsed. Pure.
 */
import { MAX_COUNT, decodeForwardPassMetrics, type FpmRejectReason, type ForwardPassMetrics } from './forwardPassMetrics.ts';
import { parseJson } from './json.ts';
import { MAX_STATS_DEPTH, nestsDeeperThan } from './inputBounds.ts';

/** The largest load event read (a LoadEvent with its ForwardPassMetrics is under 1 KB). */
export const MAX_LOAD_EVENT_BYTES = 16_384;
/** Data-parallel ranks above this are refused (engines run a few dozen at most). */
export const MAX_DP_RANK = 65_535;
/** Worker ids are 63-bit (etcd lease ids); a u64 that does not fit is refused. */
const MAX_WORKER_ID = (1n << 64n) - 1n;

export type LoadEventRejectReason =
  | 'too_large'
  | 'too_deep'
  | 'msgpack'
  | 'bad_json'
  | 'not_an_object'
  | 'bad_worker_id'
  | 'bad_dp_rank'
  | 'bad_field'
  | 'unknown_form'
  | `data_${FpmRejectReason}`
  /** Its worker is not registered in etcd for the target. */
  | 'unregistered_worker'
  /** etcd cannot be consulted and the worker was not registered before. */
  | 'unverified_worker'
  /** The book of latest readings is full (more workers than --max-tracked-workers). */
  | 'overloaded';

export type LoadGeneration = 'load_event' | 'active_load';

/** One worker's (or one of its data-parallel ranks') load, as far as the event tells it. */
export interface LoadReading {
  workerId: bigint;
  /** The data-parallel rank, when the event names one. */
  dpRank: number | undefined;
  /** What the event carries; `kvActiveBlocks` absent when it does not say. */
  metrics: Partial<ForwardPassMetrics>;
  /** `data` of a LoadEvent as received (what the aggregate republishes for an events-only worker). */
  data: unknown;
  generation: LoadGeneration;
  /** An ActiveLoad's `active_decode_blocks`, when it says (what a router weighs). */
  decodeBlocks?: number;
  /** An ActiveLoad's `active_prefill_tokens`, when it says. */
  prefillTokens?: number;
}

/** The ActiveLoad fields; at least `worker_id` and one of these make an ActiveLoad. */
const ACTIVE_LOAD_FIELDS = ['active_decode_blocks', 'active_prefill_tokens', 'kv_used_blocks', 'num_waiting_reqs'] as const;

function isMsgpackMap(first: number | undefined): boolean {
  return first !== undefined && ((first >= 0x80 && first <= 0x8f) || first === 0xde || first === 0xdf);
}

function optionalCount(o: Record<string, unknown>, key: string): number | undefined | 'bad' {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v > MAX_COUNT) return 'bad';
  return v;
}

export function decodeLoadEvent(body: Uint8Array): LoadReading | LoadEventRejectReason {
  if (body.length > MAX_LOAD_EVENT_BYTES) return 'too_large';
  if (isMsgpackMap(body[0])) return 'msgpack';
  if (nestsDeeperThan(body, MAX_STATS_DEPTH)) return 'too_deep';
  let v: unknown;
  try {
    v = parseJson(body);
  } catch {
    return 'bad_json';
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'not_an_object';
  const o = v as Record<string, unknown>;
  const id = o.worker_id;
  if ((typeof id !== 'number' || !Number.isSafeInteger(id)) && typeof id !== 'bigint') return 'bad_worker_id';
  const workerId = BigInt(id);
  if (workerId < 0n || workerId > MAX_WORKER_ID) return 'bad_worker_id';

  if ('data' in o) {
    const fpm = decodeForwardPassMetrics(o.data);
    if (!fpm.ok) return `data_${fpm.reason}`;
    const r = fpm.value.dataParallelRank;
    return { workerId, dpRank: typeof r === 'number' ? r : undefined, metrics: fpm.value, data: o.data, generation: 'load_event' };
  }
  if (!ACTIVE_LOAD_FIELDS.some((f) => f in o)) return 'unknown_form';
  let dpRank: number | undefined;
  if ('dp_rank' in o && o.dp_rank !== null) {
    const r = o.dp_rank;
    if (typeof r !== 'number' || !Number.isSafeInteger(r) || r < 0 || r > MAX_DP_RANK) return 'bad_dp_rank';
    dpRank = r;
  }
  const decode = optionalCount(o, 'active_decode_blocks');
  const used = optionalCount(o, 'kv_used_blocks');
  const waiting = optionalCount(o, 'num_waiting_reqs');
  const prefill = optionalCount(o, 'active_prefill_tokens');
  if (decode === 'bad' || used === 'bad' || waiting === 'bad' || prefill === 'bad') return 'bad_field';
  const metrics: Partial<ForwardPassMetrics> = {};
  // the blocks in use on the worker; the scheduler's decode-block count where the worker does not say
  const active = used ?? decode;
  if (active !== undefined) metrics.kvActiveBlocks = active;
  if (waiting !== undefined) metrics.numRequestsWaiting = waiting;
  if (dpRank !== undefined) metrics.dataParallelRank = dpRank;
  return {
    workerId,
    dpRank,
    metrics,
    data: undefined,
    generation: 'active_load',
    ...(decode === undefined ? {} : { decodeBlocks: decode }),
    ...(prefill === undefined ? {} : { prefillTokens: prefill }),
  };
}
