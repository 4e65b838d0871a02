import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeForwardPassMetrics } from '../../src/runtime/forwardPassMetrics.ts';
import { loadStatistics } from '../../src/aggregator/statistics.ts';
import { parseStatsReply } from '../../src/aggregator/statsReply.ts';
import { HitRateTracker, decodeHitRateEvent } from '../../src/aggregator/HitRateTracker.ts';
import { parseJson, stringifyJson } from '../../src/runtime/json.ts';

const v1 = { request_active_slots: 3, request_total_slots: 100, kv_active_blocks: 40, kv_total_blocks: 100 };
const v2 = { ...v1, num_requests_waiting: 2, gpu_cache_usage_perc: 0.4, gpu_prefix_cache_hit_rate: 0.25 };
const v3 = { ...v2, data_parallel_rank: null };
const v4 = {
  worker_stats: { data_parallel_rank: 1, request_active_slots: 3, request_total_slots: 100, num_requests_waiting: 2 },
  kv_stats: { kv_active_blocks: 40, kv_total_blocks: 100, gpu_cache_usage_perc: 0.4, gpu_prefix_cache_hit_rate: 0.25 },
  spec_decode_stats: null,
};

test('every ForwardPassMetrics form decodes to the same numbers', () => {
  const expectFull = {
    requestActiveSlots: 3,
    requestTotalSlots: 100,
    kvActiveBlocks: 40,
    kvTotalBlocks: 100,
    numRequestsWaiting: 2,
    gpuCacheUsagePerc: 0.4,
    gpuPrefixCacheHitRate: 0.25,
  };
  assert.deepEqual(decodeForwardPassMetrics(v1), {
    ok: true,
    value: { requestActiveSlots: 3, requestTotalSlots: 100, kvActiveBlocks: 40, kvTotalBlocks: 100 },
  });
  assert.deepEqual(decodeForwardPassMetrics(v2), { ok: true, value: expectFull });
  assert.deepEqual(decodeForwardPassMetrics(v3), { ok: true, value: { ...expectFull, dataParallelRank: null } });
  assert.deepEqual(decodeForwardPassMetrics({ ...v2, data_parallel_rank: 3 }), { ok: true, value: { ...expectFull, dataParallelRank: 3 } });
  assert.deepEqual(decodeForwardPassMetrics(v4), { ok: true, value: { ...expectFull, dataParallelRank: 1 } });
  assert.deepEqual(decodeForwardPassMetrics({ engine_load_metrics: v4 }), { ok: true, value: { ...expectFull, dataParallelRank: 1 } });
  assert.deepEqual(decodeForwardPassMetrics({ engine_load_metrics: v3 }), { ok: true, value: { ...expectFull, dataParallelRank: null } });
  assert.deepEqual(decodeForwardPassMetrics({ predictive_load_metrics: { kv_active_blocks: 12 } }), {
    ok: true,
    value: { kvActiveBlocks: 12 },
  });
});

