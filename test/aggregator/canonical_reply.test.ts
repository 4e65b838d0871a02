import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readCanonicalData, readCanonicalReply } from '../../src/aggregator/canonicalReply.ts';
import { parseStatsReply, parseStatsReplyGeneral, type ParsedReply, type WorkerStats } from '../../src/aggregator/statsReply.ts';
import { aggregateText } from '../../src/aggregator/aggregate.ts';
import { parseJson, stringifyJson } from '../../src/runtime/json.ts';
import { rng } from '../support/hostile.ts';

const SERVICE = 'dynamo_backend';
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A reply as nats.js services (and MicroService) write it. */
function canonical(
  endpoints: { subject: string; data: unknown; name?: string }[],
  metadata: Record<string, string> = {},
  id = 'Jkj1psZCgDmq15xwpMWFXf',
): string {
  return stringifyJson({
    type: 'io.nats.micro.v1.stats_response',
    name: SERVICE,
    id,
    version: '0.0.1',
    started: '2026-11-23T17:47:54.201Z',
    metadata,
    endpoints: endpoints.map((e) => ({
      name: e.name ?? `${SERVICE}-generate-x`,
      subject: e.subject,
      queue_group: 'q',
      num_requests: 3,
      num_errors: 0,
      last_error: '',
      processing_time: 1200,
      average_processing_time: 400,
      data: e.data,
    })),
  });
}

const ours = (hex: string): string => `${SERVICE}.generate-${hex}`;
const v3 = {
  request_active_slots: 3,
  request_total_slots: 100,
  kv_active_blocks: 40,
  kv_total_blocks: 100,
  num_requests_waiting: 2,
  gpu_cache_usage_perc: 0.4,
  gpu_prefix_cache_hit_rate: 0.6508859379468923,
  data_parallel_rank: null,
};
const v4 = {
  worker_stats: { data_parallel_rank: 1, request_active_slots: 3, request_total_slots: 100, num_requests_waiting: 2 },
  kv_stats: { kv_active_blocks: 40, kv_total_blocks: 100, gpu_cache_usage_perc: 0.4, gpu_prefix_cache_hit_rate: 0.25 },
  spec_decode_stats: { num_spec_tokens: 4, num_accepted_tokens_per_pos: [3, 2, 1] },
};

/** The reply's result without the texts only the fast path keeps. */
function withoutText(r: ParsedReply): ParsedReply {
  return { rejected: r.rejected, workers: r.workers.map(({ dataJson: _, ...w }) => w) };
}

test('replies as the workers write them take the fast path, in every ForwardPassMetrics form', () => {
  const forms: unknown[] = [
    v3,
    v4,
    { engine_load_metrics: v4 },
    { predictive_load_metrics: { kv_active_blocks: 7 } },
    { worker_id: 7587884888253033398n, ...v3 },
    null,
  ];
  for (const data of forms) {
    const text = canonical(
      [
        { subject: ours('1a'), data },
        { subject: `${SERVICE}.clear_kv_blocks-1a`, data: { anything: ['x', 1, true] } },
      ],
      { dynamo_version: '1' },
    );
    const parts = readCanonicalReply(text);
    assert.ok(parts !== undefined, text);
    assert.equal(parts.serviceId, 'Jkj1psZCgDmq15xwpMWFXf');
    assert.deepEqual(
      parts.endpoints.map((e) => e.subject),
      [ours('1a'), `${SERVICE}.clear_kv_blocks-1a`],
    );
    // the data text is the value's, found at its own place in the reply
    assert.equal(parts.endpoints[0]!.data, stringifyJson(data));
    assert.equal(
      text.slice(parts.endpoints[0]!.dataStart, parts.endpoints[0]!.dataStart + parts.endpoints[0]!.data.length),
      stringifyJson(data),
    );
    assert.equal(text.slice(parts.endpoints[1]!.dataStart).startsWith('{"anything":'), true);
    const body = encoder.encode(text);
    const fast = parseStatsReply(body, SERVICE, 'generate');
    assert.deepEqual(withoutText(fast), parseStatsReplyGeneral(body, SERVICE, 'generate'));
    if (data !== null) assert.equal(fast.workers[0]!.dataJson, stringifyJson(data));
  }
  // no endpoints at all
  const none = canonical([]);
  assert.deepEqual(readCanonicalReply(none), { serviceId: 'Jkj1psZCgDmq15xwpMWFXf', endpoints: [] });
});

test('a 63-bit integer in the data is read exactly on the fast path and republished digit for digit', () => {
  const text = canonical([{ subject: ours('ff'), data: { worker_id: 7587884888253033398n, ...v3 } }]);
  const r = parseStatsReply(encoder.encode(text), SERVICE, 'generate');
  assert.equal((r.workers[0]!.data as Record<string, unknown>).worker_id, 7587884888253033398n);
  assert.ok(r.workers[0]!.dataJson!.includes('"worker_id":7587884888253033398'));
});

