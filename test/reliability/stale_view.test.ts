/**
 * A view that cannot be vouched for is never exported as fresh: when scrape cycles stop
 * completing (a cycle stuck: injected here by replacing the aggregator's cycle with one that
 * never ends) while NATS and leadership look fine, every scrape leaves the worker series out
 * once the latest cycle is older than 3 poll intervals (at least 5 s), not before, and still
 * answers 200 with the bridge's health (`dynamo_metrics_view_current 0`); the worker series come
 * back once cycles complete. Real nats-server, etcd and mock worker; the pull server is the product's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Aggregator, MIN_STALE_AFTER_MS, STALE_AFTER_POLL_INTERVALS } from '../../src/aggregator/Aggregator.ts';
import { loadExportConfig } from '../../src/export/options.ts';
import { MetricsPipeline } from '../../src/export/index.ts';
import { DistributedRuntime } from '../../src/runtime/index.ts';
import { freePort, waitUntil } from '../support/process.ts';
import { testCluster } from '../support/servers.ts';
import { startMockWorker } from '../support/aggregator.ts';
import { sample, series } from '../support/exposition.ts';

const POLL_MS = 1_000;

test('cycles that stop completing: worker series withheld once the view is older than 3 poll intervals (at least 5 s), back after', {
  timeout: 120_000,
}, async (t) => {
  const { cluster, defer } = await testCluster(t);
  const w = await startMockWorker(cluster);
  defer(() => w.proc.stop());
  const port = await freePort();
  const pipeline = new MetricsPipeline(
    loadExportConfig({ argv: ['--prometheus-host', '127.0.0.1', '--prometheus-port', String(port)], env: {} }, { serviceName: 'stale' }),
    { global: false },
  );
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
  await waitUntil(
    'the worker exported',
    async () => {
      const r = await scrape();
      return r.status === 200 && series(r.text, 'llm_kv_blocks_active').length === 1 ? true : undefined;
    },
    30_000,
    100,
  );

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

  // until the bound: the last view; after it: the bridge's health without the worker series
  const workers = (text: string): number => series(text, 'llm_kv_blocks_active').length;
  const firstWithheld = await waitUntil(
    'the worker series withheld',
    async () => {
      const r = await scrape();
      const age = Date.now() - lastGood;
      assert.equal(r.status, 200, "the bridge's own metrics are always served");
      if (workers(r.text) === 1) {
        assert.ok(age <= staleAfter + 250, `the worker exported at ${age} ms, after the ${staleAfter} ms bound`);
        return undefined;
      }
      return { ...r, age };
    },
    30_000,
    100,
  );
  t.diagnostic(`worker series first withheld when the view was ${firstWithheld.age} ms old (bound ${staleAfter} ms)`);
  assert.equal(sample(firstWithheld.text, 'dynamo_metrics_view_current'), 0);
  assert.equal(sample(firstWithheld.text, 'dynamo_metrics_leader'), 1);
  assert.ok(firstWithheld.age >= staleAfter - 250, `not stale before the bound (${firstWithheld.age} ms)`);
  for (let i = 0; i < 3; i++) assert.equal(workers((await scrape()).text), 0, 'every scrape while stuck');

  // cycles complete again: the worker exported again
  internals.doCycle = realCycle;
  release?.();
  await waitUntil(
    'the worker again',
    async () => {
      const r = await scrape();
      return workers(r.text) === 1 && sample(r.text, 'dynamo_metrics_view_current') === 1 ? true : undefined;
    },
    15_000,
    100,
  );
});
