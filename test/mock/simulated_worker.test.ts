/**
 * `mock_worker --model` against real nats-server and etcd: the model card in etcd, token streams
 * in the engine-output shape, stats and hit-rate events that follow from the requests.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Etcd3 } from 'etcd3';
import { MockWorkers } from '../../src/mock/MockWorker.ts';
import { DistributedRuntime } from '../../src/runtime/DistributedRuntime.ts';
import { decodeModelCard, modelCardsPrefix } from '../../src/runtime/modelCard.ts';
import { KV_HIT_RATE_EVENT } from '../../src/runtime/names.ts';
import { testCluster } from '../support/servers.ts';
import { waitUntil } from '../support/process.ts';

test('a simulated worker registers its model card, streams tokens and reports what it served', async (t) => {
  const { cluster, defer } = await testCluster(t);
  const env = { nats: { servers: [cluster.nats.url] }, etcd: { endpoints: [cluster.etcd.url] } };
  const workers = await MockWorkers.start({
    namespace: 'dynamo',
    component: 'backend',
    endpoint: 'generate',
    workers: 1,
    hitRateIntervalMs: 1000,
    ...env,
    engine: {
      model: 'sim-llama',
      config: { slots: 4, kvBlocks: 64, blockSize: 4, decodeTokensPerSecond: 1000, prefillTokensPerSecond: 1e6, jitter: 0 },
    },
  });
  defer(() => workers.stop());
  const id = workers.ids[0]!;

  const etcd = new Etcd3({ hosts: cluster.etcd.url });
  defer(() => etcd.close());
  const cards = await etcd.getAll().prefix(modelCardsPrefix('dynamo')).strings();
  const entries = Object.entries(cards).map(([k, v]) => decodeModelCard(k, v));
  assert.deepEqual(entries, [
    {
      namespace: 'dynamo',
      component: 'backend',
      endpoint: 'generate',
      instanceId: id,
      card: {
        displayName: 'sim-llama',
        contextLength: 8192,
        kvCacheBlockSize: 4,
        migrationLimit: 0,
        totalKvBlocks: 64,
        maxNumSeqs: 4,
        maxNumBatchedTokens: 8192,
      },
    },
  ]);

  const client = await DistributedRuntime.connect(env);
  defer(() => client.shutdown());
  const events: unknown[] = [];
  client.namespace('dynamo').subscribe(KV_HIT_RATE_EVENT, (e) => events.push(e.json()));
  const c = await client.namespace('dynamo').component('backend').endpoint('generate').client();
  await c.waitForInstances(1);
  const prompt = { token_ids: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], stop_conditions: { max_tokens: 3 }, model: 'sim-llama' };
  const first = (await c.roundRobin(prompt).collect()).map((ch) => ch.json<Record<string, unknown>>());
  assert.equal(first.length, 3);
  assert.deepEqual(first[2]?.completion_usage, {
    prompt_tokens: 10,
    completion_tokens: 3,
    total_tokens: 13,
    prompt_tokens_details: { cached_tokens: 0 },
  });
  const second = (await c.roundRobin(prompt).collect()).map((ch) => ch.json<Record<string, unknown>>());
  assert.deepEqual(second[2]?.completion_usage, {
    prompt_tokens: 10,
    completion_tokens: 3,
    total_tokens: 13,
    prompt_tokens_details: { cached_tokens: 8 },
  });
  await waitUntil('two hit-rate events', () => events.length === 2, 5000);
  assert.deepEqual(events, [
    { worker_id: id, isl_blocks: 2, overlap_blocks: 0 },
    { worker_id: id, isl_blocks: 2, overlap_blocks: 2 },
  ]);

  const bad = c.roundRobin({ token_ids: 'not tokens' });
  await assert.rejects(bad.collect(), /token_ids is not a list of token ids/);

  const stats = await client.nats.request('$SRV.STATS.dynamo_backend', new Uint8Array(0), { timeout: 2000 });
  const data = (stats.json() as { endpoints: { data: Record<string, unknown> }[] }).endpoints[0]?.data;
  assert.deepEqual(data, {
    request_active_slots: 0,
    request_total_slots: 4,
    kv_active_blocks: 0,
    kv_total_blocks: 64,
    num_requests_waiting: 0,
    gpu_cache_usage_perc: 0,
    gpu_prefix_cache_hit_rate: 0.5,
    data_parallel_rank: null,
  });
});
