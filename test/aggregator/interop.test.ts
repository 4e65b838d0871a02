/**
 * Dynamo clusters as they run today, played by emulations written from Dynamo's sources and
 * independent of this project's runtime (docs/wire-protocol.md §3, §8): workers registered the way
 * Rust Dynamo registers them, in both etcd layouts, answering stats, publishing load events of
 * either generation, or both; an attention-DP pair of ranks; a worker whose load event comes before
 * its key; and a forger on both paths. Real nats-server, etcd and `metrics`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from '@nats-io/transport-node';
import { dynamoShapedWorker, registerDynamoInstances } from '../support/dynamoStats.ts';
import { sleep } from '../support/process.ts';
import { testCluster } from '../support/servers.ts';
import { LABELS, startMetrics, waitForScrape } from '../support/aggregator.ts';
import { reasons, sample, series } from '../support/exposition.ts';

const BASE = 7587884888253033398n; // above 2^53: every id must come out with all its digits
const ids = {
  legacyStats: BASE + 1n,
  v1Stats: BASE + 2n,
  loadEvent: BASE + 3n,
  dpPair: BASE + 4n,
  both: BASE + 5n,
  early: BASE + 6n,
  forger: BASE + 99n,
};
const COMPONENT_TOPIC = 'namespace.dynamo.component.my_component.kv_metrics';
const ENDPOINT_TOPIC = 'namespace.dynamo.component.my_component.endpoint.my_endpoint.kv_metrics';

function v4(kv: number, total = 100, rank: number | null = null): string {
  return `{"worker_stats":{"data_parallel_rank":${rank},"request_active_slots":1,"request_total_slots":8,"num_requests_waiting":0},"kv_stats":{"kv_active_blocks":${kv},"kv_total_blocks":${total},"gpu_cache_usage_perc":${kv / total},"gpu_prefix_cache_hit_rate":0.5},"spec_decode_stats":null}`;
}

test('workers of every era in both layouts, stats-only, events-only and both, a DP pair: each exported exactly; no forger', {
  timeout: 120_000,
}, async (t) => {
  const { cluster, defer } = await testCluster(t);
  // registered as Rust Dynamo does: the legacy layout (mid-2025) and the v1 key-value discovery
  const regs = [
    await registerDynamoInstances(cluster.etcd.url, [ids.legacyStats, ids.both], 'dynamo', 'my_component', 'my_endpoint'),
    await registerDynamoInstances(cluster.etcd.url, [ids.v1Stats], 'dynamo', 'my_component', 'my_endpoint', { layout: 'v1' }),
    // events-only workers of the current era serve requests over TCP: known to etcd, silent on $SRV.STATS
    await registerDynamoInstances(cluster.etcd.url, [ids.loadEvent, ids.dpPair], 'dynamo', 'my_component', 'my_endpoint', {
      layout: 'v1',
      transport: 'tcp',
    }),
  ];
  for (const r of regs) defer(r);

  const nc = await connect({ servers: cluster.nats.url });
  defer(() => nc.close());
  // stats, as the Rust workers answer them: v4 nested and v2 flat
  dynamoShapedWorker(nc, [
    { id: ids.legacyStats, data: v4(11) },
    {
      id: ids.v1Stats,
      data: '{"request_active_slots":2,"request_total_slots":8,"kv_active_blocks":22,"kv_total_blocks":100,"num_requests_waiting":1,"gpu_cache_usage_perc":0.22,"gpu_prefix_cache_hit_rate":0.1}',
    },
    { id: ids.both, data: v4(50) },
    { id: ids.forger, data: v4(66) },
  ]);
  const publishAll = (): void => {
    // LoadEvent (late 2025) on the component's topic
    nc.publish(COMPONENT_TOPIC, `{"worker_id":${ids.loadEvent},"data":${v4(33, 200)}}`);
    // ActiveLoad (2026) on the endpoint's topic, one per data-parallel rank
    nc.publish(
      ENDPOINT_TOPIC,
      `{"worker_id":${ids.dpPair},"dp_rank":0,"active_decode_blocks":null,"active_prefill_tokens":null,"kv_used_blocks":40,"num_waiting_reqs":3}`,
    );
    nc.publish(
      ENDPOINT_TOPIC,
      `{"worker_id":${ids.dpPair},"dp_rank":1,"active_decode_blocks":null,"active_prefill_tokens":null,"kv_used_blocks":44,"num_waiting_reqs":0}`,
    );
    // a stats worker that also publishes: its event after the stats request is the newest reading
    nc.publish(ENDPOINT_TOPIC, `{"worker_id":${ids.both},"dp_rank":0,"kv_used_blocks":55,"num_waiting_reqs":2}`);
    // a forger: neither its stats nor its events are vouched for by etcd
    nc.publish(ENDPOINT_TOPIC, `{"worker_id":${ids.forger},"dp_rank":0,"kv_used_blocks":77}`);
  };
  publishAll();
  const publisher = setInterval(publishAll, 200);
  defer(() => clearInterval(publisher));

  const m = await startMetrics(cluster);
  defer(() => m.proc.stop());
  // a worker whose load event comes before its key: held, then counted once the key lands
  nc.publish(ENDPOINT_TOPIC, `{"worker_id":${ids.early},"dp_rank":0,"kv_used_blocks":66}`);
  await nc.flush();
  await sleep(300);
  defer(
    await registerDynamoInstances(cluster.etcd.url, [ids.early], 'dynamo', 'my_component', 'my_endpoint', {
      layout: 'v1',
      transport: 'tcp',
    }),
  );

  const kv = (x: string, id: bigint, rank?: number): number | undefined =>
    sample(x, 'llm_kv_blocks_active', { worker_id: id.toString(), ...(rank === undefined ? {} : { dp_rank: String(rank) }) });
  const text = await waitForScrape(
    m,
    'every worker',
    (x) => (kv(x, ids.both, 0) === 55 && kv(x, ids.early, 0) === 66 && series(x, 'llm_kv_blocks_active').length === 7 ? x : undefined),
    30_000,
  );
  const exported = series(text, 'llm_kv_blocks_active')
    .map((s) => `${s.labels.worker_id}/${s.labels.dp_rank ?? '-'}=${s.value}`)
    .sort();
  assert.deepEqual(
    exported,
    [
      `${ids.legacyStats}/-=11`,
      `${ids.v1Stats}/-=22`,
      `${ids.loadEvent}/-=33`,
      `${ids.dpPair}/0=40`,
      `${ids.dpPair}/1=44`,
      `${ids.both}/0=55`,
      `${ids.early}/0=66`,
    ].sort(),
  );
  // what the stats alone tell is kept where the events say nothing
  assert.equal(sample(text, 'llm_kv_blocks_total', { worker_id: ids.both.toString(), dp_rank: '0' }), 100);
  assert.equal(sample(text, 'llm_requests_waiting', { worker_id: ids.dpPair.toString(), dp_rank: '0' }), 3);
  assert.equal(sample(text, 'llm_kv_blocks_total', { worker_id: ids.loadEvent.toString() }), 200);
  // load statistics over every worker and rank
  const loads = [11, 22, 33, 40, 44, 55, 66];
  const avg = loads.reduce((a, b) => a + b, 0) / loads.length;
  assert.ok(Math.abs(sample(text, 'llm_load_avg', LABELS)! - avg) < 1e-9, `load_avg ${sample(text, 'llm_load_avg', LABELS)} = ${avg}`);
  // the forger: nothing exported, counted on both paths
  assert.equal(kv(text, ids.forger), undefined);
  assert.ok((reasons(text, 'dynamo_metrics_stats_rejected_total').unregistered ?? 0) > 0);
  assert.ok((sample(text, 'dynamo_metrics_load_events_total') ?? 0) > 0);
  // its events were held for a registration that never came, then refused
  await waitForScrape(
    m,
    "the forger's load events refused",
    (x) => (reasons(x, 'dynamo_metrics_load_events_rejected_total').unregistered_worker ?? 0) > 0 && kv(x, ids.forger) === undefined,
    15_000,
  );

  // an events-only worker whose events stop leaves after the missed-cycle rule
  clearInterval(publisher);
  const quiet = setInterval(() => {
    nc.publish(ENDPOINT_TOPIC, `{"worker_id":${ids.dpPair},"dp_rank":0,"kv_used_blocks":40}`);
    nc.publish(ENDPOINT_TOPIC, `{"worker_id":${ids.dpPair},"dp_rank":1,"kv_used_blocks":44}`);
  }, 200);
  defer(() => clearInterval(quiet));
  await waitForScrape(
    m,
    'the silent LoadEvent worker gone, the DP pair still there',
    (x) => kv(x, ids.loadEvent) === undefined && kv(x, ids.dpPair, 1) === 44,
    15_000,
  );
});

test('--discovery-backend kubernetes: workers etcd does not hold are believed on NATS alone, with a warning', {
  timeout: 60_000,
}, async (t) => {
  const { cluster, defer } = await testCluster(t);
  const nc = await connect({ servers: cluster.nats.url });
  defer(() => nc.close());
  dynamoShapedWorker(nc, [{ id: ids.legacyStats, data: v4(12) }]);
  const publish = setInterval(() => nc.publish(ENDPOINT_TOPIC, `{"worker_id":${ids.dpPair},"dp_rank":1,"kv_used_blocks":21}`), 200);
  defer(() => clearInterval(publish));
  const m = await startMetrics(cluster, [], { DYN_DISCOVERY_BACKEND: 'kubernetes' });
  defer(() => m.proc.stop());
  const kv = (x: string, id: bigint): number | undefined => sample(x, 'llm_kv_blocks_active', { worker_id: id.toString() });
  await waitForScrape(m, 'both workers without etcd', (x) => kv(x, ids.legacyStats) === 12 && kv(x, ids.dpPair) === 21);
  assert.match(m.proc.output(), /--discovery-backend kubernetes: workers are believed on their NATS answers and events alone/);
});
