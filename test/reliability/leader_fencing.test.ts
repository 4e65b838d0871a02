/**
 * One leader at a time when the leader's etcd traffic stalls (a proxy that freezes it: nothing is
 * refused, nothing passes), which a kill does not reproduce. Before fencing, the standby took the
 * lead after 9 s and the old leader went on exporting worker series for 29.9 s more, with
 * `dynamo_metrics_etcd_reachable` still 1 for at least 24 s. Now the stalled leader stops
 * exporting before its lease can expire, so before the standby can lead, and reports etcd
 * unreachable within the lease TTL.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sleep, waitUntil } from '../support/process.ts';
import { testCluster } from '../support/servers.ts';
import { startMetrics, startMockWorker, waitForScrape } from '../support/aggregator.ts';
import { sample, series } from '../support/exposition.ts';
import { FreezeProxy } from '../support/freezeProxy.ts';

const LEASE_TTL_MS = 10_000;

test('a leader whose etcd traffic is frozen stops exporting before the standby leads; never two leaders', async (t) => {
  const { cluster, defer } = await testCluster(t);
  const w = await startMockWorker(cluster, ['--workers', '2']);
  defer(() => w.proc.stop());
  const etcdUrl = new URL(cluster.etcd.url);
  const proxy = await new FreezeProxy(etcdUrl.hostname, Number(etcdUrl.port)).start();
  defer(() => proxy.stop());
  const a = await startMetrics(cluster, [], { ETCD_ENDPOINTS: proxy.url });
  defer(() => a.proc.stop());
  await waitForScrape(a, 'a leads', (x) => sample(x, 'dynamo_metrics_leader') === 1 && series(x, 'llm_kv_blocks_active').length === 2);
  const b = await startMetrics(cluster);
  defer(() => b.proc.stop());
  await waitForScrape(b, 'b stands by', (x) => sample(x, 'dynamo_metrics_leader') === 0);

  proxy.freeze();
  const frozenAt = Date.now();
  let aStopped: number | undefined;
  let bStarted: number | undefined;
  let aUnreachable: number | undefined;
  const both: number[] = [];
  while (bStarted === undefined || aStopped === undefined || aUnreachable === undefined) {
    const at = Date.now() - frozenAt;
    assert.ok(at < 60_000, `after 60 s: a stopped ${aStopped}, b started ${bStarted}, a unreachable ${aUnreachable}`);
    const [ta, tb] = await Promise.all([a.scrape(), b.scrape()]);
    const aExports = series(ta, 'llm_kv_blocks_active').length > 0;
    const bExports = series(tb, 'llm_kv_blocks_active').length > 0;
    if (!aExports) aStopped ??= at;
    if (bExports) bStarted ??= at;
    if (sample(ta, 'dynamo_metrics_etcd_reachable') === 0) aUnreachable ??= at;
    if (aExports && bExports) both.push(at);
    await sleep(100);
  }
  t.diagnostic(
    `frozen leader: stopped exporting at ${aStopped} ms, etcd unreachable at ${aUnreachable} ms; the standby led at ${bStarted} ms`,
  );
  assert.deepEqual(both, [], 'never both exporting worker series');
  assert.ok(aStopped < bStarted, `the old leader stopped (${aStopped} ms) before the standby led (${bStarted} ms)`);
  assert.ok(aUnreachable <= LEASE_TTL_MS, `etcd reported unreachable within the lease TTL (${aUnreachable} ms)`);
  assert.equal(sample(await a.scrape(), 'dynamo_metrics_leader'), 0);

  // thawed: the old leader finds the key held by the other and stays a standby
  proxy.thaw();
  await waitUntil(
    'etcd reachable again on the old leader',
    async () => (sample(await a.scrape(), 'dynamo_metrics_etcd_reachable') === 1 ? true : undefined),
    60_000,
    200,
  );
  for (let i = 0; i < 5; i++) {
    const [ta, tb] = await Promise.all([a.scrape(), b.scrape()]);
    assert.equal((sample(ta, 'dynamo_metrics_leader') ?? 0) + (sample(tb, 'dynamo_metrics_leader') ?? 0), 1, 'exactly one leader');
    assert.equal(series(ta, 'llm_kv_blocks_active').length, 0);
    assert.equal(series(tb, 'llm_kv_blocks_active').length, 2);
    await sleep(300);
  }
});
