/**
 * OpenMetrics 1.0 on content negotiation: the exposition parses with an independent parser
 * (Debian's python3-prometheus-client, which also checks our 0.0.4 text), a real Prometheus
 * (which asks for OpenMetrics first) scrapes it (openmetrics_prometheus.test.ts), and clients that
 * do not ask get 0.0.4.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { PullMetricReader } from '../../src/export/PullMetricReader.ts';
import { acceptsOpenMetrics, serializePrometheus } from '../../src/export/PrometheusSerializer.ts';
import { parseWithPython, PROMETHEUS_ACCEPT, type Family } from '../support/openmetrics.ts';

async function exposition(openMetrics: boolean): Promise<string> {
  const reader = new PullMetricReader();
  const mp = new MeterProvider({ resource: resourceFromAttributes({ 'service.name': 'svc' }), readers: [reader] });
  const m = mp.getMeter('a');
  m.createCounter('dynamo_component_requests_total', { description: 'Total "requests"\nby endpoint' }).add(3, {
    dynamo_endpoint: 'gen"er\\ate\n',
  });
  m.createCounter('plain_events', { description: 'gets _total' }).add(1);
  m.createUpDownCounter('inflight', { description: 'up and down' }).add(-2);
  m.createHistogram('latency_seconds', { description: 'latency', advice: { explicitBucketBoundaries: [0.1, 1] } }).record(0.5, { e: 'x' });
  const text = serializePrometheus(await reader.collectAll(1000), { openMetrics, targetInfo: true });
  await mp.shutdown();
  return text;
}

test('content negotiation: OpenMetrics only when the client prefers it', () => {
  assert.equal(acceptsOpenMetrics(PROMETHEUS_ACCEPT), true);
  assert.equal(acceptsOpenMetrics('application/openmetrics-text; version=1.0.0; charset=utf-8'), true);
  assert.equal(acceptsOpenMetrics(undefined), false);
  assert.equal(acceptsOpenMetrics('*/*'), false, 'curl');
  assert.equal(acceptsOpenMetrics('text/plain;version=0.0.4'), false);
  assert.equal(acceptsOpenMetrics('text/plain;q=1,application/openmetrics-text;q=0.5'), false);
  assert.equal(acceptsOpenMetrics('application/openmetrics-text;version=0.0.1'), false, 'only 1.0.0 is spoken');
});

test('the OpenMetrics exposition parses with an independent parser and carries the same samples as 0.0.4', async () => {
  const om = await exposition(true);
  assert.match(om, /# TYPE dynamo_component_requests counter\n/, 'the counter family has no _total');
  assert.match(om, /^dynamo_component_requests_total\{/m, 'its sample has');
  assert.ok(om.endsWith('# EOF\n'));
  const fromOm = parseWithPython(om, true);
  const fromText = parseWithPython(await exposition(false), false);
  const samples = (fams: Family[]): string[] => fams.flatMap(([, , s]) => s.map(([n, l, v]) => `${n}${JSON.stringify(l)}=${v}`)).sort();
  assert.deepEqual(samples(fromOm), samples(fromText));
  const types = Object.fromEntries(fromOm.map(([n, t]) => [n, t]));
  assert.deepEqual(types, {
    target_info: 'gauge',
    dynamo_component_requests: 'counter',
    plain_events: 'counter',
    inflight: 'gauge',
    latency_seconds: 'histogram',
  });
  const req = fromOm.find(([n]) => n === 'dynamo_component_requests')![2][0]!;
  assert.deepEqual(req, ['dynamo_component_requests_total', { dynamo_endpoint: 'gen"er\\ate\n' }, 3], 'escaped label value round-trips');
});
