/**
 * Decoding a stats handler's `data` in every ForwardPassMetrics form Dynamo has used (docs/wire-protocol.md §6):
 * v1, v2, v3 (flat), v4 (nested `worker_stats`/`kv_stats`), and the wrapped
 * `engine_load_metrics` / `predictive_load_metrics` forms. Pure.
 */
import { DynamoError } from '../errors.ts';

/** ForwardPassMetrics normalised: absent fields are those the form does not carry. */
export interface ForwardPassMetrics {
  requestActiveSlots?: number;
  requestTotalSlots?: number;
  kvActiveBlocks: number;
  kvTotalBlocks?: number;
  numRequestsWaiting?: number;
  /** Fraction 0..1. */
  gpuCacheUsagePerc?: number;
  /** Fraction 0..1. */
  gpuPrefixCacheHitRate?: number;
  dataParallelRank?: number | null;
}

export type FpmRejectReason =
  | 'not_an_object'
  | 'missing_field'
  | 'wrong_type'
  | 'not_integer'
  | 'inconsistent'
  | 'negative'
  | 'not_finite'
  | 'out_of_range'
  | 'unknown_form';

export type FpmResult = { ok: true; value: ForwardPassMetrics } | { ok: false; reason: FpmRejectReason; detail: string };

class Reject extends DynamoError {
  constructor(
    readonly reason: FpmRejectReason,
    detail: string,
  ) {
    super(detail);
  }
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The largest count believed (2^40, about 10^12): no GPU holds more KV blocks or request slots,
 * and a bigger number (2^53−1 made llm_load_avg 1.8e15) is a broken or hostile worker.
 */
export const MAX_COUNT = 2 ** 40;

function count(o: Obj, key: string): number {
  if (!(key in o)) throw new Reject('missing_field', `${key} is missing`);
  const v = o[key];
  if (typeof v === 'bigint') throw new Reject('out_of_range', `${key} is too large`);
  if (typeof v !== 'number') throw new Reject('wrong_type', `${key} is not a number`);
  if (!Number.isFinite(v)) throw new Reject('not_finite', `${key} is not finite`);
  if (v < 0) throw new Reject('negative', `${key} is negative`);
  if (!Number.isInteger(v)) throw new Reject('not_integer', `${key} is not an integer`);
  if (v > MAX_COUNT) throw new Reject('out_of_range', `${key} is above ${MAX_COUNT}`);
  return v;
}

function fraction(o: Obj, key: string): number {
  if (!(key in o)) throw new Reject('missing_field', `${key} is missing`);
  const v = o[key];
  if (typeof v !== 'number') throw new Reject('wrong_type', `${key} is not a number`);
  if (!Number.isFinite(v)) throw new Reject('not_finite', `${key} is not finite`);
  if (v < 0) throw new Reject('negative', `${key} is negative`);
  if (v > 1) throw new Reject('out_of_range', `${key} is above 1`);
  return v;
}

function rank(o: Obj): number | null | undefined {
  if (!('data_parallel_rank' in o)) return undefined;
  const v = o.data_parallel_rank;
  if (v === null) return null;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
    throw new Reject('wrong_type', 'data_parallel_rank is not a non-negative integer or null');
  return v;
}

function flat(o: Obj): ForwardPassMetrics {
  const m: ForwardPassMetrics = {
    requestActiveSlots: count(o, 'request_active_slots'),
    requestTotalSlots: count(o, 'request_total_slots'),
    kvActiveBlocks: count(o, 'kv_active_blocks'),
    kvTotalBlocks: count(o, 'kv_total_blocks'),
  };
  // v2 fields come together; a v1 body has none of them.
  if ('num_requests_waiting' in o || 'gpu_cache_usage_perc' in o || 'gpu_prefix_cache_hit_rate' in o) {
    m.numRequestsWaiting = count(o, 'num_requests_waiting');
    m.gpuCacheUsagePerc = fraction(o, 'gpu_cache_usage_perc');
    m.gpuPrefixCacheHitRate = fraction(o, 'gpu_prefix_cache_hit_rate');
  }
  const r = rank(o);
  if (r !== undefined) m.dataParallelRank = r;
  return m;
}

function nested(o: Obj): ForwardPassMetrics {
  const w = o.worker_stats;
  const k = o.kv_stats;
  if (!isObj(w) || !isObj(k)) throw new Reject('wrong_type', 'worker_stats and kv_stats must be objects');
  const m: ForwardPassMetrics = {
    requestActiveSlots: count(w, 'request_active_slots'),
    requestTotalSlots: count(w, 'request_total_slots'),
    numRequestsWaiting: count(w, 'num_requests_waiting'),
    kvActiveBlocks: count(k, 'kv_active_blocks'),
    kvTotalBlocks: count(k, 'kv_total_blocks'),
    gpuCacheUsagePerc: fraction(k, 'gpu_cache_usage_perc'),
    gpuPrefixCacheHitRate: fraction(k, 'gpu_prefix_cache_hit_rate'),
  };
  const r = rank(w);
  if (r !== undefined) m.dataParallelRank = r;
  if ('spec_decode_stats' in o && o.spec_decode_stats !== null && !isObj(o.spec_decode_stats)) {
    throw new Reject('wrong_type', 'spec_decode_stats must be an object or null');
  }
  return m;
}

/** Active above total cannot happen on a real worker. */
function consistent(m: ForwardPassMetrics): ForwardPassMetrics {
  if (m.kvTotalBlocks !== undefined && m.kvActiveBlocks > m.kvTotalBlocks)
    throw new Reject('inconsistent', 'kv_active_blocks is above kv_total_blocks');
  if (m.requestActiveSlots !== undefined && m.requestTotalSlots !== undefined && m.requestActiveSlots > m.requestTotalSlots) {
    throw new Reject('inconsistent', 'request_active_slots is above request_total_slots');
  }
  return m;
}

/** Decodes one endpoint's `data`; never throws. */
export function decodeForwardPassMetrics(data: unknown): FpmResult {
  try {
    if (!isObj(data))
      return {
        ok: false,
        reason: data === null || data === undefined ? 'missing_field' : 'not_an_object',
        detail: 'data is not an object',
      };
    if ('engine_load_metrics' in data) {
      const inner = data.engine_load_metrics;
      if (!isObj(inner)) throw new Reject('wrong_type', 'engine_load_metrics is not an object');
      return { ok: true, value: 'worker_stats' in inner ? nested(inner) : flat(inner) };
    }
    if ('predictive_load_metrics' in data) {
      const inner = data.predictive_load_metrics;
      if (!isObj(inner)) throw new Reject('wrong_type', 'predictive_load_metrics is not an object');
      return { ok: true, value: { kvActiveBlocks: count(inner, 'kv_active_blocks') } };
    }
    if ('worker_stats' in data || 'kv_stats' in data) return { ok: true, value: consistent(nested(data)) };
    if ('kv_active_blocks' in data || 'request_active_slots' in data) return { ok: true, value: consistent(flat(data)) };
    return { ok: false, reason: 'unknown_form', detail: 'not a ForwardPassMetrics form' };
  } catch (err) {
    if (err instanceof Reject) return { ok: false, reason: err.reason, detail: err.message };
    return { ok: false, reason: 'wrong_type', detail: String(err) };
  }
}
