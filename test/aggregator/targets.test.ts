/**
 * Many targets in one `metrics` process (docs/configuration.md, "Several targets"), against real
 * nats-server and etcd with workers written from Dynamo's sources: a disaggregated deployment's
 * prefill (events-only, a dp_rank pair) and decode (stats) workers under `--target`, each
 * exported with its `component` label and its own load statistics, hit-rate events routed to
 * their worker's target; `--all-endpoints` following endpoints as they register; and two replicas
 * spreading six targets through etcd, one taking the other's after a `kill -9`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from '@nats-io/transport-node';
import { dynamoShapedWorker, registerDynamoInstances } from '../support/dynamoStats.ts';
import { sleep, waitUntil } from '../support/process.ts';
import { testCluster } from '../support/servers.ts';
import { startMetrics, waitForScrape, type MetricsProcess } from '../support/aggregator.ts';
import { reasons, sample, series } from '../support/exposition.ts';
import { subscribeLarge } from '../../src/runtime/largeMessages.ts';
import { aggregateSubject } from '../../src/runtime/names.ts';

const BASE = 7587884888253033398n; // above 2^53: ids must keep every digit
const DECODE = [BASE + 11n, BASE + 12n];
const PREFILL_PAIR = BASE + 21n;
const PREFILL_OLD = BASE + 22n;
const PREFILL_ACTIVE = 'namespace.dynamo.component.prefill.endpoint.generate.kv_metrics';
const PREFILL_COMPONENT = 'namespace.dynamo.component.prefill.kv_metrics';
/** The lease TTL of `metrics` (DEFAULT_LEASE_TTL_SECONDS) and its poll interval. */
const LEASE_TTL_MS = 10_000;
const POLL_MS = 1_000;

function v4(kv: number, total = 100): string {
  return `{"worker_stats":{"data_parallel_rank":null,"request_active_slots":1,"request_total_slots":8,"num_requests_waiting":0},"kv_stats":{"kv_active_blocks":${kv},"kv_total_blocks":${total},"gpu_cache_usage_perc":${kv / total},"gpu_prefix_cache_hit_rate":0.5},"spec_decode_stats":null}`;
}

// biome-ignore lint/suspicious/noExplicitAny: the test reads many fields of the JSON answer; a wrong one fails its assertion
async function status(m: MetricsProcess, query = ''): Promise<{ status: number; body: any }> {
  const res = await fetch(`http://127.0.0.1:${m.port}/api/status${query}`);
  return { status: res.status, body: res.status === 200 ? await res.json() : await res.text() };
}