test('a key given twice in the data: the value keeps the last, and the text republished says only that', () => {
  const data = '{"kv_active_blocks":99,"request_active_slots":3,"request_total_slots":100,"kv_active_blocks":40,"kv_total_blocks":100}';
  const text = canonical([{ subject: ours('2b'), data: 0 }]).replace('"data":0', `"data":${data}`);
  assert.ok(readCanonicalReply(text) !== undefined);
  const r = parseStatsReply(encoder.encode(text), SERVICE, 'generate');
  assert.equal(r.workers[0]!.metrics.kvActiveBlocks, 40);
  assert.equal(r.workers[0]!.dataJson, '{"kv_active_blocks":40,"request_active_slots":3,"request_total_slots":100,"kv_total_blocks":100}');
  assert.deepEqual(readCanonicalData('{"a":{"b":1,"b":2}}'), { value: { a: { b: 2 } }, json: '{"a":{"b":2}}' });
  assert.deepEqual(readCanonicalData('{"a":[1,2],"b":"x:y"}'), { value: { a: [1, 2], b: 'x:y' }, json: '{"a":[1,2],"b":"x:y"}' });
});

test('the data text is republished as received: a number keeps its spelling', () => {
  const data =
    '{"kv_active_blocks":40,"kv_total_blocks":100,"request_active_slots":3,"request_total_slots":100,"load_hint":0.50,"extra":{"rates":[0.10,2.0]}}';
  const text = canonical([{ subject: ours('3c'), data: 0 }]).replace('"data":0', `"data":${data}`);
  assert.ok(readCanonicalReply(text) !== undefined);
  const r = parseStatsReply(encoder.encode(text), SERVICE, 'generate');
  assert.equal(r.workers[0]!.dataJson, data);
  assert.deepEqual(parseJson(r.workers[0]!.dataJson!), r.workers[0]!.data);
  assert.equal(readCanonicalData('[0.10,{"a":1.50}]').json, '[0.10,{"a":1.50}]');
});

test('replies in any other form take the general path and give the same result', () => {
  const base = canonical([{ subject: ours('1a'), data: v3 }]);
  const variants = [
    base.replace('"metadata":{},', ''), // no metadata: still canonical
    base.replace(',"endpoints"', ', "endpoints"'), // whitespace
    base.replace('"name":"dynamo_backend",', '').replace('"started"', '"name":"dynamo_backend","started"'), // key order
    base.replace('"version":"0.0.1"', '"version":"0.0.\\u0031"'), // an escape
    base.replace('"version":"0.0.1"', '"version":"0.0.1é"'), // not ASCII
    base.replace('"kv_active_blocks":40', '"kv_active_blocks":4e1'), // an exponent
    base.replace('"num_requests":3', '"num_requests":123456789012345678901'), // 21 integer digits
    base.replace('"data":{', '"data":{"x":{"y":{"z":{"w":{}}}},'), // nested deeper than the grammar takes
    base.replace('"data":{', '"data":{"1":0,'), // a key JavaScript reorders
    base.replace('"data":{', '"data":{"a":1,}'), // not JSON
    base.slice(0, -1), // cut short
    `${base} `,
    `${canonical([])}x`, // something after a reply with no endpoints
  ];
  for (const [i, text] of variants.entries()) {
    const body = encoder.encode(text);
    if (i > 0) assert.equal(readCanonicalReply(decoder.decode(body)), undefined, text);
    assert.deepEqual(withoutText(parseStatsReply(body, SERVICE, 'generate')), parseStatsReplyGeneral(body, SERVICE, 'generate'), text);
  }
});

