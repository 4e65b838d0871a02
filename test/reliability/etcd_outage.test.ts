/**
 * etcd down for longer than the lease TTL, with two aggregators and two workers: the worker
 * stats keep flowing over NATS and the leader exports a current view while saying that etcd is
 * unreachable, until its lease could expire unconfirmed: then it stops leading (fencing: it
 * cannot tell an etcd outage from its own partition, in which a standby would take over). etcd comes back empty (a new data dir, as after losing its data): every
 * key and lease is gone, so the workers' keys come back only by re-registration (new leases, so
 * new instance ids, asserted; the leader then exports the workers under those), and exactly one aggregator holds the leader key. (Restarted on its old data, etcd
 * renews every lease it had, so keys never leave: that case proves nothing about re-registration.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Etcd3 } from 'etcd3';
import { connect } from '@nats-io/transport-node';
import { stringifyJson } from '../../src/runtime/json.ts';
import { dynamoEndpoint, dynamoStatsReply, dynamoSubject } from '../support/dynamoStats.ts';
import { sleep, waitUntil } from '../support/process.ts';
import { testCluster } from '../support/servers.ts';
import { startMetrics, startMockWorker, waitForScrape } from '../support/aggregator.ts';
import { reasons, sample, series } from '../support/exposition.ts';

test('etcd down longer than the lease TTL: current view throughout, re-registration, one leader after', async (t) => {
  const { cluster, defer } = await testCluster(t);
  const w = await startMockWorker(cluster, ['--workers', '2']);
  defer(() => w.proc.stop());
  const a = await startMetrics(cluster);
  defer(() => a.proc.stop());
  await waitForScrape(a, 'a leads', (x) => sample(x, 'dynamo_metrics_leader') === 1 && series(x, 'llm_kv_blocks_active').length === 2);
  const b = await startMetrics(cluster);
  defer(() => b.proc.stop());
  await waitForScrape(b, 'b stands by', (x) => sample(x, 'dynamo_metrics_leader') === 0);
  const etcd = new Etcd3({ hosts: cluster.etcd.url });
  defer(() => etcd.close());
  const PREFIX = 'instances/dynamo/my_component/';
  const leases = async (): Promise<Map<string, string>> =>
    new Map((await etcd.getAll().prefix(PREFIX).exec()).kvs.map((kv) => [kv.key.toString(), kv.lease]));
  const before = await leases();
  assert.equal(before.size, 2);

  await cluster.etcd.stop();
  const down = Date.now();
  let sawUnreachable = false;
  let fencedAt: number | undefined;
  while (Date.now() - down < 15_000) {
    const res = await fetch(a.url);
    assert.equal(res.status, 200, "the bridge's own metrics are always served");
    const text = await res.text();
    const at = Date.now() - down;
    const workers = series(text, 'llm_kv_blocks_active').length;
    if (sample(text, 'dynamo_metrics_etcd_reachable') === 0) sawUnreachable = true;
    // stats flow over NATS: the view stays current until the lease could expire unconfirmed
    // (TTL 10 s less the 2 s margin after its last renewal); then the leader fences itself
    if (workers === 0) fencedAt ??= at;
    if (fencedAt === undefined) assert.equal(workers, 2, `at ${at} ms`);
    else assert.equal(workers, 0, `fenced at ${fencedAt} ms, exporting again at ${at} ms`);
    await sleep(500);
  }
  assert.ok(sawUnreachable, 'the health metrics say etcd is unreachable');
  assert.ok(
    fencedAt !== undefined && fencedAt >= 4_000 && fencedAt <= 10_000,
    `the leader stepped down at ${fencedAt} ms, before its lease could expire`,
  );
  assert.equal(sample(await a.scrape(), 'dynamo_metrics_leader'), 0);
  await cluster.etcd.restart({ fresh: true });

  const after = await waitUntil(
    'both workers registered again',
    async () => {
      const now = await leases().catch(() => new Map<string, string>());
      return now.size === 2 ? now : undefined;
    },
    30_000,
    500,
  );
  // a worker's id is its lease id (as in Dynamo): new leases, new instance keys
  for (const [key, lease] of after) {
    assert.ok(!before.has(key), `${key} is a new instance key: registered again`);
    assert.ok(![...before.values()].includes(lease), `${key} is under a new lease`);
  }
  const newIds = [...after.keys()].map((k) => BigInt(`0x${k.split(':').at(-1)}`).toString()).sort();
  const leaders = await waitUntil(
    'exactly one leader',
    async () => {
      const [ta, tb] = await Promise.all([a.scrape(), b.scrape()]);
      const la = sample(ta, 'dynamo_metrics_leader');
      const lb = sample(tb, 'dynamo_metrics_leader');
      return la !== undefined && lb !== undefined && la + lb === 1 && sample(la === 1 ? ta : tb, 'dynamo_metrics_etcd_reachable') === 1
        ? { la, lb }
        : undefined;
    },
    30_000,
    500,
  );
  const key = await etcd.get('metrics/dynamo/my_component/my_endpoint/leader').string();
  assert.ok(key !== null, 'the leader key is held');
  const leader = leaders.la === 1 ? a : b;
  await waitForScrape(
    leader,
    'the leader exports both workers under their new ids',
    (x) =>
      series(x, 'llm_kv_blocks_active')
        .map((p) => p.labels.worker_id)
        .sort()
        .join() === newIds.join(),
  );
  assert.equal(series(await (leaders.la === 1 ? b : a).scrape(), 'llm_kv_blocks_active').length, 0, 'the standby exports none');
  assert.ok(a.proc.running && b.proc.running && w.proc.running);
});

/**
 * While etcd is unreachable, a NATS client answers every stats request with 2,000 invented
 * endpoints and publishes hit-rate events for invented ids. Before this guard: 2,001 workers were
 * exported, and the hit-rate tracker filled with the invented ids until it evicted the real
 * worker's totals. Now only the worker etcd listed before the outage is believed; the others are
 * counted `unverified` and never tracked.
 */