test('bad ForwardPassMetrics are rejected with a reason, never thrown', () => {
  const cases: [unknown, string][] = [
    [null, 'missing_field'],
    ['x', 'not_an_object'],
    [[1], 'not_an_object'],
    [{}, 'unknown_form'],
    [{ ...v1, kv_active_blocks: -1 }, 'negative'],
    [{ ...v1, kv_active_blocks: '40' }, 'wrong_type'],
    [{ ...v1, kv_active_blocks: 1.5 }, 'not_integer'],
    [{ ...v1, kv_active_blocks: 1e308 }, 'out_of_range'],
    [{ ...v1, kv_active_blocks: 123456789012345678901n }, 'out_of_range'],
    [{ ...v1, kv_active_blocks: 2 ** 53 - 1, kv_total_blocks: 2 ** 53 - 1 }, 'out_of_range'], // made llm_load_avg 1.8e15
    [{ ...v1, kv_active_blocks: 2 ** 40 + 1, kv_total_blocks: 2 ** 41 }, 'out_of_range'],
    [{ ...v1, kv_active_blocks: 101, kv_total_blocks: 100 }, 'inconsistent'],
    [{ ...v1, request_active_slots: 11, request_total_slots: 10 }, 'inconsistent'],
    [{ ...v4, kv_stats: { ...v4.kv_stats, kv_active_blocks: 10_000, kv_total_blocks: 9_999 } }, 'inconsistent'],
    [{ ...v1, kv_total_blocks: undefined }, 'wrong_type'],
    [{ request_active_slots: 1 }, 'missing_field'],
    [{ ...v2, gpu_cache_usage_perc: 1.5 }, 'out_of_range'],
    [{ ...v2, gpu_cache_usage_perc: Number.NaN }, 'not_finite'],
    [{ ...v2, gpu_prefix_cache_hit_rate: Infinity }, 'not_finite'],
    [{ ...v1, num_requests_waiting: 1 }, 'missing_field'],
    [{ ...v3, data_parallel_rank: 'zero' }, 'wrong_type'],
    [{ worker_stats: 1, kv_stats: {} }, 'wrong_type'],
    [{ ...v4, kv_stats: { ...v4.kv_stats, kv_active_blocks: -3 } }, 'negative'],
    [{ engine_load_metrics: 'x' }, 'wrong_type'],
    [{ predictive_load_metrics: { kv_active_blocks: -1 } }, 'negative'],
  ];
  for (const [data, reason] of cases) {
    const r = decodeForwardPassMetrics(data);
    assert.equal(
      r.ok,
      false,
      JSON.stringify(data, (_k, v) => (typeof v === 'bigint' ? String(v) : v)),
    );
    assert.equal(
      !r.ok && r.reason,
      reason,
      JSON.stringify(data, (_k, v) => (typeof v === 'bigint' ? String(v) : v)),
    );
  }
});

test('load statistics: mean and population deviation; none for no workers (never NaN)', () => {
  assert.deepEqual(loadStatistics([77, 29]), { avg: 53, std: 24 });
  assert.deepEqual(loadStatistics([40]), { avg: 40, std: 0 });
  assert.equal(loadStatistics([]), undefined);
});

function reply(endpoints: unknown[]): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ type: 'io.nats.micro.v1.stats_response', name: 'dynamo_backend', endpoints }));
}

test('stats replies: every endpoint keeps its own data; bad ones are dropped without shifting the others', () => {
  const ep = (hex: string, data: unknown, name = 'generate'): unknown => ({
    name: `dynamo_backend-${name}-${hex}`,
    subject: `dynamo_backend.${name}-${hex}`,
    data,
  });
  const r = parseStatsReply(
    reply([
      ep('a', { ...v1, kv_active_blocks: 10 }),
      ep('b', { ...v1, kv_active_blocks: -5 }),
      ep('c', 'garbage'),
      ep('d', { ...v1, kv_active_blocks: 30 }),
      ep('e', v1, 'other'),
      ep('f', v1, 'generate-x'),
      { subject: 'dynamo_backend.generate-XYZ', data: v1 },
      { subject: 'dynamo_backend.generate-12345678901234567', data: v1 },
      { subject: 42 },
      ep('694d951a80e06bb6', { engine_load_metrics: v4 }),
    ]),
    'dynamo_backend',
    'generate',
  );
  assert.deepEqual(
    r.workers.map((w) => [w.workerId, w.metrics.kvActiveBlocks]),
    [
      [0xan, 10],
      [0xdn, 30],
      [7587884888253033398n, 40],
    ],
  );
  assert.deepEqual(r.rejected, ['data_negative', 'data_not_an_object', 'bad_worker_id', 'bad_worker_id', 'bad_endpoint']);
  assert.deepEqual(parseStatsReply(new TextEncoder().encode('{"endpoints": nope'), 's', 'e').rejected, ['bad_json']);
  assert.deepEqual(parseStatsReply(new TextEncoder().encode('{"endpoints": {}}'), 's', 'e').rejected, ['bad_shape']);
  assert.deepEqual(parseStatsReply(new TextEncoder().encode('[]'), 's', 'e').rejected, ['bad_shape']);
});

