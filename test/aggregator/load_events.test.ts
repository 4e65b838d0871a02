/**
 * Load events (docs/wire-protocol.md §8): both generations decoded exactly, 64-bit ids and
 * ranks included, every bad form refused by reason; and the merge rule with the stats a cycle
 * collected: the newest reading wins field by field, events-only workers appear once they tell
 * their active blocks, stale ones leave, ranks become entries of their own.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeLoadEvent, MAX_LOAD_EVENT_BYTES, type LoadReading } from '../../src/runtime/loadEvent.ts';
import { LoadBook } from '../../src/aggregator/LoadBook.ts';
import type { WorkerStats } from '../../src/aggregator/statsReply.ts';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const BIG = 7587884888253033398n; // above 2^53: JSON.parse would round it

test('LoadEvent: {worker_id, data: ForwardPassMetrics} in every form, the id exact, the rank from data_parallel_rank', () => {
  const v4 = `{"worker_id":${BIG},"data":{"worker_stats":{"data_parallel_rank":1,"request_active_slots":2,"request_total_slots":8,"num_requests_waiting":3},"kv_stats":{"kv_active_blocks":40,"kv_total_blocks":100,"gpu_cache_usage_perc":0.4,"gpu_prefix_cache_hit_rate":0.25},"spec_decode_stats":null}}`;
  const r = decodeLoadEvent(enc(v4)) as LoadReading;
  assert.equal(r.workerId, BIG);
  assert.equal(r.dpRank, 1);
  assert.equal(r.generation, 'load_event');
  assert.deepEqual(r.metrics, {
    requestActiveSlots: 2,
    requestTotalSlots: 8,
    numRequestsWaiting: 3,
    kvActiveBlocks: 40,
    kvTotalBlocks: 100,
    gpuCacheUsagePerc: 0.4,
    gpuPrefixCacheHitRate: 0.25,
    dataParallelRank: 1,
  });
  const flat = decodeLoadEvent(
    enc('{"worker_id":12,"data":{"request_active_slots":1,"request_total_slots":4,"kv_active_blocks":9,"kv_total_blocks":50}}'),
  ) as LoadReading;
  assert.equal(flat.dpRank, undefined);
  assert.equal(flat.metrics.kvActiveBlocks, 9);
  assert.equal(
    decodeLoadEvent(
      enc('{"worker_id":12,"data":{"kv_active_blocks":60,"kv_total_blocks":50,"request_active_slots":1,"request_total_slots":4}}'),
    ),
    'data_inconsistent',
  );
  assert.equal(decodeLoadEvent(enc('{"worker_id":12,"data":7}')), 'data_not_an_object');
});

test('ActiveLoad: {worker_id, dp_rank, active_decode_blocks, kv_used_blocks, num_waiting_reqs, …}, each load field optional', () => {
  const r = decodeLoadEvent(
    enc(`{"worker_id":${BIG},"dp_rank":1,"active_decode_blocks":7,"active_prefill_tokens":null,"kv_used_blocks":30,"num_waiting_reqs":2}`),
  ) as LoadReading;
  assert.deepEqual({ id: r.workerId, rank: r.dpRank, gen: r.generation }, { id: BIG, rank: 1, gen: 'active_load' });
  assert.deepEqual(
    r.metrics,
    { kvActiveBlocks: 30, numRequestsWaiting: 2, dataParallelRank: 1 },
    'the blocks in use: kv_used_blocks first',
  );
  // the 2025 form: no kv_used_blocks, the decode blocks are the worker's
  const old = decodeLoadEvent(enc('{"worker_id":5,"dp_rank":0,"active_decode_blocks":11,"active_prefill_tokens":300}')) as LoadReading;
  assert.deepEqual(old.metrics, { kvActiveBlocks: 11, dataParallelRank: 0 });
  const waitingOnly = decodeLoadEvent(enc('{"worker_id":5,"num_waiting_reqs":4}')) as LoadReading;
  assert.deepEqual(waitingOnly.metrics, { numRequestsWaiting: 4 });
  assert.equal(waitingOnly.dpRank, undefined);
});

test('bad load events are refused by reason, before parsing where it is cheap', () => {
  const cases: [string | Uint8Array, string][] = [
    ['not json', 'bad_json'],
    ['[1,2]', 'not_an_object'],
    ['{"dp_rank":0,"kv_used_blocks":1}', 'bad_worker_id'],
    ['{"worker_id":-1,"kv_used_blocks":1}', 'bad_worker_id'],
    ['{"worker_id":"12","kv_used_blocks":1}', 'bad_worker_id'],
    ['{"worker_id":18446744073709551616,"kv_used_blocks":1}', 'bad_worker_id'],
    ['{"worker_id":1,"dp_rank":-1,"kv_used_blocks":1}', 'bad_dp_rank'],
    ['{"worker_id":1,"dp_rank":1.5,"kv_used_blocks":1}', 'bad_dp_rank'],
    ['{"worker_id":1,"kv_used_blocks":-3}', 'bad_field'],
    ['{"worker_id":1,"kv_used_blocks":2.5}', 'bad_field'],
    ['{"worker_id":1,"kv_used_blocks":9007199254740993}', 'bad_field'],
    ['{"worker_id":1,"isl_blocks":3}', 'unknown_form'],
    [`{"worker_id":1,"kv_used_blocks":1,"x":${'['.repeat(40)}${']'.repeat(40)}}`, 'too_deep'],
    [new Uint8Array([0x86, 0xac, 0x70, 0x75]), 'msgpack'],
    [`{"worker_id":1,"pad":"${'x'.repeat(MAX_LOAD_EVENT_BYTES)}"}`, 'too_large'],
  ];
  for (const [body, reason] of cases)
    assert.equal(decodeLoadEvent(typeof body === 'string' ? enc(body) : body), reason, String(body).slice(0, 60));
});

function stats(id: bigint, kv: number, extra: Partial<WorkerStats['metrics']> = {}): WorkerStats {
  return {
    workerId: id,
    subject: `dynamo_c.e-${id.toString(16)}`,
    data: {},
    metrics: { kvActiveBlocks: kv, kvTotalBlocks: 100, numRequestsWaiting: 0, ...extra },
  };
}

test('the merge: the newest reading wins field by field; events-only workers appear, ranked; stale ones leave', () => {
  const book = new LoadBook(10);
  const registered = new Map<bigint, string | undefined>([
    [1n, 's1'],
    [2n, undefined],
    [3n, 's3'],
    [4n, 's4'],
  ]);
  const read = (s: string): LoadReading => decodeLoadEvent(enc(s)) as LoadReading;
  // worker 1 answers stats; its event before the stats request is older, the one after newer
  book.record(read('{"worker_id":1,"kv_used_blocks":70,"num_waiting_reqs":9}'), 1_000);
  // worker 2 is events-only (registered over another transport), with two ranks
  book.record(read('{"worker_id":2,"dp_rank":0,"kv_used_blocks":10,"num_waiting_reqs":1}'), 1_500);
  book.record(read('{"worker_id":2,"dp_rank":1,"kv_used_blocks":20}'), 1_600);
  // worker 3 only ever said how many wait: no active blocks, not shown
  book.record(read('{"worker_id":3,"num_waiting_reqs":5}'), 1_700);
  // worker 9 is not registered: never shown
  book.record(read('{"worker_id":9,"kv_used_blocks":5}'), 1_700);
  let workers = new Map([[1n, stats(1n, 40)]]);
  const added = book.mergeInto(workers, registered, () => 2_000, 0);
  assert.deepEqual(workers.get(1n)!.metrics.kvActiveBlocks, 40, 'the stats are newer than the event');
  assert.equal(workers.get(1n)!.ranks, undefined);
  assert.deepEqual(added, [2n]);
  const w2 = workers.get(2n)!;
  assert.deepEqual(
    [...w2.ranks!].map(([r, m]) => [r, m.kvActiveBlocks, m.numRequestsWaiting]),
    [
      [0, 10, 1],
      [1, 20, undefined],
    ],
  );
  assert.equal(w2.subject, '', 'no NATS subject for another transport');
  assert.equal(workers.has(3n), false);
  assert.equal(workers.has(9n), false);

  // an event after the stats request: its fields override the stats', the others stay
  book.record(read('{"worker_id":1,"kv_used_blocks":55}'), 3_100);
  workers = new Map([[1n, stats(1n, 41, { numRequestsWaiting: 2 })]]);
  book.mergeInto(workers, registered, () => 3_000, 0);
  const w1 = workers.get(1n)!;
  assert.equal(w1.metrics.kvActiveBlocks, 55);
  assert.equal(w1.metrics.numRequestsWaiting, 2, 'the stats field the event does not carry stays');
  assert.equal(w1.metrics.kvTotalBlocks, 100);

  // worker 2's events stop: it leaves once they are older than the limit
  workers = new Map();
  book.prune(1_550);
  book.mergeInto(workers, registered, () => 4_000, 1_550);
  assert.deepEqual([...workers.get(2n)!.ranks!.keys()], [1], 'rank 0 went quiet and left; rank 1 is still fresh');
  workers = new Map();
  book.mergeInto(workers, registered, () => 5_000, 4_500);
  assert.equal(workers.has(2n), false);
  book.forget(1n);
  assert.ok(book.size <= 3);
});

test('the book is bounded by workers', () => {
  const book = new LoadBook(2);
  const r = (id: number): LoadReading => ({
    workerId: BigInt(id),
    dpRank: undefined,
    metrics: { kvActiveBlocks: 1 },
    data: undefined,
    generation: 'active_load',
  });
  assert.equal(book.record(r(1), 0), true);
  assert.equal(book.record(r(2), 0), true);
  assert.equal(book.record(r(3), 0), false);
  assert.equal(book.record(r(1), 1), true, 'a worker already held is updated');
  assert.equal(book.size, 2);
});
