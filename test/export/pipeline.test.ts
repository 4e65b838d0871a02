/**
 * The export pipeline against real Prometheus and PushGateway servers and a local OTLP receiver
 * that decodes with the official schema.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { DataPointType, type ScopeMetrics } from '@opentelemetry/sdk-metrics';
import { loadExportConfig, type ExportConfig } from '../../src/export/options.ts';
import { MetricsPipeline } from '../../src/export/index.ts';
import { configureLogging } from '../../src/log.ts';
import { cleanups, freePort, tempDir, waitUntil } from '../support/process.ts';
import { startPrometheus, startPushGateway } from '../support/servers.ts';
import { OtlpGrpcReceiver, OtlpReceiver } from '../support/otlpReceiver.ts';
import { sample } from '../support/exposition.ts';

const BIG_ID = '7587884888253033398';

function config(argv: string[], env: NodeJS.ProcessEnv = {}): ExportConfig {
  return loadExportConfig({ argv, env }, { serviceName: 'pipeline-test' });
}

/** A counter, a histogram and a snapshot gauge with a 63-bit worker id, the same on every path. */
function record(p: MetricsPipeline, requests: number): { setRequests(n: number): void } {
  const m = p.meter('bridge-test');
  const counter = m.createCounter('bridge_test_requests_total', { description: 'Test requests' });
  const attrs = { dynamo_endpoint: 'generate' };
  counter.add(requests, attrs);
  m.createHistogram('bridge_test_duration_seconds', {
    description: 'Test durations',
    advice: { explicitBucketBoundaries: [0.1, 1] },
  }).record(0.5, attrs);
  p.snapshots.add(
    (): ScopeMetrics => ({
      scope: { name: 'bridge-test-snapshot' },
      metrics: [
        {
          descriptor: { name: 'llm_kv_blocks_active', description: 'Active KV cache blocks', unit: '', valueType: 1 },
          dataPointType: DataPointType.GAUGE,
          aggregationTemporality: 1,
          dataPoints: [
            {
              attributes: { component: 'backend', endpoint: 'generate', worker_id: BIG_ID },
              startTime: [0, 0],
              endTime: [Math.floor(Date.now() / 1000), 0],
              value: 40,
            },
          ],
        },
      ],
    }),
  );
  return { setRequests: (n) => counter.add(n - requests, attrs) };
}

test('a real Prometheus scrapes the pull endpoint and, with honor_labels, the PushGateway we push to', async (t) => {
  const defer = cleanups(t);
  const pgw = await startPushGateway();
  defer(() => pgw.stop());
  const port = await freePort();
  const p = new MetricsPipeline(
    config([
      '--exporters',
      'prometheus,pushgateway',
      '--prometheus-host',
      '127.0.0.1',
      '--prometheus-port',
      String(port),
      '--pushgateway-url',
      pgw.url,
      '--pushgateway-instance',
      'test-inst',
      '--push-interval',
      '1s',
    ]),
    { global: false },
  );
  defer(() => p.shutdown());
  record(p, 5);
  await p.start();
  const prom = await startPrometheus([
    { job: 'bridge', target: `127.0.0.1:${port}` },
    { job: 'pushgateway', target: `127.0.0.1:${pgw.port}`, honorLabels: true },
  ]);
  defer(() => prom.stop());

  const pulled = await waitUntil(
    'pulled series in Prometheus',
    async () => {
      const r = await prom.query('bridge_test_requests_total{job="bridge"}');
      return r.length === 1 ? r[0] : undefined;
    },
    30_000,
    500,
  );
  assert.equal(pulled.value[1], '5');
  assert.equal(pulled.metric.dynamo_endpoint, 'generate');
  const pushed = await waitUntil(
    'pushed series in Prometheus',
    async () => {
      const r = await prom.query('bridge_test_requests_total{job="dynamo_metrics",instance="test-inst"}');
      return r.length === 1 ? r[0] : undefined;
    },
    30_000,
    500,
  ).catch(async (err: Error) => {
    const pgwText = await (await fetch(`${pgw.url}/metrics`)).text();
    throw new Error(
      `${err.message}; health ${JSON.stringify(p.health.snapshot('pushgateway'))}; targets ${JSON.stringify(await prom.targetHealth())}; pgw: ${pgwText
        .split('\n')
        .filter((l) => l.includes('bridge_test'))
        .join(' | ')}`,
    );
  });
  assert.equal(pushed.value[1], '5');
  assert.equal(pushed.metric.instance, 'test-inst');
  for (const job of ['bridge', 'dynamo_metrics']) {
    const g = await prom.query(`llm_kv_blocks_active{job="${job}"}`);
    assert.equal(g.length, 1, job);
    assert.equal(g[0]!.metric.worker_id, BIG_ID, 'the 63-bit id keeps every digit');
    assert.equal(g[0]!.value[1], '40');
    const h = await prom.query(`histogram_quantile(0.5, bridge_test_duration_seconds_bucket{job="${job}"})`);
    assert.equal(h.length, 1);
    assert.ok(Number(h[0]!.value[1]) > 0.1 && Number(h[0]!.value[1]) <= 1, `p50 ${h[0]!.value[1]} in seconds`);
  }
  const health = await prom.query('dynamo_metrics_export_attempts_total{job="bridge",exporter="pushgateway"}');
  assert.ok(Number(health[0]?.value[1]) >= 1);

  // clean shutdown deletes the PushGateway group
  await p.shutdown();
  const groups = (await (await fetch(`${pgw.url}/api/v1/metrics`)).json()) as { data: { labels: Record<string, string> }[] };
  assert.equal(groups.data.filter((g) => g.labels.job === 'dynamo_metrics').length, 0, 'group deleted');
});