test('etcd down and a NATS client inventing 2,000 workers: none of them is exported or tracked', async (t) => {
  const { cluster, defer } = await testCluster(t);
  const w = await startMockWorker(cluster);
  defer(() => w.proc.stop());
  const real = String(w.ids[0]!);
  const m = await startMetrics(cluster, ['--max-tracked-workers', '100']);
  defer(() => m.proc.stop());
  await waitForScrape(m, 'the real worker with hit-rate totals', (x) =>
    sample(x, 'llm_kv_blocks_active', { worker_id: real }) !== undefined &&
    sample(x, 'llm_kv_hit_rate_isl_blocks_total', { worker_id: real }) !== undefined
      ? x
      : undefined,
  );
  await cluster.etcd.stop();
  await waitForScrape(m, 'etcd seen unreachable', (x) => (sample(x, 'dynamo_metrics_etcd_reachable') === 0 ? x : undefined), 30_000);

  const inventor = await connect({ servers: cluster.nats.url });
  defer(() => inventor.close());
  const base = 5_000_000_000_000_000_000n;
  const invented = Array.from({ length: 2000 }, (_, i) => base + BigInt(i));
  const reply = dynamoStatsReply(
    invented.map((id) =>
      dynamoEndpoint(dynamoSubject(id), '{"request_active_slots":1,"request_total_slots":10,"kv_active_blocks":99,"kv_total_blocks":100}'),
    ),
    'dynamo_my_component',
  );
  inventor.subscribe('$SRV.STATS.dynamo_my_component', { callback: (_e, msg) => void msg.respond(reply) });
  const flood = setInterval(() => {
    for (let i = 0; i < 200; i++)
      inventor.publish(
        'namespace.dynamo.kv-hit-rate',
        stringifyJson({ worker_id: invented[Math.floor(Math.random() * invented.length)]!, isl_blocks: 10, overlap_blocks: 1 }),
      );
  }, 50);
  defer(() => clearInterval(flood));
  await inventor.flush();
  const text = await waitForScrape(
    m,
    'invented workers counted unverified',
    (x) =>
      (reasons(x, 'dynamo_metrics_stats_rejected_total').unverified ?? 0) >= 4000 &&
      (reasons(x, 'dynamo_metrics_events_rejected_total').unverified_worker ?? 0) > 1000
        ? x
        : undefined,
    30_000,
  );
  // the view is exported until the leader fences itself (its lease unconfirmed): while it is, it
  // holds the real worker alone; the tracker never holds an invented id, whatever the moment
  for (let i = 0; i < 6; i++) {
    const x = i === 0 ? text : await m.scrape();
    const exported = series(x, 'llm_kv_blocks_active').map((s) => s.labels.worker_id);
    assert.ok(
      exported.length === 0 || (exported.length === 1 && exported[0] === real),
      `only the worker etcd listed before the outage: ${exported.length} exported`,
    );
    assert.equal(sample(x, 'dynamo_metrics_hit_rate_workers_tracked'), 1, 'the tracker holds the real worker alone');
    assert.equal(sample(x, 'dynamo_metrics_hit_rate_workers_dropped_total'), 0, 'nobody evicted from the tracker');
    assert.ok((sample(x, 'llm_load_avg', { component: 'my_component', endpoint: 'my_endpoint' }) ?? 0) <= 100);
    await sleep(500);
  }
  t.diagnostic(
    `with etcd down: 1 worker exported of 2,001 answering; ${reasons(text, 'dynamo_metrics_stats_rejected_total').unverified} answers unverified`,
  );
});
