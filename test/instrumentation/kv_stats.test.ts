/**
 * Workers measure their own KV cache: an endpoint served with a stats handler shows Dynamo's
 * `dynamo_component_kvstats_*` gauges on the worker's own status server, with the endpoint's
 * `dynamo_*` labels and its `worker_id`, read at each scrape (not per request), with no aggregator
 * running; every ForwardPassMetrics form is read; a handler that fails gives no series (counted)
 * and the others stay; the series go when the endpoint stops. Real NATS and etcd.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startInstrumentedWorker } from '../support/instrumented.ts';
import { promtool } from '../support/promtool.ts';
import { sample, series } from '../support/exposition.ts';

test('KV stats gauges on the worker /metrics: every form, labels, read at scrape, gone when the endpoint stops', {
  timeout: 120_000,
}, async (t) => {
  const { drt, scrape } = await startInstrumentedWorker(t);

  let reads = 0;
  let active = 40;
  const flat = await drt
    .namespace('kv-ns')
    .component('backend')
    .endpoint('generate')
    .serve(() => 'ok', {
      statsHandler: () => {
        reads++;
        return {
          request_active_slots: 1,
          request_total_slots: 10,
          kv_active_blocks: active,
          kv_total_blocks: 100,
          num_requests_waiting: 0,
          gpu_cache_usage_perc: active / 100,
          gpu_prefix_cache_hit_rate: 0.25,
        };
      },
    });
  // the nested v4 form, answered asynchronously
  await drt
    .namespace('kv-ns')
    .component('prefill')
    .endpoint('generate')
    .serve(() => 'ok', {
      statsHandler: async () => ({
        worker_stats: { data_parallel_rank: null, request_active_slots: 2, request_total_slots: 8, num_requests_waiting: 1 },
        kv_stats: { kv_active_blocks: 7, kv_total_blocks: 64, gpu_cache_usage_perc: 0.109375, gpu_prefix_cache_hit_rate: 0.5 },
        spec_decode_stats: null,
      }),
    });
  // a handler that fails: no series for it, the others unaffected
  await drt
    .namespace('kv-ns')
    .component('broken')
    .endpoint('generate')
    .serve(() => 'ok', {
      statsHandler: () => {
        throw new Error('engine not ready');
      },
    });

  const backend = {
    dynamo_namespace: 'kv_ns',
    dynamo_component: 'backend',
    dynamo_endpoint: 'generate',
    worker_id: drt.instanceId.toString(),
  };
  const prefill = { ...backend, dynamo_component: 'prefill' };
  const readsBefore = reads;
  let text = await scrape();
  assert.equal(reads, readsBefore + 1, 'read once per scrape');
  assert.equal(sample(text, 'dynamo_component_kvstats_active_blocks', backend), 40);
  assert.equal(sample(text, 'dynamo_component_kvstats_total_blocks', backend), 100);
  assert.equal(sample(text, 'dynamo_component_kvstats_gpu_cache_usage_percent', backend), 0.4);
  assert.equal(sample(text, 'dynamo_component_kvstats_gpu_prefix_cache_hit_rate', backend), 0.25);
  assert.equal(sample(text, 'dynamo_component_kvstats_active_blocks', prefill), 7);
  assert.equal(sample(text, 'dynamo_component_kvstats_total_blocks', prefill), 64);
  assert.equal(sample(text, 'dynamo_component_kvstats_gpu_cache_usage_percent', prefill), 0.109375);
  assert.equal(series(text, 'dynamo_component_kvstats_active_blocks').length, 2, 'none for the failing handler');
  promtool(text);
  // the failure is counted as the handlers are read, after the counters of that scrape: it shows from the next one
  assert.ok((sample(await scrape(), 'dynamo_component_kvstats_read_failures_total', { reason: 'error' }) ?? 0) >= 1);

  // requests do not read the stats handler; a scrape reads the current value
  const client = await drt.namespace('kv-ns').component('backend').endpoint('generate').client();
  const before = reads;
  for (let i = 0; i < 20; i++) await client.random({ text: 'x' }).collect();
  assert.equal(reads, before, 'no read on the request path');
  active = 55;
  text = await scrape();
  assert.equal(sample(text, 'dynamo_component_kvstats_active_blocks', backend), 55);

  // the endpoint stops: its series go at the next scrape
  await flat.stop();
  text = await scrape();
  assert.equal(sample(text, 'dynamo_component_kvstats_active_blocks', backend), undefined);
  assert.equal(sample(text, 'dynamo_component_kvstats_active_blocks', prefill), 7);
});