test('a failing or slow collection answers 503, never 200; gzip when accepted', async (t) => {
  const defer = cleanups(t);
  const port = await freePort();
  const p = new MetricsPipeline(
    config(['--prometheus-host', '127.0.0.1', '--prometheus-port', String(port), '--prometheus-collect-timeout', '300ms']),
    { global: false },
  );
  defer(() => p.shutdown());
  record(p, 1);
  await p.start();
  const url = `http://127.0.0.1:${port}/metrics`;
  const ok = await fetch(url);
  assert.equal(ok.status, 200);
  assert.equal(ok.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
  const text = await ok.text();
  assert.equal(sample(text, 'bridge_test_requests_total', { dynamo_endpoint: 'generate' }), 1);

  const gz = await fetch(url, { headers: { 'Accept-Encoding': 'gzip' } });
  assert.match(await gz.text(), /bridge_test_requests_total/, 'fetch decodes transparently; the raw bytes are checked below');
  const raw = await new Promise<{ enc: string | undefined; body: Buffer }>((resolve, reject) => {
    import('node:http').then(({ get }) =>
      get(url, { headers: { 'Accept-Encoding': 'gzip' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ enc: res.headers['content-encoding'], body: Buffer.concat(chunks) }));
      }).on('error', reject),
    );
  });
  assert.equal(raw.enc, 'gzip');
  assert.match(gunzipSync(raw.body).toString(), /bridge_test_requests_total\{dynamo_endpoint="generate"\} 1/);

  let mode: 'ok' | 'throw' | 'slow' = 'throw';
  p.meter('faulty')
    .createObservableGauge('faulty_gauge', { description: 'x' })
    .addCallback(async (r) => {
      if (mode === 'throw') throw new Error('callback exploded');
      if (mode === 'slow') await new Promise((res) => setTimeout(res, 2000));
      r.observe(1);
    });
  const failed = await fetch(url);
  assert.equal(failed.status, 503);
  assert.match(await failed.text(), /callback exploded/);
  mode = 'slow';
  const t0 = Date.now();
  const slow = await fetch(url);
  assert.equal(slow.status, 503);
  assert.match(await slow.text(), /300 ms|timeout|timed out/i);
  assert.ok(Date.now() - t0 < 1900, 'answered at the collection timeout, not after the slow callback');
  mode = 'ok';
  const back = await (await fetch(url)).text();
  assert.ok((sample(back, 'dynamo_metrics_export_failures_total', { exporter: 'prometheus' }) ?? 0) >= 2);
  assert.equal(sample(back, 'faulty_gauge'), 1);
  assert.equal((await fetch(`http://127.0.0.1:${port}/nothing`)).status, 404);
});