test('differential: 3,000 generated and damaged replies read the same by the fast and the general path', () => {
  const random = rng(20261123);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const keys = [
    'kv_active_blocks',
    'kv_total_blocks',
    'request_active_slots',
    'request_total_slots',
    'num_requests_waiting',
    'gpu_cache_usage_perc',
    'gpu_prefix_cache_hit_rate',
    'data_parallel_rank',
    'worker_stats',
    'kv_stats',
    'engine_load_metrics',
    'worker_id',
    '__proto__',
    'x',
  ];
  const scalar = (): unknown =>
    pick([
      () => Math.floor(random() * 200) - 20,
      () => random(),
      () => 10 ** Math.floor(random() * 30) * (random() < 0.5 ? 1 : -1),
      () => BigInt(Math.floor(random() * 1e15)) * 100_000n + BigInt(Math.floor(random() * 1e5)),
      () => null,
      () => random() < 0.5,
      () => pick(['', 'q', 'a:b', 'quote"d', 'back\\slash', 'é', '\u0001', '12345678901234567890']),
      () => 1e-7,
    ])();
  const value = (depth: number): unknown => {
    const r = random();
    if (depth > 5 || r < 0.55) return scalar();
    if (r < 0.65) return Array.from({ length: Math.floor(random() * 4) }, () => (random() < 0.8 ? scalar() : value(depth + 1)));
    const o: Record<string, unknown> = {};
    for (let i = Math.floor(random() * 6); i > 0; i--)
      Object.defineProperty(o, pick(keys), { value: value(depth + 1), enumerable: true, configurable: true, writable: true });
    return o;
  };
  const subject = (): string =>
    pick([
      ours('1a'),
      ours('7fffffffffffffff'),
      ours('8000000000000000'),
      ours('zz'),
      `${SERVICE}.generate-x-1a`,
      `${SERVICE}.other-1a`,
      ours(Math.floor(random() * 1e9).toString(16)),
    ]);
  const damage = (text: string): string => {
    const i = Math.floor(random() * text.length);
    return pick([
      () => text,
      () => text,
      () => text,
      () => `${text.slice(0, i)} ${text.slice(i)}`,
      () => text.slice(0, i),
      () => `${text.slice(0, i)}${pick(['"', ',', '}', ']', '{', '0', '-', '.', '\\', ':'])}${text.slice(i + 1)}`,
      () => text.replace(/"kv_active_blocks":(\d+)/, '"kv_active_blocks":$1,"kv_active_blocks":$1'),
      () => text.replace(/\d\.\d+/, '1.50'),
    ])();
  };
  let fastTaken = 0;
  let workersSeen = 0;
  for (let n = 0; n < 3_000; n++) {
    const endpoints = Array.from({ length: 1 + Math.floor(random() * 3) }, () => ({
      subject: subject(),
      data: random() < 0.5 ? { ...v3, kv_active_blocks: Math.floor(random() * 100) } : value(0),
    }));
    const text = damage(canonical(endpoints, random() < 0.2 ? { k: 'v' } : {}));
    const body = encoder.encode(text);
    if (readCanonicalReply(decoder.decode(body)) !== undefined) fastTaken++;
    const fast = parseStatsReply(body, SERVICE, 'generate');
    const general = parseStatsReplyGeneral(body, SERVICE, 'generate');
    assert.deepEqual(withoutText(fast), general, text);
    for (const w of fast.workers) {
      workersSeen++;
      // the text republished reads back as the value that was decoded
      if (w.dataJson !== undefined) assert.deepEqual(parseJson(w.dataJson), w.data, text);
    }
  }
  // the generator exercises both paths
  assert.ok(fastTaken > 500 && fastTaken < 2_900, `fast path taken ${fastTaken} times`);
  assert.ok(workersSeen > 500, `${workersSeen} workers`);
});

test('the aggregate joined from the texts kept is the document written from the values', () => {
  const fast = new Map<bigint, WorkerStats>();
  const general = new Map<bigint, WorkerStats>();
  for (let i = 1; i <= 50; i++) {
    const data = i % 3 === 0 ? v4 : i % 3 === 1 ? { ...v3, kv_active_blocks: i } : { worker_id: 7587884888253033398n + BigInt(i), ...v3 };
    const body = encoder.encode(canonical([{ subject: ours((2 ** 40 + i).toString(16)), data }]));
    for (const w of parseStatsReply(body, SERVICE, 'generate').workers) fast.set(w.workerId, w);
    for (const w of parseStatsReplyGeneral(body, SERVICE, 'generate').workers) general.set(w.workerId, w);
  }
  assert.equal(fast.size, 50);
  assert.ok([...fast.values()].every((w) => w.dataJson !== undefined));
  const stats = { avg: 12.5, std: 3 };
  assert.deepEqual(parseJson(aggregateText(fast, stats)), parseJson(aggregateText(general, stats)));
});

test('hostile near-misses of the grammar are turned down (a backtracking blow-up would run past the timeout)', { timeout: 60_000 }, () => {
  const head = canonical([{ subject: ours('1a'), data: 0 }]).split('"data":0')[0]!;
  const n = 100_000;
  const inputs = [
    `${head}"data":{${'"a":1,'.repeat(n)}"a":}}]}`,
    `${head}"data":{"a":${'1'.repeat(n)}x}}]}`,
    `${head}"data":{"a":0.${'1'.repeat(n)}x}}]}`,
    `${head}"data":${'{"a":'.repeat(n)}1${'}'.repeat(n)}}]}`,
    `${head}"data":{"a":[${'1,'.repeat(n)}]}}]}`,
    `${head}"data":{"a":"${'x'.repeat(n)}}}]}`,
    `${head}"data":null},${`${head.slice(head.indexOf('{"name"'))}"data":null},`.repeat(2_000)}]}`,
  ];
  for (const text of inputs) assert.equal(readCanonicalReply(text), undefined);
});

test('the largest 63-bit worker id is taken, one above it refused, on both paths', () => {
  const text = canonical([
    { subject: ours('7fffffffffffffff'), data: v3 },
    { subject: ours('8000000000000000'), data: v3 },
  ]);
  for (const r of [
    parseStatsReply(encoder.encode(text), SERVICE, 'generate'),
    parseStatsReplyGeneral(encoder.encode(text), SERVICE, 'generate'),
  ]) {
    assert.deepEqual(
      r.workers.map((w) => w.workerId),
      [(1n << 63n) - 1n],
    );
    assert.equal(r.rejected.length, 1);
  }
});