test('stats replies are read natively, and exactly again only when a kept data holds an integer beyond 2^53', () => {
  // seeded random replies: integers around 2^53 and 2^63 in our data, in other endpoints' data and
  // outside data; every worker's data must equal the exact parse of what was sent
  let seed = 7;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const numbers = [
    0,
    1,
    -1,
    0.5,
    1e300,
    2 ** 53 - 1,
    2 ** 53,
    9007199254740993n,
    -9007199254740993n,
    7587884888253033398n,
    (1n << 64n) - 1n,
    // biome-ignore lint/correctness/noPrecisionLoss: a fraction with more digits than a double keeps, on purpose
    0.12345678901234567,
  ];
  const value = (depth: number): unknown => {
    const k = rnd(depth > 3 ? 3 : 6);
    if (k === 0) return numbers[rnd(numbers.length)];
    if (k === 1) return rnd(2) === 0 ? null : `s${rnd(100)}`;
    if (k === 2) return rnd(2) === 0;
    if (k === 3) return Array.from({ length: rnd(3) }, () => value(depth + 1));
    return Object.fromEntries(Array.from({ length: rnd(4) }, (_, i) => [`k${i}`, value(depth + 1)]));
  };
  let exactOnes = 0;
  for (let n = 0; n < 300; n++) {
    const sent: Record<string, unknown> = {};
    const endpoints = Array.from({ length: 1 + rnd(3) }, (_, i) => {
      const hex = (0x694d951a80e06bb6n + BigInt(n * 10 + i)).toString(16);
      const data = { ...v1, extra: value(0) };
      const ours = rnd(3) > 0;
      if (ours) sent[hex] = data;
      return {
        name: 'e',
        subject: ours ? `dynamo_backend.generate-${hex}` : `dynamo_backend.other-${hex}`,
        num_requests: numbers[rnd(numbers.length)],
        data,
      };
    });
    const body = new TextEncoder().encode(stringifyJson({ id: `svc${n}`, processing_time: numbers[rnd(numbers.length)], endpoints }));
    const r = parseStatsReply(body, 'dynamo_backend', 'generate');
    assert.deepEqual(r.rejected, []);
    assert.deepEqual(
      r.workers.map((w) => w.workerId.toString(16)),
      Object.keys(sent),
    );
    for (const w of r.workers) {
      const expected = parseJson(stringifyJson(sent[w.workerId.toString(16)]));
      assert.deepEqual(w.data, expected);
      if (JSON.stringify(expected, (_k, x: unknown) => (typeof x === 'bigint' ? 'BIG' : x)).includes('"BIG"')) exactOnes++;
      assert.equal(w.serviceId, `svc${n}`);
    }
  }
  assert.ok(exactOnes > 20, `enough replies took the exact path (${exactOnes})`);
  // nested beyond any reply Dynamo writes (and the exact parser's depth), with a long integer:
  // refused before parsing, never thrown
  const deep = `${'['.repeat(70)}9007199254740993${']'.repeat(70)}`;
  const body = new TextEncoder().encode(`{"endpoints":[{"subject":"dynamo_backend.generate-a","data":${deep}}]}`);
  assert.deepEqual(parseStatsReply(body, 'dynamo_backend', 'generate').rejected, ['too_deep']);
});

test('hit-rate events: validation reasons, and the canonical fast path agrees with the parser', () => {
  const cases: [string, string][] = [
    ['not json', 'bad_json'],
    ['[1]', 'not_an_object'],
    ['{"worker_id": 1, "isl_blocks": 2}', 'missing_field'],
    ['{"worker_id": "1", "isl_blocks": 2, "overlap_blocks": 1}', 'wrong_type'],
    ['{"worker_id": 1.5, "isl_blocks": 2, "overlap_blocks": 1}', 'bad_worker_id'],
    ['{"worker_id": -1, "isl_blocks": 2, "overlap_blocks": 1}', 'bad_worker_id'],
    ['{"worker_id": 9223372036854775808, "isl_blocks": 2, "overlap_blocks": 1}', 'bad_worker_id'],
    ['{"worker_id": 99999999999999999999, "isl_blocks": 2, "overlap_blocks": 1}', 'bad_worker_id'],
    ['{"worker_id": 1, "isl_blocks": -2, "overlap_blocks": 1}', 'negative'],
    ['{"worker_id": 1, "isl_blocks": 2.5, "overlap_blocks": 1}', 'not_integer'],
    ['{"worker_id": 1, "isl_blocks": 2, "overlap_blocks": 3}', 'overlap_exceeds_isl'],
    ['{"worker_id": 1, "isl_blocks": 1e400, "overlap_blocks": 1}', 'not_finite'],
    ['{"worker_id": 1, "isl_blocks": 123456789012345678901, "overlap_blocks": 1}', 'out_of_range'],
    ['{"worker_id": 1, "isl_blocks": null, "overlap_blocks": 1}', 'wrong_type'],
  ];
  for (const [body, reason] of cases) assert.equal(decodeHitRateEvent(body), reason, body);
  const ok = decodeHitRateEvent('{"worker_id": 7587884888253033398, "isl_blocks": 32, "overlap_blocks": 20}');
  assert.deepEqual(ok, { workerId: 7587884888253033398n, islBlocks: 32, overlapBlocks: 20 });
  assert.deepEqual(decodeHitRateEvent('{"overlap_blocks":0,"isl_blocks":0,"worker_id":5}'), {
    workerId: 5n,
    islBlocks: 0,
    overlapBlocks: 0,
  });
  // fast path (canonical order) and generic parser agree on random bodies
  let seed = 42;
  const rnd = (): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  for (let i = 0; i < 2000; i++) {
    const id = BigInt(Math.floor(rnd() * 2 ** 31)) * BigInt(Math.floor(rnd() * 2 ** 33));
    const isl = Math.floor(rnd() * 200);
    const overlap = Math.floor(rnd() * 220);
    const canonical = `{"worker_id":${id},"isl_blocks":${isl},"overlap_blocks":${overlap}}`;
    const shuffled = `{"isl_blocks":${isl},"worker_id":${id},"overlap_blocks":${overlap}}`;
    assert.deepEqual(decodeHitRateEvent(canonical), decodeHitRateEvent(shuffled), canonical);
    const generic = parseJson(shuffled) as Record<string, unknown>;
    const fast = decodeHitRateEvent(canonical);
    if (typeof fast !== 'string') assert.equal(fast.workerId, BigInt(generic.worker_id as number | bigint));
  }
});