test('OTLP http/protobuf: names, attributes, values, cumulative temporality and headers as configured', async (t) => {
  const defer = cleanups(t);
  const rx = await new OtlpReceiver().start();
  defer(() => rx.stop());
  const p = new MetricsPipeline(
    config(['--exporters', 'otlp', '--otlp-endpoint', rx.url, '--otlp-interval', '500ms'], {
      OTEL_EXPORTER_OTLP_HEADERS: 'x-api-key=secret123',
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=test',
    }),
    { global: false },
  );
  defer(() => p.shutdown());
  record(p, 7);
  await waitUntil('an OTLP export', () => rx.exports.length > 0, 10_000);
  const e = rx.exports[0]!;
  assert.equal(e.contentType, 'application/x-protobuf');
  assert.equal(e.headers['x-api-key'], 'secret123');
  assert.equal(e.resource['service.name'], 'pipeline-test');
  assert.equal(e.resource['deployment.environment'], 'test');
  const c = e.metrics.find((m) => m.name === 'bridge_test_requests_total')!;
  assert.equal(c.kind, 'sum');
  assert.equal(c.temporality, 'CUMULATIVE');
  assert.equal(c.monotonic, true);
  assert.deepEqual(
    c.points.map((pt) => [pt.attributes, pt.value]),
    [[{ dynamo_endpoint: 'generate' }, 7]],
  );
  const h = e.metrics.find((m) => m.name === 'bridge_test_duration_seconds')!;
  assert.equal(h.kind, 'histogram');
  assert.deepEqual(h.points[0]!.explicitBounds, [0.1, 1]);
  assert.deepEqual(h.points[0]!.bucketCounts, [0, 1, 0]);
  const g = e.metrics.find((m) => m.name === 'llm_kv_blocks_active')!;
  assert.equal(g.kind, 'gauge');
  assert.deepEqual(g.points[0]!.attributes, { component: 'backend', endpoint: 'generate', worker_id: BIG_ID });
  assert.equal(g.points[0]!.value, 40);
});

test('the console exporter prints each metric with its data points', async (t) => {
  const defer = cleanups(t);
  const printed: unknown[] = [];
  // the SDK's ConsoleMetricExporter writes each metric with console.dir
  t.mock.method(console, 'dir', (v: unknown) => {
    printed.push(v);
  });
  const p = new MetricsPipeline(config(['--exporters', 'console', '--otlp-interval', '200ms']), { global: false });
  defer(() => p.shutdown());
  record(p, 3);
  await waitUntil('a console export', () => printed.length >= 3, 10_000);
  const byName = new Map(
    printed.map((v) => [(v as { descriptor: { name: string } }).descriptor.name, v as { dataPoints: { value: unknown }[] }]),
  );
  assert.equal(byName.get('bridge_test_requests_total')?.dataPoints[0]?.value, 3);
  assert.equal(byName.get('llm_kv_blocks_active')?.dataPoints[0]?.value, 40);
});

test('OTLP endpoint credentials travel as an Authorization header, not in the URL', async (t) => {
  const defer = cleanups(t);
  const rx = await new OtlpReceiver().start();
  defer(() => rx.stop());
  const withCreds = rx.url.replace('http://', 'http://collector:s3cr%40t@');
  const p = new MetricsPipeline(config(['--exporters', 'otlp', '--otlp-endpoint', withCreds, '--otlp-interval', '500ms']), {
    global: false,
  });
  defer(() => p.shutdown());
  record(p, 1);
  await waitUntil('an OTLP export', () => rx.exports.length > 0, 10_000);
  assert.equal(rx.exports[0]!.headers.authorization, `Basic ${Buffer.from('collector:s3cr@t').toString('base64')}`);
});

