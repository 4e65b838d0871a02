/**
 * etcd down for longer than the lease TTL, with two aggregators and two workers: the worker
 * stats keep flowing over NATS and the leader keeps exporting a current view while saying that
 * etcd is unreachable. etcd comes back empty (a new data dir, as after losing its data): every
 * key and lease is gone, so the workers' keys come back only by re-registration (new leases, so
 * new instance ids, asserted; the leader then exports the workers under those), and exactly one aggregator holds the leader key. (Restarted on its old data, etcd
 * renews every lease it had, so keys never leave: that case proves nothing about re-registration.)
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
  const etcd = new Etcd3({ hosts: cluster.etcd.url });
  defer(() => etcd.close());
  const PREFIX = 'instances/dynamo/my_component/';
  const leases = async (): Promise<Map<string, string>> => new Map((await etcd.getAll().prefix(PREFIX).exec()).kvs.map((kv) => [kv.key.toString(), kv.lease]));
  const before = await leases();
  assert.equal(before.size, 2);

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
  await cluster.etcd.restart({ fresh: true });

  const after = await waitUntil('both workers registered again', async () => {
    const now = await leases().catch(() => new Map<string, string>());
    return now.size === 2 ? now : undefined;
  }, 30_000, 500);
  // a worker's id is its lease id (as in Dynamo): new leases, new instance keys
  for (const [key, lease] of after) {
    assert.ok(!before.has(key), `${key} is a new instance key: registered again`);
    assert.ok(![...before.values()].includes(lease), `${key} is under a new lease`);
  }
  const newIds = [...after.keys()].map((k) => BigInt(`0x${k.split(':').at(-1)}`).toString()).sort();
  const leaders = await waitUntil('exactly one leader', async () => {
    const [ta, tb] = await Promise.all([a.scrape(), b.scrape()]);
    const la = sample(ta, 'dynamo_metrics_leader');
    const lb = sample(tb, 'dynamo_metrics_leader');
    return la !== undefined && lb !== undefined && la + lb === 1 && sample(la === 1 ? ta : tb, 'dynamo_metrics_etcd_reachable') === 1 ? { la, lb } : undefined;
  }, 30_000, 500);
  const key = await etcd.get('metrics/dynamo/my_component/my_endpoint/leader').string();
  assert.ok(key !== null, 'the leader key is held');
  const leader = leaders.la === 1 ? a : b;
  await waitForScrape(leader, 'the leader exports both workers under their new ids', (x) => series(x, 'llm_kv_blocks_active').map((p) => p.labels.worker_id).sort().join() === newIds.join());
  assert.equal(series(await (leaders.la === 1 ? b : a).scrape(), 'llm_kv_blocks_active').length, 0, 'the standby exports none');
  assert.ok(a.proc.running && b.proc.running && w.proc.running);
});
