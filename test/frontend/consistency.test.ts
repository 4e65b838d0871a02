/**
 * The LLM metrics agree with the traffic that happened, end to end on real nats-server and etcd:
 * `loadgen` drives a frontend (KV-aware routing) and four simulated workers while `metrics`
 * aggregates them. The frontend's output tokens equal what the generator received; the
 * aggregator's prefix hits equal the prefix reuse the generator put into the traffic, exactly
 * (a cache large enough never to evict); the frontend's active requests equal the workers' active
 * slots within one aggregation cycle.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runLoad } from '../../src/loadgen/LoadGenerator.ts';
import { buildWorkload } from '../../src/loadgen/workload.ts';
import { startMetrics } from '../support/aggregator.ts';
import { sample, series } from '../support/exposition.ts';
import { waitUntil } from '../support/process.ts';
import { testCluster } from '../support/servers.ts';
import { startSimulatedWorkers, startTestFrontend, waitForModel } from '../support/llm.ts';

const MODEL = 'sim-consistency';
const TARGET = ['--component', 'backend', '--endpoint', 'generate'];

function sum(text: string, name: string): number {
  return series(text, name).reduce((s, p) => s + p.value, 0);
}

test('loadgen, frontend, four simulated workers and the aggregator agree on tokens, hits and load', async (t) => {
  const { cluster, defer } = await testCluster(t);
  const workers = await startSimulatedWorkers(cluster, MODEL, 4, {
    blockSize: 16,
    kvBlocks: 100_000,
    slots: 64,
    decodeTokensPerSecond: 400,
    prefillTokensPerSecond: 1e6,
    jitter: 0.1,
    seed: 3,
  });
  defer(() => workers.stop());
  const metrics = await startMetrics(cluster, [], {}, { target: TARGET });
  defer(() => metrics.proc.stop());
  await waitUntil(
    'the aggregator sees the four workers',
    async () => series(await metrics.scrape(), 'llm_requests_total_slots').length === 4,
    20_000,
  );

  const fe = await startTestFrontend(cluster, ['--router-mode', 'kv'], {});
  defer(() => fe.stop());
  await waitForModel(fe, MODEL, 4);

  const workload = buildWorkload({
    requests: 80,
    inputTokens: 100,
    inputTokensStddev: 20,
    outputTokens: 12,
    outputTokensStddev: 4,
    prefixShare: 0.6,
    prefixTokens: 50,
    prefixes: 3,
    blockSize: 16,
    seed: 11,
  });
  assert.ok(
    workload.some((w) => w.reusedBlocks > 0),
    'the workload reuses prefixes',
  );
  const { report } = await runLoad(workload, {
    url: fe.frontend.url,
    model: MODEL,
    api: 'chat',
    stream: true,
    concurrency: 8,
    rate: 0,
    timeoutMs: 30_000,
    seed: 11,
  });
  assert.equal(report.completed, 80, JSON.stringify(report.failures));

  const frontendText = await (await fetch(`${fe.frontend.url}/metrics`)).text();
  assert.equal(
    sample(frontendText, 'dynamo_frontend_output_tokens_total', { model: MODEL }),
    report.outputTokens,
    'output tokens: frontend = client',
  );
  assert.equal(
    report.outputTokens,
    workload.reduce((s, w) => s + w.maxTokens, 0),
  );

  // every admitted request's hit-rate event reached the aggregator
  await waitUntil(
    'the aggregator counted every prompt block',
    async () => sum(await metrics.scrape(), 'llm_kv_hit_rate_isl_blocks_total') === report.prefixBlocks,
    10_000,
  );
  const aggText = await metrics.scrape();
  assert.equal(
    sum(aggText, 'llm_kv_hit_rate_overlap_blocks_total'),
    report.reusedPrefixBlocks,
    'prefix hits: aggregator = the reuse the generator put in',
  );
  assert.equal(report.cachedTokens, report.reusedPrefixBlocks * 16, 'and the cached tokens the workers reported to the client');

  // steady load: long requests keep 6 in flight; the aggregator's next cycle sees them on the workers
  const long = buildWorkload({
    ...{
      requests: 6,
      inputTokens: 40,
      inputTokensStddev: 0,
      outputTokens: 2000,
      outputTokensStddev: 0,
      prefixShare: 0,
      prefixTokens: 1,
      prefixes: 0,
      blockSize: 16,
    },
    seed: 12,
  });
  const running = runLoad(long, {
    url: fe.frontend.url,
    model: MODEL,
    api: 'chat',
    stream: true,
    concurrency: 6,
    rate: 0,
    timeoutMs: 60_000,
    seed: 12,
  });
  await waitUntil('six requests in flight at the frontend', () => fe.metrics.load(MODEL).inflight === 6, 10_000);
  const active = sample(await (await fetch(`${fe.frontend.url}/metrics`)).text(), 'dynamo_frontend_active_requests', { model: MODEL });
  assert.equal(active, 6);
  // one cycle is 1 s; the view of the cycle after the next one is certainly taken with all six running
  await waitUntil('the workers report six active slots', async () => sum(await metrics.scrape(), 'llm_requests_active_slots') === 6, 2_500);
  for (const e of workers.engines.values()) assert.equal(e.state().waiting, 0);
  await workers.stop(); // ends the long requests
  await running;
});
