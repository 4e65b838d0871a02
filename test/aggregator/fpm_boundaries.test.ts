/**
 * ForwardPassMetrics decoding at its edges (pure): every bound accepted exactly at the limit and
 * refused just past it, each refusal with its reason and its one-line detail, every form.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeForwardPassMetrics, MAX_COUNT } from '../../src/runtime/forwardPassMetrics.ts';

const V1 = { request_active_slots: 1, request_total_slots: 10, kv_active_blocks: 5, kv_total_blocks: 100 };
const V2 = { ...V1, num_requests_waiting: 2, gpu_cache_usage_perc: 0.5, gpu_prefix_cache_hit_rate: 0.25 };
const V4 = {
  worker_stats: { request_active_slots: 1, request_total_slots: 10, num_requests_waiting: 2 },
  kv_stats: { kv_active_blocks: 5, kv_total_blocks: 100, gpu_cache_usage_perc: 0.5, gpu_prefix_cache_hit_rate: 0.25 },
};
const ok = (data: unknown) => {
  const r = decodeForwardPassMetrics(data);
  assert.ok(r.ok, `accepted: ${JSON.stringify(data, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v))} (${r.ok ? '' : r.detail})`);
  return r.value;
};
const no = (data: unknown, reason: string, detail: string) =>
  assert.deepEqual(decodeForwardPassMetrics(data), { ok: false, reason, detail });

test('counts: 0 and MAX_COUNT accepted; negative, fractional, non-finite, too large, wrong type and missing refused, each said', () => {
  assert.equal(ok({ ...V1, kv_active_blocks: 0 }).kvActiveBlocks, 0);
  assert.equal(ok({ ...V1, kv_active_blocks: MAX_COUNT, kv_total_blocks: MAX_COUNT }).kvActiveBlocks, MAX_COUNT);
  no({ ...V1, kv_total_blocks: MAX_COUNT + 1 }, 'out_of_range', `kv_total_blocks is above ${MAX_COUNT}`);
  no({ ...V1, kv_active_blocks: -1 }, 'negative', 'kv_active_blocks is negative');
  no({ ...V1, kv_active_blocks: 1.5 }, 'not_integer', 'kv_active_blocks is not an integer');
  no({ ...V1, kv_active_blocks: Infinity }, 'not_finite', 'kv_active_blocks is not finite');
  no({ ...V1, kv_active_blocks: NaN }, 'not_finite', 'kv_active_blocks is not finite');
  no({ ...V1, kv_active_blocks: 2n ** 70n }, 'out_of_range', 'kv_active_blocks is too large');
  no({ ...V1, kv_active_blocks: '5' }, 'wrong_type', 'kv_active_blocks is not a number');
  const { request_total_slots: _, ...noTotal } = V1;
  no(noTotal, 'missing_field', 'request_total_slots is missing');
});

test('fractions: 0 and 1 accepted; below 0, above 1, non-finite, wrong type and missing refused', () => {
  assert.equal(ok({ ...V2, gpu_cache_usage_perc: 0 }).gpuCacheUsagePerc, 0);
  assert.equal(ok({ ...V2, gpu_cache_usage_perc: 1 }).gpuCacheUsagePerc, 1);
  no({ ...V2, gpu_cache_usage_perc: 1.0001 }, 'out_of_range', 'gpu_cache_usage_perc is above 1');
  no({ ...V2, gpu_prefix_cache_hit_rate: -0.1 }, 'negative', 'gpu_prefix_cache_hit_rate is negative');
  no({ ...V2, gpu_cache_usage_perc: Infinity }, 'not_finite', 'gpu_cache_usage_perc is not finite');
  no({ ...V2, gpu_cache_usage_perc: '0.5' }, 'wrong_type', 'gpu_cache_usage_perc is not a number');
  const { gpu_prefix_cache_hit_rate: _, ...noRate } = V2;
  no(noRate, 'missing_field', 'gpu_prefix_cache_hit_rate is missing');
});

test('v1 has none of the v2 fields; one v2 field asks for all three', () => {
  const v1 = ok(V1);
  assert.deepEqual(v1, { requestActiveSlots: 1, requestTotalSlots: 10, kvActiveBlocks: 5, kvTotalBlocks: 100 });
  assert.deepEqual(ok(V2), {
    requestActiveSlots: 1,
    requestTotalSlots: 10,
    kvActiveBlocks: 5,
    kvTotalBlocks: 100,
    numRequestsWaiting: 2,
    gpuCacheUsagePerc: 0.5,
    gpuPrefixCacheHitRate: 0.25,
  });
  no({ ...V1, num_requests_waiting: 2 }, 'missing_field', 'gpu_cache_usage_perc is missing');
  no({ ...V1, gpu_cache_usage_perc: 0.5 }, 'missing_field', 'num_requests_waiting is missing');
  no({ ...V1, gpu_prefix_cache_hit_rate: 0.5 }, 'missing_field', 'num_requests_waiting is missing');
});

test('consistency: active equal to total accepted, above refused', () => {
  assert.equal(ok({ ...V1, kv_active_blocks: 100 }).kvActiveBlocks, 100);
  assert.equal(ok({ ...V1, request_active_slots: 10 }).requestActiveSlots, 10);
  no({ ...V1, kv_active_blocks: 101 }, 'inconsistent', 'kv_active_blocks is above kv_total_blocks');
  no({ ...V1, request_active_slots: 11 }, 'inconsistent', 'request_active_slots is above request_total_slots');
  no(
    { worker_stats: { ...V4.worker_stats, request_active_slots: 11 }, kv_stats: V4.kv_stats },
    'inconsistent',
    'request_active_slots is above request_total_slots',
  );
});

test('data_parallel_rank: absent, null, 0 and n accepted; anything else refused', () => {
  assert.equal('dataParallelRank' in ok(V1), false);
  assert.equal(ok({ ...V1, data_parallel_rank: null }).dataParallelRank, null);
  assert.equal(ok({ ...V1, data_parallel_rank: 0 }).dataParallelRank, 0);
  assert.equal(ok({ ...V1, data_parallel_rank: 3 }).dataParallelRank, 3);
  for (const bad of [-1, 1.5, '1', 2 ** 60])
    no({ ...V1, data_parallel_rank: bad }, 'wrong_type', 'data_parallel_rank is not a non-negative integer or null');
  assert.equal(ok({ worker_stats: { ...V4.worker_stats, data_parallel_rank: 2 }, kv_stats: V4.kv_stats }).dataParallelRank, 2);
  assert.equal('dataParallelRank' in ok(V4), false);
});

test('v4 nested, the wrapped forms, and what is no form at all', () => {
  assert.deepEqual(ok(V4), {
    requestActiveSlots: 1,
    requestTotalSlots: 10,
    numRequestsWaiting: 2,
    kvActiveBlocks: 5,
    kvTotalBlocks: 100,
    gpuCacheUsagePerc: 0.5,
    gpuPrefixCacheHitRate: 0.25,
  });
  assert.deepEqual(ok({ ...V4, spec_decode_stats: null }), ok(V4));
  assert.deepEqual(ok({ ...V4, spec_decode_stats: { accepted: 1 } }), ok(V4));
  no({ ...V4, spec_decode_stats: 5 }, 'wrong_type', 'spec_decode_stats must be an object or null');
  no({ worker_stats: V4.worker_stats }, 'wrong_type', 'worker_stats and kv_stats must be objects');
  no({ kv_stats: V4.kv_stats }, 'wrong_type', 'worker_stats and kv_stats must be objects');
  no({ worker_stats: V4.worker_stats, kv_stats: [] }, 'wrong_type', 'worker_stats and kv_stats must be objects');
  assert.deepEqual(ok({ engine_load_metrics: V4 }), ok(V4));
  assert.deepEqual(ok({ engine_load_metrics: V2 }), ok(V2));
  no({ engine_load_metrics: 5 }, 'wrong_type', 'engine_load_metrics is not an object');
  no({ engine_load_metrics: null }, 'wrong_type', 'engine_load_metrics is not an object');
  assert.deepEqual(ok({ predictive_load_metrics: { kv_active_blocks: 7 } }), { kvActiveBlocks: 7 });
  no({ predictive_load_metrics: [] }, 'wrong_type', 'predictive_load_metrics is not an object');
  no({ predictive_load_metrics: {} }, 'missing_field', 'kv_active_blocks is missing');
  assert.deepEqual(
    ok({ request_active_slots: 1, request_total_slots: 2, kv_active_blocks: 1, kv_total_blocks: 2 }),
    ok({ kv_active_blocks: 1, request_active_slots: 1, request_total_slots: 2, kv_total_blocks: 2 }),
  );
  no({ request_active_slots: 1 }, 'missing_field', 'request_total_slots is missing');
  no({ foo: 1 }, 'unknown_form', 'not a ForwardPassMetrics form');
  no(null, 'missing_field', 'data is not an object');
  no(undefined, 'missing_field', 'data is not an object');
  no('x', 'not_an_object', 'data is not an object');
  no([V1], 'not_an_object', 'data is not an object');
});
