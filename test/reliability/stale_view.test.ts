/**
 * A view that cannot be vouched for is never exported as fresh: when scrape cycles stop
 * completing (a cycle stuck: injected here by replacing the aggregator's cycle with one that
 * never ends) while NATS and leadership look fine, every scrape answers 503 once the latest
 * cycle is older than 3 poll intervals (at least 5 s), not before, and 200 again once cycles
 * complete. Real nats-server, etcd and mock worker; the pull server is the product's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Aggregator, MIN_STALE_AFTER_MS, STALE_AFTER_POLL_INTERVALS } from '../../src/aggregator/Aggregator.ts';
import { loadExportConfig } from '../../src/export/options.ts';
import { MetricsPipeline } from '../../src/export/index.ts';
import { DistributedRuntime } from '../../src/runtime/index.ts';
import { cleanups, freePort, waitUntil } from '../support/process.ts';
import { startCluster } from '../support/servers.ts';
import { startMockWorker } from '../support/aggregator.ts';
import { series } from '../support/exposition.ts';

const POLL_MS = 1_000;

test('cycles that stop completing: 503 once the view is older than 3 poll intervals (at least 5 s), 200 again after', { timeout: 120_000 }, async (t) => {
  const defer = cleanups(t);
  const cluster = await startCluster();
  defer(() => cluster.stop());
  const w = await startMockWorker(cluster);
  defer(() => w.proc.stop());
  const port = await freePort();
  const pipeline = new MetricsPipeline(loadExportConfig({ argv: ['--prometheus-host', '127.0.0.1', '--prometheus-port', String(port)], env: {} }, { serviceName: 'stale' }), { global: false });
  await pipeline.start();
  defer(() => pipeline.shutdown());
  const drt = await DistributedRuntime.connect({ nats: { servers: [cluster.nats.url] }, etcd: { endpoints: [cluster.etcd.url] } });
  defer(() => drt.shutdown());
  const agg = new Aggregator(drt, { namespace: 'dynamo', component: 'my_component', endpoint: 'my_endpoint', pollIntervalMs: POLL_MS });
  agg.attach(pipeline);
  await agg.start();
  const url = `http://127.0.0.1:${port}/metrics`;
  const scrape = async (): Promise<{ status: number; text: string }> => {
    const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
    return { status: res.status, text: await res.text() };
  };
  await waitUntil('the worker exported', async () => {
    const r = await scrape();
    return r.status === 200 && series(r.text, 'llm_kv_blocks_active').length === 1 ? true : undefined;
  }, 30_000, 100);

  // inject: the next cycle never ends (the cycle in flight finishes normally)
  const internals = agg as unknown as { doCycle: () => Promise<unknown> };
  const realCycle = internals.doCycle.bind(agg);
  let release: (() => void) | undefined;
  let stuckAt = 0;
  internals.doCycle = () =>
    new Promise((resolve) => {
      stuckAt ||= performance.now();
      release = () => resolve(undefined);
    });
  defer(async () => {
    internals.doCycle = realCycle;
    release?.();
    await agg.stop();
  });
  await waitUntil('a cycle stuck', () => (stuckAt > 0 ? true : undefined), 10_000, 20);
  const lastGood = agg.health.lastCycleUnixSeconds! * 1000;
  const staleAfter = Math.max(STALE_AFTER_POLL_INTERVALS * POLL_MS, MIN_STALE_AFTER_MS);

  // until the bound: 200 with the last view; after it: 503, never 200
  const first503 = await waitUntil('a 503', async () => {
    const r = await scrape();
    const age = Date.now() - lastGood;
    if (r.status === 200) {
      assert.ok(age <= staleAfter + 250, `a 200 at ${age} ms, after the ${staleAfter} ms bound`);
      return undefined;
    }
    return { ...r, age };
  }, 30_000, 100);
  t.diagnostic(`first 503 when the view was ${first503.age} ms old (bound ${staleAfter} ms)`);
  assert.equal(first503.status, 503);
  assert.match(first503.text, /the latest scrape cycle is \d+\.\d s old/);
  assert.ok(first503.age >= staleAfter - 250, `not stale before the bound (${first503.age} ms)`);
  for (let i = 0; i < 3; i++) assert.equal((await scrape()).status, 503, 'every scrape while stuck');

  // cycles complete again: fresh and 200
  internals.doCycle = realCycle;
  release?.();
  await waitUntil('200 again', async () => ((await scrape()).status === 200 ? true : undefined), 15_000, 100);
});