test('--target prefill and --target decode: stats-answering decode, events-only prefill with a dp_rank pair; each its labels, statistics, aggregate and events', {
  timeout: 120_000,
}, async (t) => {
  const { cluster, defer } = await testCluster(t);
  defer(await registerDynamoInstances(cluster.etcd.url, DECODE, 'dynamo', 'decode', 'generate'));
  // prefill workers of the current era serve over TCP and publish their load as events
  defer(
    await registerDynamoInstances(cluster.etcd.url, [PREFILL_PAIR, PREFILL_OLD], 'dynamo', 'prefill', 'generate', {
      layout: 'v1',
      transport: 'tcp',
    }),
  );
  const nc = await connect({ servers: cluster.nats.url });
  defer(() => nc.close());
  dynamoShapedWorker(
    nc,
    [
      { id: DECODE[0]!, data: v4(10) },
      { id: DECODE[1]!, data: v4(30) },
    ],
    [],
    'dynamo_decode',
    'generate',
  );
  const aggregates = { decode: 0, prefill: 0 };
  for (const c of ['decode', 'prefill'] as const) subscribeLarge(nc, aggregateSubject('dynamo', c, 'generate'), () => void aggregates[c]++);
  let publishing = true;
  const publisher = (async () => {
    while (publishing) {
      nc.publish(
        PREFILL_ACTIVE,
        `{"worker_id":${PREFILL_PAIR},"dp_rank":0,"active_decode_blocks":null,"active_prefill_tokens":null,"kv_used_blocks":40,"num_waiting_reqs":3}`,
      );
      nc.publish(
        PREFILL_ACTIVE,
        `{"worker_id":${PREFILL_PAIR},"dp_rank":1,"active_decode_blocks":null,"active_prefill_tokens":null,"kv_used_blocks":60,"num_waiting_reqs":1}`,
      );
      nc.publish(PREFILL_COMPONENT, `{"worker_id":${PREFILL_OLD},"data":${v4(20, 200)}}`);
      await nc.flush();
      await sleep(200);
    }
  })();
  defer(async () => {
    publishing = false;
    await publisher;
  });

  const m = await startMetrics(cluster, [], {}, { target: ['--target', 'dynamo/prefill/generate', '--target', 'dynamo/decode/generate'] });
  defer(() => m.proc.stop());
  const text = await waitForScrape(
    m,
    'both targets with every worker',
    (x) => (series(x, 'llm_kv_blocks_active').length === 5 ? x : undefined),
    30_000,
  );
  const kv = (c: string, id: bigint, rank?: number): number | undefined =>
    sample(text, 'llm_kv_blocks_active', {
      component: c,
      endpoint: 'generate',
      worker_id: id.toString(),
      ...(rank === undefined ? {} : { dp_rank: String(rank) }),
    });
  assert.equal(kv('decode', DECODE[0]!), 10);
  assert.equal(kv('decode', DECODE[1]!), 30);
  assert.equal(kv('prefill', PREFILL_PAIR, 0), 40);
  assert.equal(kv('prefill', PREFILL_PAIR, 1), 60);
  assert.equal(kv('prefill', PREFILL_OLD), 20);
  assert.equal(kv('prefill', DECODE[0]!), undefined, 'no worker under the other target');
  assert.equal(sample(text, 'llm_load_avg', { component: 'decode', endpoint: 'generate' }), 20);
  assert.equal(
    sample(text, 'llm_load_avg', { component: 'prefill', endpoint: 'generate' }),
    40,
    'over the ranks and the other worker: (40 + 60 + 20) / 3',
  );
  assert.equal(sample(text, 'llm_kv_blocks_total', { component: 'prefill', worker_id: PREFILL_OLD.toString() }), 200);
  for (const c of ['decode', 'prefill']) {
    assert.equal(sample(text, 'dynamo_metrics_leader', { component: c, endpoint: 'generate' }), 1, `leads ${c}`);
    assert.equal(sample(text, 'dynamo_metrics_view_current', { component: c, endpoint: 'generate' }), 1);
  }
  assert.equal(sample(text, 'dynamo_metrics_workers', { component: 'decode' }), 2);
  assert.equal(sample(text, 'dynamo_metrics_workers', { component: 'prefill' }), 2);
  assert.equal(
    /^# TYPE llm_kv_blocks_active gauge$/gm.exec(text) !== null && text.match(/^# TYPE llm_kv_blocks_active /gm)!.length,
    1,
    'one family for both targets',
  );

  // hit-rate events name only their worker: each goes to its worker's target, none refused
  for (let i = 0; i < 10; i++) {
    nc.publish('namespace.dynamo.kv-hit-rate', `{"worker_id":${DECODE[0]},"isl_blocks":10,"overlap_blocks":4}`);
    nc.publish('namespace.dynamo.kv-hit-rate', `{"worker_id":${PREFILL_PAIR},"isl_blocks":5,"overlap_blocks":5}`);
  }
  await nc.flush();
  const after = await waitForScrape(m, 'the hit-rate events counted', (x) =>
    sample(x, 'llm_kv_hit_rate_isl_blocks_total', { component: 'decode', worker_id: DECODE[0]!.toString() }) === 100 &&
    sample(x, 'llm_kv_hit_rate_isl_blocks_total', { component: 'prefill', worker_id: PREFILL_PAIR.toString() }) === 50
      ? x
      : undefined,
  );
  assert.equal(sample(after, 'llm_kv_hit_rate_percent', { component: 'decode', worker_id: DECODE[0]!.toString() }), 40);
  assert.equal(sample(after, 'dynamo_metrics_events_total', { component: 'decode' }), 10);
  assert.equal(sample(after, 'dynamo_metrics_events_total', { component: 'prefill' }), 10);
  assert.deepEqual(reasons(after, 'dynamo_metrics_events_rejected_total'), {}, "no target refused the other target's events");
  assert.deepEqual(reasons(after, 'dynamo_metrics_load_events_rejected_total'), {});
  assert.ok(aggregates.decode > 0 && aggregates.prefill > 0, `an aggregate on each target's subject (${JSON.stringify(aggregates)})`);

  // the status page: every target, each selectable
  const all = await status(m);
  assert.equal(all.status, 200);
  assert.deepEqual(
    all.body.targets.map((x: { path: string; role: string; workers: number }) => [x.path, x.role, x.workers]),
    [
      ['dynamo/prefill/generate', 'leader', 2],
      ['dynamo/decode/generate', 'leader', 2],
    ],
  );
  const decode = await status(m, '?target=dynamo/decode/generate');
  assert.deepEqual(decode.body.target, { namespace: 'dynamo', component: 'decode', endpoint: 'generate' });
  assert.deepEqual(decode.body.workers.rows.map((r: { worker_id: string }) => r.worker_id).sort(), DECODE.map(String).sort());
  assert.equal(decode.body.load.avg, 20);
  const unknown = await status(m, '?target=dynamo/router/route');
  assert.equal(unknown.status, 400);
  assert.match(unknown.body, /^bad query: target "dynamo\/router\/route" is not followed by this process\n$/);
  const health = await fetch(`http://127.0.0.1:${m.port}/health`);
  assert.equal(health.status, 200, await health.text());
});

