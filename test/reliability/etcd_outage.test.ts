/**
 * etcd down for longer than the lease TTL, with two aggregators and two workers: the worker
 * stats keep flowing over NATS and the leader keeps exporting a current view while saying that
 * etcd is unreachable; when etcd is back, workers are registered again and exactly one
 * aggregator holds the leader key.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Etcd3 } from 'etcd3';
import { cleanups, sleep, waitUntil } from '../support/process.ts';
import { startCluster } from '../support/servers.ts';
import { startMetrics, startMockWorker, waitForScrape } from '../support/aggregator.ts';
import { sample, series } from '../support/exposition.ts';

test('etcd down longer than the lease TTL: current view throughout, re-registration, one leader after', async (t) => {
  const defer = cleanups(t);
  const cluster = await startCluster();
  defer(() => cluster.stop());
  const w = await startMockWorker(cluster, ['--workers', '2']);
  defer(() => w.proc.stop());
  const a = await startMetrics(cluster);
  defer(() => a.proc.stop());
  await waitForScrape(a, 'a leads', (x) => sample(x, 'dynamo_metrics_leader') === 1 && series(x, 'llm_kv_blocks_active').length === 2);
  const b = await startMetrics(cluster);
  defer(() => b.proc.stop());
  await waitForScrape(b, 'b stands by', (x) => sample(x, 'dynamo_metrics_leader') === 0);

  await cluster.etcd.stop();
  const down = Date.now();
  let sawUnreachable = false;
  while (Date.now() - down < 15_000) {
    const res = await fetch(a.url);
    assert.equal(res.status, 200, 'stats still flow over NATS: the view is current');
    const text = await res.text();
    assert.equal(series(text, 'llm_kv_blocks_active').length, 2);
    if (sample(text, 'dynamo_metrics_etcd_reachable') === 0) sawUnreachable = true;
    await sleep(500);
  }
  assert.ok(sawUnreachable, 'the health metrics say etcd is unreachable');
  await cluster.etcd.restart();

  const etcd = new Etcd3({ hosts: cluster.etcd.url });
  defer(() => etcd.close());
  await waitUntil('both workers registered', async () => Object.keys(await etcd.getAll().prefix('instances/dynamo/my_component/').strings()).length === 2, 30_000, 500);
  const leaders = await waitUntil('exactly one leader', async () => {
    const [ta, tb] = await Promise.all([a.scrape(), b.scrape()]);
    const la = sample(ta, 'dynamo_metrics_leader');
    const lb = sample(tb, 'dynamo_metrics_leader');
    return la !== undefined && lb !== undefined && la + lb === 1 && sample(la === 1 ? ta : tb, 'dynamo_metrics_etcd_reachable') === 1 ? { la, lb } : undefined;
  }, 30_000, 500);
  const key = await etcd.get('metrics/dynamo/my_component/my_endpoint/leader').string();
  assert.ok(key !== null, 'the leader key is held');
  const leader = leaders.la === 1 ? a : b;
  await waitForScrape(leader, 'the leader exports both workers', (x) => series(x, 'llm_kv_blocks_active').length === 2);
  assert.equal(series(await (leaders.la === 1 ? b : a).scrape(), 'llm_kv_blocks_active').length, 0, 'the standby exports none');
  assert.ok(a.proc.running && b.proc.running && w.proc.running);
});
