/**
 * Histograms the OTel way: with OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION set to
 * base2_exponential_bucket_histogram, OTLP carries the endpoint duration histogram and custom
 * histograms as exponential histograms, while the Prometheus pull path keeps the seed's buckets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connectInstrumented } from '../../instrumentation/index.ts';
import { EXP_HISTOGRAM_SCALE, expBucket } from '../../instrumentation/EndpointMetrics.ts';
import { DistributedRuntime } from '../../src/runtime/index.ts';
import { freePort, sleep, waitUntil } from '../support/process.ts';
import { testCluster } from '../support/servers.ts';
import { OtlpReceiver } from '../support/otlpReceiver.ts';
import { sample } from '../support/exposition.ts';

test('the exponential bucket of a duration brackets it', () => {
  const base = 2 ** (2 ** -EXP_HISTOGRAM_SCALE);
  for (const v of [1e-5, 0.003, 0.02, 0.2, 1, 7.5, 600]) {
    const i = expBucket(v) - 20 * 2 ** EXP_HISTOGRAM_SCALE; // back to the OTel index
    assert.ok(base ** i < v * (1 + 1e-12) && v <= base ** (i + 1) * (1 + 1e-12), `${v} in (${base ** i}, ${base ** (i + 1)}]`);
  }
});

test('OTLP gets exponential histograms (endpoint durations and custom histograms); /metrics keeps explicit buckets', async (t) => {
  const { cluster, defer } = await testCluster(t);
  const rx = await new OtlpReceiver().start();
  defer(() => rx.stop());
  const port = await freePort();
  const drt = await connectInstrumented({
    nats: { servers: [cluster.nats.url] },
    etcd: { endpoints: [cluster.etcd.url] },
    env: {
      DYN_SYSTEM_ENABLED: 'true',
      DYN_SYSTEM_HOST: '127.0.0.1',
      DYN_SYSTEM_PORT: String(port),
      OTEL_METRICS_EXPORTER: 'otlp',
      OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: rx.url,
      OTEL_METRIC_EXPORT_INTERVAL: '300',
      OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION: 'base2_exponential_bucket_histogram',
    },
  });
  defer(() => drt.shutdown());
  const ep = drt.namespace('exp').component('c').endpoint('e');
  const tokens = ep.metrics.histogram('tokens', { description: 'tokens per request' });
  await ep.serve<{ ms: number }>(async (req) => {
    await sleep(req.ms);
    tokens.record(req.ms);
    return 'ok';
  });
  const client = await DistributedRuntime.connect({ nats: { servers: [cluster.nats.url] }, etcd: { endpoints: [cluster.etcd.url] } });
  defer(() => client.shutdown());
  const c = await client.namespace('exp').component('c').endpoint('e').client();
  await c.waitForInstances(1);
  for (const ms of [20, 20, 20, 200]) await c.random({ ms }).collect();

  const latest = (name: string) =>
    rx.exports
      .flatMap((e) => e.metrics)
      .filter((m) => m.name === name)
      .at(-1);
  const duration = await waitUntil(
    'the duration histogram with all four requests',
    () => {
      const m = latest('dynamo_component_request_duration_seconds');
      return m !== undefined && m.points[0]?.count === 4 ? m : undefined;
    },
    10_000,
  );
  assert.equal(duration.kind, 'exponential_histogram');
  const p = duration.points[0]!;
  assert.equal(p.scale, EXP_HISTOGRAM_SCALE);
  assert.equal(p.positive!.bucketCounts.reduce((a, b) => a + b, 0) + (p.zeroCount ?? 0), 4);
  const base = 2 ** (2 ** -p.scale!);
  const counts = p.positive!.bucketCounts;
  let last = counts.length - 1;
  while (last >= 0 && counts[last] === 0) last--;
  const top = last + p.positive!.offset;
  assert.ok(base ** (top + 1) > 0.2 && base ** top < 0.5, `the slowest request (≥ 200 ms) is in (${base ** top}, ${base ** (top + 1)}]`);
  const custom = await waitUntil(
    'the custom histogram',
    () => {
      const m = latest('dynamo_component_tokens');
      return m !== undefined && m.points[0]?.count === 4 ? m : undefined;
    },
    10_000,
  );
  assert.equal(custom.kind, 'exponential_histogram', 'SDK histograms follow the variable too');

  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  assert.equal(sample(text, 'dynamo_component_request_duration_seconds_bucket', { dynamo_endpoint: 'e', le: '0.005' }), 0);
  assert.equal(sample(text, 'dynamo_component_request_duration_seconds_bucket', { dynamo_endpoint: 'e', le: '+Inf' }), 4);
});