test('hit-rate tracking: sums per worker, percent only once isl > 0, cap drops the least recently active', () => {
  const t = new HitRateTracker(3);
  const ev = (id: number, isl: number, overlap: number): string =>
    `{"worker_id": ${id}, "isl_blocks": ${isl}, "overlap_blocks": ${overlap}}`;
  t.ingest(ev(1, 0, 0));
  assert.equal(HitRateTracker.percent(t.get(1n)!), undefined);
  t.ingest(ev(1, 32, 20));
  t.ingest(ev(1, 8, 0));
  assert.deepEqual(t.get(1n), { islBlocks: 40, overlapBlocks: 20 });
  assert.equal(HitRateTracker.percent(t.get(1n)!), 50);
  t.ingest(ev(2, 1, 1));
  t.ingest(ev(3, 1, 1));
  t.ingest(ev(1, 1, 1)); // 1 is now the most recent
  t.ingest(ev(4, 1, 1)); // drops 2, the least recently active
  assert.equal(t.size, 3);
  assert.equal(t.get(2n), undefined);
  assert.ok(t.get(1n));
  assert.equal(t.dropped, 1);
  t.ingest('garbage');
  t.ingest(ev(5, 1, 2));
  assert.deepEqual(Object.fromEntries(t.rejections()), { bad_json: 1, overlap_exceeds_isl: 1 });
  assert.equal(t.accepted, 7);
});

test('a worker that answered alone is pinned to its service instance: later answers from another instance are conflicts', async () => {
  const { CycleCollector } = await import('../../src/aggregator/CycleCollector.ts');
  const id = 7587884888253033398n;
  const subject = `dynamo_backend.generate-${id.toString(16)}`;
  const reply = (serviceId: string, kv: number) => ({
    workers: [{ workerId: id, subject, data: null, metrics: { kvActiveBlocks: kv }, serviceId }],
    rejected: [],
  });
  const owners = new Map<bigint, string>();
  const registered = new Map([[id, subject]]);
  const first = new CycleCollector(registered, owners);
  first.add(reply('real', 5));
  first.commitOwners();
  assert.equal(owners.get(id), 'real');
  const later = new CycleCollector(registered, owners);
  assert.deepEqual(later.add(reply('forger', 666)), ['conflict'], 'the forger first in the cycle');
  later.add(reply('real', 6));
  assert.equal(later.workers.get(id)?.metrics.kvActiveBlocks, 6, 'the owner is believed whatever the order');
  const both = new CycleCollector(registered, new Map());
  both.add(reply('a', 1));
  both.add(reply('b', 2));
  both.commitOwners();
  assert.equal(both.workers.size, 0, 'with no owner yet, two answers are a conflict');
});