test('--all-endpoints: endpoints join as their first worker registers, in either layout', { timeout: 120_000 }, async (t) => {
  const { cluster, defer } = await testCluster(t);
  const nc = await connect({ servers: cluster.nats.url });
  defer(() => nc.close());
  defer(await registerDynamoInstances(cluster.etcd.url, [BASE + 1n], 'dynamo', 'backend', 'generate'));
  dynamoShapedWorker(nc, [{ id: BASE + 1n, data: v4(7) }], [], 'dynamo_backend', 'generate');
  // a worker of another namespace is not followed
  defer(await registerDynamoInstances(cluster.etcd.url, [BASE + 9n], 'other', 'backend', 'generate'));
  const m = await startMetrics(cluster, [], {}, { target: ['--all-endpoints'] });
  defer(() => m.proc.stop());
  await waitForScrape(
    m,
    'the endpoint registered before the start',
    (x) => sample(x, 'llm_kv_blocks_active', { component: 'backend', endpoint: 'generate' }) === 7,
  );
  // two more endpoints register while it runs: one in the v1 layout, one as a second endpoint of a component
  defer(await registerDynamoInstances(cluster.etcd.url, [BASE + 2n], 'dynamo', 'router', 'route', { layout: 'v1' }));
  dynamoShapedWorker(nc, [{ id: BASE + 2n, data: v4(3) }], [], 'dynamo_router', 'route');
  // the first worker serves a second endpoint too, as a Rust worker does under its one lease
  defer(await registerDynamoInstances(cluster.etcd.url, [BASE + 3n, BASE + 1n], 'dynamo', 'backend', 'embed'));
  dynamoShapedWorker(
    nc,
    [
      { id: BASE + 3n, data: v4(5) },
      { id: BASE + 1n, data: v4(6) },
    ],
    [],
    'dynamo_backend',
    'embed',
  );
  const text = await waitForScrape(
    m,
    'the endpoints that registered later',
    (x) => (series(x, 'llm_kv_blocks_active').length === 4 ? x : undefined),
    30_000,
  );
  assert.equal(sample(text, 'llm_kv_blocks_active', { component: 'router', endpoint: 'route', worker_id: (BASE + 2n).toString() }), 3);
  assert.equal(sample(text, 'llm_kv_blocks_active', { component: 'backend', endpoint: 'embed', worker_id: (BASE + 3n).toString() }), 5);
  assert.equal(sample(text, 'llm_kv_blocks_active', { component: 'backend', endpoint: 'generate', worker_id: (BASE + 1n).toString() }), 7);
  assert.equal(sample(text, 'llm_kv_blocks_active', { component: 'backend', endpoint: 'embed', worker_id: (BASE + 1n).toString() }), 6);
  assert.equal(series(text, 'llm_load_avg').length, 3, 'load statistics per endpoint');
  // its hit-rate events count for both of its endpoints, as two processes, one per target, would count them
  for (let i = 0; i < 5; i++) nc.publish('namespace.dynamo.kv-hit-rate', `{"worker_id":${BASE + 1n},"isl_blocks":4,"overlap_blocks":1}`);
  await nc.flush();
  const counted = await waitForScrape(m, 'the events under both endpoints', (x) =>
    ['generate', 'embed'].every(
      (e) => sample(x, 'llm_kv_hit_rate_isl_blocks_total', { component: 'backend', endpoint: e, worker_id: (BASE + 1n).toString() }) === 20,
    )
      ? x
      : undefined,
  );
  assert.equal(
    sample(counted, 'llm_kv_hit_rate_isl_blocks_total', { component: 'router' }),
    undefined,
    'nothing for a target that does not list the worker',
  );
  assert.deepEqual(reasons(counted, 'dynamo_metrics_events_rejected_total'), {});
  assert.equal(series(text, 'dynamo_metrics_leader').length, 3);
  const s = await status(m);
  assert.deepEqual(s.body.targets.map((x: { path: string }) => x.path).sort(), [
    'dynamo/backend/embed',
    'dynamo/backend/generate',
    'dynamo/router/route',
  ]);
  assert.ok(!JSON.stringify(s.body.targets).includes('other/'), 'no target of another namespace');
});

