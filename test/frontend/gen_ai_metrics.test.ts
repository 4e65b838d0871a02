/**
 * The GenAI semantic conventions on the frontend: opted in with OTEL_SEMCONV_STABILITY_OPT_IN, the
 * three server instruments reach an OTLP receiver (decoded with the official schema) with their
 * dotted names, units, required attributes and the conventions' buckets, and the Prometheus form
 * follows the Collector's translation and passes promtool and Python's parser; a worker's
 * endpoint opted in records them per model its requests name.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadOptions } from '../../src/config/schema.ts';
import { GEN_AI_SERVER_METRICS } from '../../src/export/GenAiServerMetrics.ts';
import { frontendConfigFrom, frontendOptions } from '../../src/frontend/options.ts';
import { sample } from '../support/exposition.ts';
import { parseWithPython } from '../support/openmetrics.ts';
import { OtlpReceiver } from '../support/otlpReceiver.ts';
import { waitUntil } from '../support/process.ts';
import { promtool } from '../support/promtool.ts';
import { testCluster } from '../support/servers.ts';
import { startSimulatedWorkers, startTestFrontend, waitForModel } from '../support/llm.ts';
import { startScript } from '../support/workers.ts';
import { processInstrumentation } from '../../instrumentation/index.ts';

const MODEL = 'sim-genai';

test('GenAI server instruments over OTLP and Prometheus, side by side with the Dynamo names', async (t) => {
  const { cluster, defer } = await testCluster(t);
  const workers = await startSimulatedWorkers(cluster, MODEL, 1, { decodeTokensPerSecond: 500, jitter: 0 });
  defer(() => workers.stop());
  const rx = await new OtlpReceiver().start();
  defer(() => rx.stop());
  const env = {
    OTEL_SEMCONV_STABILITY_OPT_IN: 'http,gen_ai_latest_experimental',
    OTEL_METRICS_EXPORTER: 'otlp',
    OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: rx.url,
  };
  assert.equal(frontendConfigFrom(loadOptions(frontendOptions(), { argv: [], env })).metricNames, 'both');
  const fe = await startTestFrontend(cluster, ['--otlp-interval', '300ms'], env);
  defer(() => fe.stop());
  const base = fe.frontend.url;
  await waitForModel(fe, MODEL, 1);
  for (const stream of [true, false]) {
    const res = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hello there' }], max_tokens: 4, stream }),
    });
    assert.equal(res.status, 200);
    await res.text();
  }
  await fetch(`${base}/v1/completions`, { method: 'POST', body: JSON.stringify({ model: MODEL, prompt: 'x', max_tokens: 9000 }) }).then(
    (r) => r.text(),
  );

  // an export taken after all three requests: an export made between two of them (every 300 ms)
  // may still be the newest when the requests are done, and it holds fewer
  const complete = (e: (typeof rx.exports)[number]): boolean =>
    e.metrics.some((m) => m.name === 'gen_ai.server.request.duration' && m.points.reduce((n, p) => n + (p.count ?? 0), 0) === 3) &&
    e.metrics.some((m) => m.name === 'gen_ai.server.time_per_output_token');
  await waitUntil('an OTLP export with the GenAI metrics of the three requests', () => rx.exports.some(complete), 10_000);
  const last = [...rx.exports].reverse().find(complete);
  const byName = new Map(last?.metrics.map((m) => [m.name, m]));
  for (const d of Object.values(GEN_AI_SERVER_METRICS)) {
    const m = byName.get(d.name);
    assert.ok(m !== undefined, d.name);
    assert.equal(m.unit, 's');
    assert.equal(m.kind, 'histogram');
    assert.equal(m.scope, 'gen_ai');
    for (const p of m.points) assert.deepEqual(p.explicitBounds, [...d.buckets], `${d.name} buckets`);
  }
  const ok = byName.get('gen_ai.server.request.duration')?.points.find((p) => p.attributes['error.type'] === undefined);
  assert.deepEqual(ok?.attributes, {
    'gen_ai.operation.name': 'chat',
    'gen_ai.provider.name': 'dynamo',
    'gen_ai.request.model': MODEL,
    'gen_ai.response.model': MODEL,
    'server.address': '127.0.0.1',
    'server.port': fe.frontend.port,
  });
  assert.equal(ok?.count, 2);
  const failed = byName.get('gen_ai.server.request.duration')?.points.find((p) => p.attributes['error.type'] === 'validation');
  assert.equal(failed?.count, 1, 'a failed request has its error.type');
  assert.equal(
    byName.get('gen_ai.server.time_to_first_token')?.points.reduce((n, p) => n + (p.count ?? 0), 0),
    2,
    'successful responses only',
  );
  assert.equal(byName.get('gen_ai.server.time_per_output_token')?.points[0]?.count, 2);
  assert.ok(byName.has('dynamo_frontend_requests_total'), 'side by side with the Dynamo names');

  const text = await (await fetch(`${base}/metrics`)).text();
  assert.equal(
    sample(text, 'gen_ai_server_time_to_first_token_seconds_count', { gen_ai_request_model: MODEL, gen_ai_operation_name: 'chat' }),
    2,
  );
  assert.match(text, /^# TYPE gen_ai_server_request_duration_seconds histogram$/m);
  assert.match(text, /^# TYPE gen_ai_server_time_per_output_token_seconds histogram$/m);
  promtool(text);
  const families = parseWithPython(text, false).map((f) => f[0]);
  assert.ok(families.includes('gen_ai_server_time_to_first_token_seconds'));
  assert.ok(families.includes('dynamo_frontend_time_to_first_token_seconds'));
});

test('--metric-names gen_ai: the conventions instead of the Dynamo names', async (t) => {
  const { cluster, defer } = await testCluster(t);
  const fe = await startTestFrontend(cluster, ['--metric-names', 'gen_ai'], {});
  defer(() => fe.stop());
  fe.metrics.begin('m', 'completions', 'unary').end('error', 'internal');
  const text = await (await fetch(`${fe.frontend.url}/metrics`)).text();
  assert.match(text, /^gen_ai_server_request_duration_seconds_count\{.*error_type="internal".*\} 1$/m);
  assert.doesNotMatch(text, /dynamo_frontend_/);
});

test('loadgen, the client, exports gen_ai.client.token.usage and gen_ai.client.operation.duration over OTLP', async (t) => {
  const { cluster, defer } = await testCluster(t);
  const workers = await startSimulatedWorkers(cluster, MODEL, 1, { decodeTokensPerSecond: 1000, jitter: 0 });
  defer(() => workers.stop());
  const fe = await startTestFrontend(cluster);
  defer(() => fe.stop());
  await waitForModel(fe, MODEL, 1);
  const rx = await new OtlpReceiver().start();
  defer(() => rx.stop());
  const p = startScript(
    'src/cli/loadgen.ts',
    ['--url', fe.frontend.url, '--requests', '6', '--concurrency', '2', '--isl', '20', '--osl', '5', '--json'],
    { ...process.env, OTEL_METRICS_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: rx.url },
  );
  const { code } = await p.exited;
  assert.equal(code, 0, p.output());
  const usage = rx.exports.flatMap((e) => e.metrics).filter((m) => m.name === 'gen_ai.client.token.usage');
  const duration = rx.exports.flatMap((e) => e.metrics).filter((m) => m.name === 'gen_ai.client.operation.duration');
  const lastUsage = usage.at(-1);
  const lastDuration = duration.at(-1);
  assert.ok(lastUsage !== undefined && lastDuration !== undefined, 'the final export carries both');
  assert.equal(lastUsage.unit, '{token}');
  assert.equal(lastDuration.unit, 's');
  const byType = new Map(lastUsage.points.map((pt) => [pt.attributes['gen_ai.token.type'], pt]));
  assert.equal(byType.get('input')?.count, 6);
  assert.equal(byType.get('input')?.sum, 6 * 20);
  assert.equal(byType.get('output')?.sum, 6 * 5);
  assert.deepEqual(
    byType.get('output')?.explicitBounds,
    [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864],
  );
  const { 'gen_ai.token.type': _type, ...rest } = byType.get('input')?.attributes ?? {};
  assert.deepEqual(rest, {
    'gen_ai.operation.name': 'chat',
    'gen_ai.provider.name': 'dynamo',
    'gen_ai.request.model': MODEL,
    'gen_ai.response.model': MODEL,
    'server.address': '127.0.0.1',
    'server.port': fe.frontend.port,
  });
  assert.equal(lastDuration.points[0]?.count, 6);
  assert.deepEqual(
    lastDuration.points[0]?.explicitBounds,
    [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92],
  );
});

test("GenAI server instruments on the workers' endpoints, per model named in the request", async (t) => {
  const { cluster, defer } = await testCluster(t);
  const rx = await new OtlpReceiver().start();
  defer(() => rx.stop());
  // a worker process as mock_worker runs one: automatic instrumentation with its status server,
  // opted in to the conventions, exporting over OTLP
  const instrumentation = await processInstrumentation({
    env: {
      DYN_SYSTEM_ENABLED: 'true',
      DYN_SYSTEM_HOST: '127.0.0.1',
      DYN_SYSTEM_PORT: '0',
      OTEL_SEMCONV_STABILITY_OPT_IN: 'gen_ai_latest_experimental',
      OTEL_METRICS_EXPORTER: 'otlp,prometheus',
      OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: rx.url,
      OTEL_METRIC_EXPORT_INTERVAL: '300',
    },
  });
  const workers = await startSimulatedWorkers(cluster, MODEL, 1, { decodeTokensPerSecond: 500, jitter: 0 }, instrumentation);
  defer(() => workers.stop());
  const fe = await startTestFrontend(cluster);
  defer(() => fe.stop());
  await waitForModel(fe, MODEL, 1);
  for (let i = 0; i < 3; i++) {
    const res = await fetch(`${fe.frontend.url}/v1/completions`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ model: MODEL, prompt: 'hello there', max_tokens: 4, stream: i > 0 }),
    });
    assert.equal(res.status, 200);
    await res.text();
  }

  const endpoint = { dynamo_namespace: 'dynamo', dynamo_component: 'backend', dynamo_endpoint: 'generate' };
  await waitUntil(
    "an OTLP export with the worker's GenAI metrics",
    () =>
      rx.exports.some((e) =>
        e.metrics.some((m) => m.name === 'gen_ai.server.request.duration' && m.points.some((p) => (p.count ?? 0) === 3)),
      ),
    15_000,
  );
  const last = [...rx.exports].reverse().find((e) => e.metrics.some((m) => m.name === 'gen_ai.server.request.duration'));
  const byName = new Map(last?.metrics.map((m) => [m.name, m]));
  for (const d of Object.values(GEN_AI_SERVER_METRICS)) {
    const m = byName.get(d.name);
    assert.ok(m !== undefined, d.name);
    assert.equal(m.unit, 's');
    for (const p of m.points) assert.deepEqual(p.explicitBounds, [...d.buckets], `${d.name} buckets`);
  }
  const duration = byName.get('gen_ai.server.request.duration')?.points;
  assert.equal(duration?.length, 1);
  assert.deepEqual(duration?.[0]?.attributes, {
    ...endpoint,
    'gen_ai.operation.name': 'text_completion',
    'gen_ai.provider.name': 'dynamo',
    'gen_ai.request.model': MODEL,
  });
  assert.equal(duration?.[0]?.count, 3, 'every request, streamed by the frontend or not (the worker always streams)');
  assert.equal(byName.get('gen_ai.server.time_to_first_token')?.points[0]?.count, 3);
  assert.equal(byName.get('gen_ai.server.time_per_output_token')?.points[0]?.count, 3, 'four tokens each');

  const port = instrumentation.statusServer?.port;
  assert.ok(port !== undefined);
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  assert.equal(sample(text, 'gen_ai_server_request_duration_seconds_count', { ...endpoint, gen_ai_request_model: MODEL }), 3);
  promtool(text);
  assert.ok(parseWithPython(text, false).some((f) => f[0] === 'gen_ai_server_time_per_output_token_seconds'));
});
