/**
 * A fleet through a Collector stays a fleet: every process sets `service.instance.id` (a worker:
 * its instance id, as `worker_id` shows it; the aggregator: host and target), so that the
 * Collector's Prometheus translation (job from service.namespace/service.name, instance from
 * service.instance.id, other resource attributes dropped) keeps every process's series apart.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { connectInstrumented } from '../../instrumentation/index.ts';
import { DistributedRuntime } from '../../src/runtime/index.ts';
import { waitUntil } from '../support/process.ts';
import { testCluster } from '../support/servers.ts';
import { startMetrics } from '../support/aggregator.ts';
import { OtlpReceiver, type ReceivedExport } from '../support/otlpReceiver.ts';
import { clusterEnv, startEchoWorker } from '../support/workers.ts';

/** The Collector's prometheus / prometheusremotewrite translation of one export's series keys. */
function collectorSeries(e: ReceivedExport): string[] {
  const r = e.resource;
  const job =
    r['service.namespace'] !== undefined ? `${String(r['service.namespace'])}/${String(r['service.name'])}` : String(r['service.name']);
  const instance = r['service.instance.id'] === undefined ? '' : String(r['service.instance.id']);
  return e.metrics.flatMap((m) => m.points.map((p) => JSON.stringify([m.name, Object.entries({ ...p.attributes, job, instance }).sort()])));
}

test('two workers and the aggregator pushing OTLP stay distinct series after the Collector translation', async (t) => {
  const { cluster, defer } = await testCluster(t);
  const rx = await new OtlpReceiver().start();
  defer(() => rx.stop());
  const otlpEnv = { OTEL_METRICS_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: rx.url, OTEL_METRIC_EXPORT_INTERVAL: '500' };
  const w1 = await startEchoWorker(cluster, ['fleet', 'echo', 'generate'], otlpEnv);
  defer(() => w1.proc.stop());
  const w2 = await startEchoWorker(cluster, ['fleet', 'echo', 'generate'], otlpEnv);
  defer(() => w2.proc.stop());
  const m = await startMetrics(cluster, [
    '--exporters',
    'prometheus,otlp',
    '--otlp-endpoint',
    rx.url,
    '--otlp-interval',
    '500ms',
    '--service-namespace',
    'prod',
  ]);
  defer(() => m.proc.stop());
  // the same request to each worker: identical metric attributes on both
  const drt = await DistributedRuntime.connect({ nats: { servers: [cluster.nats.url] }, etcd: { endpoints: [cluster.etcd.url] } });
  defer(() => drt.shutdown());
  const client = await drt.namespace('fleet').component('echo').endpoint('generate').client();
  await client.waitForInstances(2);
  for (const id of [w1.id, w2.id]) await client.direct({ text: 'hi' }, id).collect();

  const ids = new Set([String(w1.id), String(w2.id)]);
  const aggregatorId = `${hostname()}/dynamo/my_component/my_endpoint`;
  await waitUntil(
    'exports from both workers and the aggregator',
    () => {
      const seen = new Set(rx.exports.map((e) => String(e.resource['service.instance.id'])));
      return [...ids, aggregatorId].every((i) => seen.has(i)) ? true : undefined;
    },
    30_000,
  );
  // every translated series comes from exactly one process
  const owner = new Map<string, string>();
  for (const e of rx.exports) {
    const who = `${String(e.resource['process.pid'])}`;
    for (const key of collectorSeries(e)) {
      const prev = owner.get(key);
      assert.ok(prev === undefined || prev === who, `series ${key} written by two processes (${prev}, ${who})`);
      owner.set(key, who);
    }
  }
  const requests = [...owner.keys()].filter((k) => k.startsWith('["dynamo_component_requests_total"'));
  assert.equal(requests.length, 2, 'one requests series per worker');
  const agg = rx.exports.find((e) => e.resource['service.instance.id'] === aggregatorId)!;
  assert.equal(agg.resource['service.namespace'], 'prod');
});

test('OTEL_RESOURCE_ATTRIBUTES overrides the service.instance.id a worker derives from its instance id', async (t) => {
  const { cluster, defer } = await testCluster(t);
  const rx = await new OtlpReceiver().start();
  defer(() => rx.stop());
  const env = {
    ...clusterEnv(cluster),
    DYN_SYSTEM_ENABLED: 'true',
    DYN_SYSTEM_HOST: '127.0.0.1',
    DYN_SYSTEM_PORT: '0',
    OTEL_METRICS_EXPORTER: 'otlp',
    OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: rx.url,
    OTEL_METRIC_EXPORT_INTERVAL: '300',
    OTEL_RESOURCE_ATTRIBUTES: 'service.instance.id=pod-7',
  };
  const drt = await connectInstrumented({ env });
  defer(() => drt.shutdown());
  await drt
    .namespace('idn')
    .component('c')
    .endpoint('e')
    .serve(() => 'ok');
  await waitUntil('an export', () => (rx.exports.length > 0 ? true : undefined), 10_000);
  assert.equal(rx.exports.at(-1)!.resource['service.instance.id'], 'pod-7');
});