test('OTLP/gRPC (the official gRPC exporter) to a real gRPC server: values, resource, headers as metadata', async (t) => {
  const defer = cleanups(t);
  const rx = await new OtlpGrpcReceiver().start();
  defer(() => rx.stop());
  // OTEL_EXPORTER_OTLP_ENDPOINT is a base URL; for grpc nothing is appended
  const p = new MetricsPipeline(
    config(['--exporters', 'otlp', '--otlp-interval', '500ms'], {
      OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
      OTEL_EXPORTER_OTLP_ENDPOINT: rx.url,
      OTEL_EXPORTER_OTLP_HEADERS: 'x-api-key=grpc-secret',
    }),
    { global: false },
  );
  defer(() => p.shutdown());
  record(p, 5);
  await waitUntil('an OTLP/gRPC export', () => rx.exports.length > 0, 10_000);
  const e = rx.exports[0]!;
  assert.equal(e.headers['x-api-key'], 'grpc-secret');
  assert.equal(e.resource['service.name'], 'pipeline-test');
  const c = e.metrics.find((m) => m.name === 'bridge_test_requests_total')!;
  assert.deepEqual(
    c.points.map((pt) => [pt.attributes, pt.value]),
    [[{ dynamo_endpoint: 'generate' }, 5]],
  );
  assert.equal(e.metrics.find((m) => m.name === 'llm_kv_blocks_active')!.points[0]!.value, 40);
});

test('OTLP/gRPC over TLS with the CA from OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE, as the SDK defines it', async (t) => {
  const defer = cleanups(t);
  const dir = tempDir('dyn-grpc-tls-');
  const cert = join(dir, 'server.crt');
  const key = join(dir, 'server.key');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '2',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { stdio: 'pipe' },
  );
  const rx = await new OtlpGrpcReceiver({ cert: readFileSync(cert), key: readFileSync(key) }).start();
  defer(() => rx.stop());
  // the gRPC exporter reads its TLS variables from the process environment itself
  process.env.OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE = cert;
  defer(() => delete process.env.OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE);
  const p = new MetricsPipeline(
    config(['--exporters', 'otlp', '--otlp-protocol', 'grpc', '--otlp-endpoint', rx.url, '--otlp-interval', '500ms']),
    { global: false },
  );
  defer(() => p.shutdown());
  record(p, 2);
  await waitUntil('an OTLP/gRPC export over TLS', () => rx.exports.length > 0, 10_000);
  assert.equal(rx.url.startsWith('https://'), true);
  assert.ok(rx.exports[0]!.metrics.some((m) => m.name === 'bridge_test_requests_total'));
});

test('OTLP http/json with delta temporality and gzip', async (t) => {
  const defer = cleanups(t);
  const rx = await new OtlpReceiver().start();
  defer(() => rx.stop());
  const p = new MetricsPipeline(
    config([
      '--exporters',
      'otlp',
      '--otlp-endpoint',
      rx.url,
      '--otlp-protocol',
      'http/json',
      '--otlp-temporality',
      'delta',
      '--otlp-compression',
      'gzip',
      '--otlp-interval',
      '60s',
    ]),
    { global: false },
  );
  defer(() => p.shutdown());
  const r = record(p, 3);
  await p.forceFlush();
  r.setRequests(10);
  await p.forceFlush();
  assert.equal(rx.exports.length, 2);
  assert.equal(rx.exports[0]!.contentType, 'application/json');
  assert.equal(rx.exports[0]!.headers['content-encoding'], 'gzip');
  const values = rx.exports.map((e) => e.metrics.find((m) => m.name === 'bridge_test_requests_total')!);
  assert.equal(values[0]!.temporality, 'DELTA');
  assert.deepEqual(
    values.map((m) => m.points[0]!.value),
    [3, 7],
    'delta points carry the increase per interval',
  );
});

test('an OTLP receiver answering 503 twice then 200 receives the data', async (t) => {
  const defer = cleanups(t);
  const rx = await new OtlpReceiver().start();
  defer(() => rx.stop());
  rx.plannedStatuses.push(503, 503);
  const p = new MetricsPipeline(
    config(['--exporters', 'otlp', '--otlp-endpoint', rx.url, '--otlp-interval', '60s', '--otlp-timeout', '20s']),
    { global: false },
  );
  defer(() => p.shutdown());
  record(p, 4);
  await p.forceFlush(20_000);
  assert.equal(rx.requests, 3, 'two refusals, then the retry that succeeded');
  assert.equal(rx.latest('bridge_test_requests_total')?.value, 4);
});

