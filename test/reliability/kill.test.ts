/**
 * Processes killed under load: a worker SIGKILLed mid-request and mid-stream (clients get an
 * error, not a hang; its series leave; statistics cover the survivors), and the leader
 * aggregator SIGKILLed while events flow (the standby leads within the lease TTL and no worker
 * series is ever exported by both).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from '@nats-io/transport-node';
import { Etcd3 } from 'etcd3';
import { withTimeout } from '../../src/time.ts';
import { DistributedRuntime, InstanceGoneError } from '../../src/runtime/index.ts';
import { stringifyJson } from '../../src/runtime/json.ts';
import { sleep, waitUntil } from '../support/process.ts';
import { testCluster } from '../support/servers.ts';
import { LABELS, startMetrics, startMockWorker, waitForScrape } from '../support/aggregator.ts';
import { startEchoWorker } from '../support/workers.ts';
import { sample, series } from '../support/exposition.ts';

test('a worker SIGKILLed mid-request and mid-stream: errors, not hangs; the aggregate covers the survivors', async (t) => {
  const { cluster, defer } = await testCluster(t);
  // echo workers serve test/echo/generate; mock workers my_component for the aggregator
  const [a, b] = await Promise.all([startEchoWorker(cluster), startEchoWorker(cluster)]);
  defer(() => b.proc.stop());
  const drt = await DistributedRuntime.connect({
    nats: { servers: [cluster.nats.url] },
    etcd: { endpoints: [cluster.etcd.url] },
    requestTimeoutMs: 30_000,
  });
  defer(() => drt.shutdown());
  const client = await drt.namespace('test').component('echo').endpoint('generate').client();
  await client.waitForInstances(2);
  const midRequest = client.direct({ sleepMs: 60_000 }, a.id).collect();
  const got: number[] = [];
  const midStream = (async () => {
    for await (const c of client.direct({ chunks: 10_000, chunkDelayMs: 20 }, a.id)) got.push(c.json<{ i: number }>().i);
  })();
  await waitUntil('the stream to be under way', () => got.length > 5, 10_000);
  const killedAt = Date.now();
  await a.proc.kill();
  const outcomes = await Promise.allSettled([midRequest, midStream]);
  const tookMs = Date.now() - killedAt;
  for (const o of outcomes) {
    assert.equal(o.status, 'rejected');
    assert.ok(
      (o as PromiseRejectedResult).reason instanceof InstanceGoneError,
      `the instance is gone, said as such: ${String((o as PromiseRejectedResult).reason)}`,
    );
  }
  assert.ok(tookMs < 15_000, `errors within the lease TTL, not a hang (${tookMs} ms)`);
  for (let i = 1; i < got.length; i++) assert.equal(got[i], got[i - 1]! + 1, 'chunks in order, none duplicated');
  // new requests go to the survivor
  const [c] = await client.random({ text: 'x' }).collect();
  assert.equal(c!.json<{ worker: bigint }>().worker, b.id);

  // the aggregator side: a mock worker killed, the statistics cover the survivors. The promise
  // measured here is the etcd one: series gone within 2 poll intervals after etcd removes the
  // worker's key (missed cycles are set high so that only the key's removal can drop it).
  const w1 = await startMockWorker(cluster);
  const w2 = await startMockWorker(cluster, ['--workers', '2']);
  defer(() => w2.proc.stop());
  const m = await startMetrics(cluster, ['--max-missed-cycles', '1000']);
  defer(() => m.proc.stop());
  await waitForScrape(m, 'three workers', (x) => series(x, 'llm_kv_blocks_active').length === 3);
  const etcd = new Etcd3({ hosts: cluster.etcd.url });
  defer(() => etcd.close());
  const key = (await etcd.getAll().prefix('instances/').keys()).find((k) => k.endsWith(`:${w1.ids[0]!.toString(16)}`));
  assert.ok(key !== undefined, 'the killed worker is registered');
  const watcher = await etcd.watch().key(key).create();
  defer(() => watcher.cancel());
  const deleted = new Promise<number>((resolve) => watcher.on('delete', () => resolve(performance.now())));
  await w1.proc.kill();
  // until its lease expires (TTL 10 s) etcd still lists it: kept, counted as missing
  const missing = await waitForScrape(m, 'the killed worker counted missing', (x) =>
    (sample(x, 'dynamo_metrics_workers_missing') ?? 0) >= 1 ? x : undefined,
  );
  assert.equal(series(missing, 'llm_kv_blocks_active').length, 3, 'a worker that misses cycles keeps its last stats');
  const deletedAt = await withTimeout(deleted, 30_000, () => new Error('etcd never removed the killed worker'));
  const text = await waitForScrape(m, 'two workers', (x) => (series(x, 'llm_kv_blocks_active').length === 2 ? x : undefined), 30_000);
  const goneMs = performance.now() - deletedAt;
  t.diagnostic(`series gone ${goneMs.toFixed(0)} ms after etcd removed the key (promise: 2 poll intervals = 2000 ms)`);
  assert.ok(goneMs <= 2 * 1_000, `series gone within 2 poll intervals of the key's removal (${goneMs.toFixed(0)} ms)`);
  assert.equal(sample(text, 'dynamo_metrics_workers_dropped_total', { reason: 'deregistered' }), 1);
  const vals = series(text, 'llm_kv_blocks_active');
  assert.deepEqual(vals.map((s) => s.labels.worker_id).sort(), w2.ids.map(String).sort());
  assert.equal(sample(text, 'llm_load_avg', LABELS), (vals[0]!.value + vals[1]!.value) / 2);
});

test('the leader aggregator SIGKILLed under load: the standby leads within the lease TTL; never two exporters of worker series', async (t) => {
  const { cluster, defer } = await testCluster(t);
  const w = await startMockWorker(cluster, ['--workers', '20', '--hit-rate-interval', '50ms']);
  defer(() => w.proc.stop());
  const a = await startMetrics(cluster);
  defer(() => a.proc.stop());
  await waitForScrape(a, 'a leads', (x) => series(x, 'llm_kv_blocks_active').length === 20);
  const b = await startMetrics(cluster);
  defer(() => b.proc.stop());
  await waitForScrape(b, 'b stands by', (x) => sample(x, 'dynamo_metrics_leader') === 0);
  // extra event load from the test
  const nc = await connect({ servers: cluster.nats.url });
  defer(() => nc.close());
  let load = true;
  const loader = (async () => {
    while (load) {
      for (let i = 0; i < 500; i++)
        nc.publish(
          'namespace.dynamo.kv-hit-rate',
          stringifyJson({ worker_id: w.ids[i % w.ids.length]!, isl_blocks: 10, overlap_blocks: 3 }),
        );
      await nc.flush();
      await sleep(20);
    }
  })();
  defer(async () => {
    load = false;
    await loader;
  });
  const both: number[] = [];
  let killedAt = 0;
  let ledAt = 0;
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (killedAt === 0 && Date.now() > deadline - 28_000) {
      await a.proc.kill();
      killedAt = Date.now();
    }
    const [ta, tb] = await Promise.all([
      a.proc.running
        ? fetch(a.url)
            .then((r) => r.text())
            .catch(() => '')
        : '',
      fetch(b.url).then((r) => r.text()),
    ]);
    const na = series(ta, 'llm_kv_blocks_active').length;
    const nb = series(tb, 'llm_kv_blocks_active').length;
    if (na > 0 && nb > 0) both.push(Date.now());
    if (killedAt && nb === 20 && ledAt === 0) ledAt = Date.now();
    if (ledAt) break;
    await sleep(100);
  }
  assert.deepEqual(both, [], 'no moment with worker series on both instances');
  assert.ok(ledAt > 0, 'the standby took over');
  assert.ok(ledAt - killedAt < 15_000, `take-over ${ledAt - killedAt} ms after SIGKILL`);
  const text = await b.scrape();
  assert.equal(sample(text, 'dynamo_metrics_leader'), 1);
  assert.ok(sample(text, 'dynamo_metrics_events_total')! > 1000, 'the standby counted events all along');
  t.diagnostic(`take-over ${ledAt - killedAt} ms after SIGKILL of the leader`);
});