test('two replicas given six targets spread them through etcd; after a kill -9 the other leads all six within the lease TTL and a cycle', {
  timeout: 180_000,
}, async (t) => {
  const { cluster, defer } = await testCluster(t);
  const nc = await connect({ servers: cluster.nats.url });
  defer(() => nc.close());
  const components = ['c1', 'c2', 'c3', 'c4', 'c5', 'c6'];
  for (const [i, c] of components.entries()) {
    const id = BASE + 100n + BigInt(i);
    defer(await registerDynamoInstances(cluster.etcd.url, [id], 'dynamo', c, 'generate'));
    dynamoShapedWorker(nc, [{ id, data: v4(i + 1) }], [], `dynamo_${c}`, 'generate');
  }
  const target = components.flatMap((c) => ['--target', `dynamo/${c}/generate`]);
  const [a, b] = await Promise.all([startMetrics(cluster, [], {}, { target }), startMetrics(cluster, [], {}, { target })]);
  defer(() => a.proc.stop());
  defer(() => b.proc.stop());
  const led = (x: string): string[] =>
    series(x, 'dynamo_metrics_leader')
      .filter((s) => s.value === 1)
      .map((s) => s.labels.component!)
      .sort();
  // spread: each leads its share (three), together all six, no target twice
  const spread = await waitUntil(
    'the targets spread 3 and 3',
    async () => {
      const [la, lb] = [led(await a.scrape()), led(await b.scrape())];
      return la.length === 3 && lb.length === 3 && new Set([...la, ...lb]).size === 6 ? [la, lb] : undefined;
    },
    30_000,
    200,
  ).catch(async (err: Error) => {
    throw new Error(`${err.message}: a leads ${led(await a.scrape())}, b leads ${led(await b.scrape())}`);
  });
  t.diagnostic(`spread: a leads ${spread[0]!.join(',')}; b leads ${spread[1]!.join(',')}`);
  // each leader exports its targets' workers, and only those: a target it has just won shows its
  // workers from its first cycle on (winning the election and that cycle are two moments)
  const exported = (x: string): string[] =>
    series(x, 'llm_kv_blocks_active')
      .map((s) => s.labels.component ?? '')
      .sort();
  const ta = await waitForScrape(a, "a to export its three targets' workers", (x) => {
    const leading = led(x);
    for (const c of exported(x)) assert.ok(leading.includes(c), `a exports ${c}, which it does not lead (${leading})`);
    return exported(x).length === 3 ? x : undefined;
  });
  assert.deepEqual(exported(ta), spread[0]);

  b.proc.killNow(); // SIGKILL: the lease is left to expire
  const killedAt = Date.now();
  let tookMs = 0;
  await waitForScrape(
    a,
    'a to lead all six with a current view',
    (x) => {
      const ok =
        led(x).length === 6 &&
        series(x, 'dynamo_metrics_view_current').every((s) => s.value === 1) &&
        series(x, 'llm_kv_blocks_active').length === 6;
      if (ok) tookMs = Date.now() - killedAt;
      return ok;
    },
    LEASE_TTL_MS + 20_000,
  );
  t.diagnostic(
    `kill -9 of one replica: the other led all six targets with a current view ${tookMs} ms later (lease TTL ${LEASE_TTL_MS} ms, poll ${POLL_MS} ms)`,
  );
  // bounded by the lease TTL and a cycle; the slack is for a shared machine (the figure is in RELIABILITY.md)
  assert.ok(tookMs <= LEASE_TTL_MS + POLL_MS + 5_000, `take-over ${tookMs} ms after SIGKILL`);
});