test('an OTLP receiver down for a while: no crash, no growth, current totals once it is back; keys never logged', async (t) => {
  const defer = cleanups(t);
  const lines: string[] = [];
  configureLogging({ sink: { write: (l) => lines.push(l) } });
  defer(() => configureLogging({ sink: { write: (l) => process.stderr.write(l) } }));
  const rx = await new OtlpReceiver().start();
  const port = rx.port;
  await rx.stop();
  const p = new MetricsPipeline(
    config([
      '--exporters',
      'otlp',
      '--otlp-endpoint',
      `http://127.0.0.1:${port}/v1/metrics`,
      '--otlp-interval',
      '200ms',
      '--otlp-timeout',
      '200ms',
      '--otlp-header',
      'authorization=Bearer topsecret',
    ]),
    { global: false },
  );
  defer(() => p.shutdown());
  const r = record(p, 1);
  global.gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  await new Promise((res) => setTimeout(res, 3000));
  const failures = p.health.snapshot('otlp').failures;
  assert.ok(failures >= 5, `${failures} failed exports counted`);
  global.gc?.();
  const growth = process.memoryUsage().heapUsed - heapBefore;
  assert.ok(growth < 20 * 1024 * 1024, `heap grew ${growth} bytes while the receiver was down`);
  r.setRequests(42);
  const back = new OtlpReceiver(port);
  await back.start();
  defer(() => back.stop());
  await waitUntil('an export after recovery', () => back.exports.length > 0, 10_000);
  assert.equal(
    back.exports[0]!.metrics.find((m) => m.name === 'bridge_test_requests_total')?.points[0]?.value,
    42,
    'the first export after recovery carries current totals',
  );
  assert.ok(
    lines.some((l) => /export failed/.test(l)),
    'failures are logged',
  );
  assert.ok(!lines.some((l) => l.includes('topsecret')), 'header values never logged');
});

test('all three exporters at once carry the same values', async (t) => {
  const defer = cleanups(t);
  const pgw = await startPushGateway();
  defer(() => pgw.stop());
  const rx = await new OtlpReceiver().start();
  defer(() => rx.stop());
  const port = await freePort();
  const p = new MetricsPipeline(
    config([
      '--exporters',
      'prometheus,otlp,pushgateway',
      '--prometheus-host',
      '127.0.0.1',
      '--prometheus-port',
      String(port),
      '--otlp-endpoint',
      rx.url,
      '--otlp-interval',
      '60s',
      '--pushgateway-url',
      pgw.url,
      '--pushgateway-instance',
      'all3',
      '--push-interval',
      '60s',
    ]),
    { global: false },
  );
  defer(() => p.shutdown());
  record(p, 11);
  await p.start();
  await p.forceFlush();
  const pulled = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const pushed = await (await fetch(`${pgw.url}/metrics`)).text();
  const attrs = { dynamo_endpoint: 'generate' };
  const gaugeAttrs = { worker_id: BIG_ID };
  assert.equal(sample(pulled, 'bridge_test_requests_total', attrs), 11);
  assert.equal(sample(pushed, 'bridge_test_requests_total', { ...attrs, job: 'dynamo_metrics', instance: 'all3' }), 11);
  assert.equal(rx.latest('bridge_test_requests_total', attrs)?.value, 11);
  assert.equal(sample(pulled, 'llm_kv_blocks_active', gaugeAttrs), 40);
  assert.equal(sample(pushed, 'llm_kv_blocks_active', gaugeAttrs), 40);
  assert.equal(rx.latest('llm_kv_blocks_active', gaugeAttrs)?.value, 40);
  assert.equal(sample(pulled, 'bridge_test_duration_seconds_count', attrs), 1);
  assert.equal(sample(pushed, 'bridge_test_duration_seconds_count', attrs), 1);
  assert.equal(rx.latest('bridge_test_duration_seconds', attrs)?.count, 1);
});
