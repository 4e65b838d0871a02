/**
 * The `metrics` command end to end, as separate processes against real nats-server and etcd:
 * the seed's walkthrough, 63-bit ids in every ForwardPassMetrics form, killed workers, garbage
 * stats, and ProcessedEndpoints.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from '@nats-io/transport-node';
import { parseJson, stringifyJson } from '../../src/runtime/json.ts';
import { waitUntil } from '../support/process.ts';
import { testCluster } from '../support/servers.ts';
import { LABELS, startMetrics, startMockWorker, waitForScrape } from '../support/aggregator.ts';
import { sample, series } from '../support/exposition.ts';
import { dynamoShapedWorker, registerDynamoInstances } from '../support/dynamoStats.ts';

function populationStd(xs: number[]): number {
  const avg = xs.reduce((a, b) => a + b, 0) / xs.length;
  return Math.sqrt(xs.reduce((a, x) => a + (x - avg) ** 2, 0) / xs.length);
}

test("the seed's walkthrough: no worker, then two mock workers; load statistics and hit rates consistent", async (t) => {
  const { cluster, defer } = await testCluster(t);
  const m = await startMetrics(cluster);
  defer(() => m.proc.stop());
  await waitUntil(
    'the no-endpoints warning',
    () => /WARN metrics: No endpoints found matching dynamo\/my_component\/my_endpoint/.test(m.proc.output()),
    10_000,
  );
  assert.equal(series(await m.scrape(), 'llm_kv_blocks_active').length, 0);
  assert.doesNotMatch(await m.scrape(), /llm_load_avg|NaN/);

  // hit-rate events: the mock workers send none (long interval); the test sends known ones
  const a = await startMockWorker(cluster, ['--hit-rate-interval', '1h']);
  const b = await startMockWorker(cluster, ['--hit-rate-interval', '1h']);
  defer(() => a.proc.stop());
  defer(() => b.proc.stop());
  const ids = [...a.ids, ...b.ids];
  assert.equal(ids.length, 2);
  const text = await waitForScrape(m, 'two workers', (x) => (series(x, 'llm_kv_blocks_active').length === 2 ? x : undefined));
  const blocks = series(text, 'llm_kv_blocks_active');
  assert.deepEqual(blocks.map((s) => s.labels.worker_id).sort(), ids.map(String).sort(), 'decimal worker ids, all digits');
  for (const s of blocks) assert.deepEqual(Object.keys(s.labels).sort(), ['component', 'endpoint', 'worker_id']);
  const values = blocks.map((s) => s.value);
  assert.equal(sample(text, 'llm_load_avg', LABELS), values.reduce((x, y) => x + y, 0) / 2);
  assert.ok(Math.abs(sample(text, 'llm_load_std', LABELS)! - populationStd(values)) < 1e-9);
  for (const name of [
    'llm_requests_active_slots',
    'llm_requests_total_slots',
    'llm_kv_blocks_total',
    'llm_requests_waiting',
    'llm_gpu_cache_usage_percent',
  ]) {
    assert.equal(series(text, name).length, 2, name);
  }
  for (const id of ids) {
    const kv = sample(text, 'llm_kv_blocks_active', { worker_id: String(id) })!;
    const gpu = sample(text, 'llm_gpu_cache_usage_percent', { worker_id: String(id) })!;
    assert.ok(Math.abs(gpu - kv) < 1e-9, `gpu usage ${gpu} = 100 x kv_active/kv_total (${kv}) for the mock`);
  }

  const nc = await connect({ servers: cluster.nats.url });
  defer(() => nc.close());
  const sent = new Map<bigint, { isl: number; overlap: number }>();
  for (let i = 0; i < 50; i++) {
    const id = ids[i % 2]!;
    const isl = (i * 7) % 100;
    const overlap = Math.floor(isl / (1 + (i % 3)));
    const s = sent.get(id) ?? { isl: 0, overlap: 0 };
    sent.set(id, { isl: s.isl + isl, overlap: s.overlap + overlap });
    nc.publish('namespace.dynamo.kv-hit-rate', stringifyJson({ worker_id: id, isl_blocks: isl, overlap_blocks: overlap }));
  }
  await nc.flush();
  const after = await waitForScrape(m, 'hit-rate totals', (x) => (sample(x, 'dynamo_metrics_events_total') === 50 ? x : undefined));
  for (const [id, s] of sent) {
    const lbl = { worker_id: String(id) };
    assert.equal(sample(after, 'llm_kv_hit_rate_isl_blocks_total', lbl), s.isl);
    assert.equal(sample(after, 'llm_kv_hit_rate_overlap_blocks_total', lbl), s.overlap);
    assert.ok(Math.abs(sample(after, 'llm_kv_hit_rate_percent', lbl)! - (100 * s.overlap) / s.isl) < 1e-9);
  }
  assert.match(after, /^# HELP llm_kv_blocks_active Active KV cache blocks$/m);
  assert.equal(sample(after, 'dynamo_metrics_leader'), 1);
  assert.equal(sample(after, 'dynamo_metrics_workers'), 2);
  // the no-endpoints warning stopped once workers appeared
  const warnings = m.proc
    .output()
    .split('\n')
    .filter((l) => l.includes('No endpoints found'));
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(
    m.proc
      .output()
      .split('\n')
      .filter((l) => l.includes('No endpoints found')).length,
    warnings.length,
  );

  // SIGKILL one worker: its series are gone at the next cycle; the average covers the survivor
  await a.proc.kill();
  const one = await waitForScrape(m, 'one worker left', (x) => (series(x, 'llm_kv_blocks_active').length === 1 ? x : undefined), 5_000);
  const left = series(one, 'llm_kv_blocks_active')[0]!;
  assert.equal(left.labels.worker_id, String(b.ids[0]));
  assert.equal(sample(one, 'llm_load_avg', LABELS), left.value);
  assert.equal(sample(one, 'llm_load_std', LABELS), 0);
  for (const name of ['llm_kv_hit_rate_isl_blocks_total', 'llm_kv_hit_rate_percent', 'llm_requests_active_slots']) {
    assert.equal(sample(one, name, { worker_id: String(a.ids[0]) }), undefined, `${name} of the dead worker is gone`);
  }
});

test('workers with ids above 2^53 in every ForwardPassMetrics form keep their exact ids; garbage is dropped, counted, never misattributed', async (t) => {
  const { cluster, defer } = await testCluster(t);
  const nc = await connect({ servers: cluster.nats.url });
  defer(() => nc.close());
  const base = 7587884888253033398n;
  const forms: [string, number][] = [
    ['{"request_active_slots":1,"request_total_slots":10,"kv_active_blocks":11,"kv_total_blocks":100}', 11],
    [
      '{"request_active_slots":1,"request_total_slots":10,"kv_active_blocks":12,"kv_total_blocks":100,"num_requests_waiting":0,"gpu_cache_usage_perc":0.12,"gpu_prefix_cache_hit_rate":0.5}',
      12,
    ],
    [
      '{"request_active_slots":1,"request_total_slots":10,"kv_active_blocks":13,"kv_total_blocks":100,"num_requests_waiting":0,"gpu_cache_usage_perc":0.13,"gpu_prefix_cache_hit_rate":0.5,"data_parallel_rank":null}',
      13,
    ],
    [
      '{"worker_stats":{"data_parallel_rank":0,"request_active_slots":1,"request_total_slots":10,"num_requests_waiting":2},"kv_stats":{"kv_active_blocks":14,"kv_total_blocks":100,"gpu_cache_usage_perc":0.14,"gpu_prefix_cache_hit_rate":0.5},"spec_decode_stats":null}',
      14,
    ],
    [
      '{"engine_load_metrics":{"worker_stats":{"data_parallel_rank":null,"request_active_slots":1,"request_total_slots":10,"num_requests_waiting":2},"kv_stats":{"kv_active_blocks":15,"kv_total_blocks":100,"gpu_cache_usage_perc":0.15,"gpu_prefix_cache_hit_rate":0.5},"spec_decode_stats":null}}',
      15,
    ],
    ['{"predictive_load_metrics":{"kv_active_blocks":16}}', 16],
  ];
  const garbage = [
    '"garbage"',
    '{"request_active_slots":1,"request_total_slots":10,"kv_active_blocks":"many","kv_total_blocks":100}',
    '{"request_active_slots":1,"request_total_slots":10,"kv_active_blocks":-4,"kv_total_blocks":100}',
    'null',
    '{"request_active_slots":1,"request_total_slots":10,"kv_active_blocks":1e999,"kv_total_blocks":100}',
  ];
  // good and bad endpoints interleaved in one reply: a bad one must not shift the next
  const endpoints: { id: bigint; data: string }[] = [];
  forms.forEach(([data], i) => {
    endpoints.push({ id: base + BigInt(i), data });
    if (i < garbage.length) endpoints.push({ id: base + 100n + BigInt(i), data: garbage[i]! });
  });
  defer(
    await registerDynamoInstances(
      cluster.etcd.url,
      endpoints.map((e) => e.id),
    ),
  );
  dynamoShapedWorker(nc, endpoints, [
    'not json at all',
    '{"endpoints": 5}',
    `{"endpoints":[{"subject":"dynamo_my_component.my_endpoint-zz","data":{}}]}`,
  ]);
  await nc.flush();
  const m = await startMetrics(cluster);
  defer(() => m.proc.stop());
  const text = await waitForScrape(m, 'the six workers', (x) => (series(x, 'llm_kv_blocks_active').length === 6 ? x : undefined));
  forms.forEach(([, kv], i) => {
    const id = (base + BigInt(i)).toString();
    assert.equal(sample(text, 'llm_kv_blocks_active', { worker_id: id }), kv, `form ${i} on worker ${id}`);
  });
  assert.equal(sample(text, 'llm_requests_waiting', { worker_id: (base + 3n).toString() }), 2);
  assert.equal(sample(text, 'llm_gpu_cache_usage_percent', { worker_id: (base + 4n).toString() }), 15);
  assert.equal(
    sample(text, 'llm_requests_total_slots', { worker_id: (base + 5n).toString() }),
    undefined,
    'predictive form carries only kv_active_blocks',
  );
  for (let i = 0; i < garbage.length; i++)
    assert.equal(sample(text, 'llm_kv_blocks_active', { worker_id: (base + 100n + BigInt(i)).toString() }), undefined);
  assert.equal(sample(text, 'llm_load_avg', LABELS), (11 + 12 + 13 + 14 + 15 + 16) / 6);
  const rejected = Object.fromEntries(series(text, 'dynamo_metrics_stats_rejected_total').map((s) => [s.labels.reason, s.value]));
  for (const reason of [
    'data_not_an_object',
    'data_wrong_type',
    'data_negative',
    'data_missing_field',
    'data_not_finite',
    'bad_json',
    'bad_shape',
    'bad_worker_id',
  ]) {
    assert.ok((rejected[reason] ?? 0) >= 1, `${reason} counted: ${JSON.stringify(rejected)}`);
  }
  assert.ok(m.proc.running, 'the aggregator did not crash');
});

test('ProcessedEndpoints is published every cycle with decimal ids and the load statistics', async (t) => {
  const { cluster, defer } = await testCluster(t);
  const w = await startMockWorker(cluster, ['--workers', '2']);
  defer(() => w.proc.stop());
  const nc = await connect({ servers: cluster.nats.url });
  defer(() => nc.close());
  const got: Uint8Array[] = [];
  nc.subscribe('namespace.dynamo.l2c.my_component.my_endpoint', { callback: (_e, msg) => void got.push(msg.data) });
  await nc.flush();
  const m = await startMetrics(cluster);
  defer(() => m.proc.stop());
  const body = await waitUntil(
    'an aggregate with two workers',
    () => {
      for (const b of got) {
        const v = parseJson(b) as { endpoints: Record<string, unknown> };
        if (Object.keys(v.endpoints).length === 2)
          return v as unknown as {
            endpoints: Record<string, { name: string; subject: string; data: { kv_active_blocks: number } }>;
            load_avg: number;
            load_std: number;
          };
      }
      return undefined;
    },
    15_000,
  );
  assert.deepEqual(Object.keys(body.endpoints).sort(), w.ids.map(String).sort());
  const blocks: number[] = [];
  for (const [id, e] of Object.entries(body.endpoints)) {
    assert.equal(e.name, `worker-${id}`);
    assert.equal(e.subject, `dynamo_my_component.my_endpoint-${BigInt(id).toString(16)}`);
    blocks.push(e.data.kv_active_blocks);
  }
  assert.equal(body.load_avg, (blocks[0]! + blocks[1]!) / 2);
  assert.ok(Math.abs(body.load_std - populationStd(blocks)) < 1e-9);
  const raw = new TextDecoder().decode(got[got.length - 1]!);
  assert.doesNotMatch(raw, /NaN/);
});
