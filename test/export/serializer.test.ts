import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { PullMetricReader } from '../../src/export/PullMetricReader.ts';
import { serializePrometheus } from '../../src/export/PrometheusSerializer.ts';
import { groupingUrl } from '../../src/export/PushGatewayMetricReader.ts';
import { promtool } from '../support/promtool.ts';

async function collect(record: (mp: MeterProvider) => void, opts = {}): Promise<string> {
  const reader = new PullMetricReader();
  const mp = new MeterProvider({ resource: resourceFromAttributes({ 'service.name': 'svc', 'k"ey': 'v\nal' }), readers: [reader] });
  record(mp);
  const text = serializePrometheus(await reader.collectAll(1000), opts);
  await mp.shutdown();
  return text;
}

test('counters, gauges and up-down counters in Prometheus-native form', async () => {
  const text = await collect((mp) => {
    const m = mp.getMeter('a');
    m.createCounter('dynamo_component_requests_total', { description: 'Total number of requests' }).add(3, { dynamo_endpoint: 'gen' });
    m.createCounter('plain_events', { description: 'gets _total' }).add(1);
    m.createUpDownCounter('inflight', { description: 'up and down' }).add(-2);
    m.createGauge('temp', { description: 'a gauge', unit: 'C' }).record(1.5, { a: 'x' });
  });
  assert.equal(
    text,
    [
      '# HELP dynamo_component_requests_total Total number of requests',
      '# TYPE dynamo_component_requests_total counter',
      'dynamo_component_requests_total{dynamo_endpoint="gen"} 3',
      '# HELP plain_events_total gets _total',
      '# TYPE plain_events_total counter',
      'plain_events_total 1',
      '# HELP inflight up and down',
      '# TYPE inflight gauge',
      'inflight -2',
      '# HELP temp a gauge',
      '# TYPE temp gauge',
      'temp{a="x"} 1.5',
      '',
    ].join('\n'),
  );
  assert.doesNotMatch(text, /# UNIT|otel_scope|target_info/);
  promtool(text);
});

test('histograms in seconds with the given buckets, cumulative, then _sum and _count', async () => {
  const text = await collect((mp) => {
    const h = mp.getMeter('a').createHistogram('dur_seconds', { description: 'd', advice: { explicitBucketBoundaries: [0.1, 1] } });
    for (const v of [0.05, 0.5, 0.5, 3]) h.record(v, { e: 'x' });
  });
  assert.equal(
    text,
    [
      '# HELP dur_seconds d',
      '# TYPE dur_seconds histogram',
      'dur_seconds_bucket{e="x",le="0.1"} 1',
      'dur_seconds_bucket{e="x",le="1"} 3',
      'dur_seconds_bucket{e="x",le="+Inf"} 4',
      'dur_seconds_sum{e="x"} 4.05',
      'dur_seconds_count{e="x"} 4',
      '',
    ].join('\n'),
  );
  promtool(text);
});

test('label values with quotes, backslashes, newlines and unicode stay valid exposition', async () => {
  const text = await collect((mp) => {
    mp.getMeter('a')
      .createCounter('c_total', { description: 'help with \\ and\nnewline' })
      .add(1, { v: 'q"uo\\te\nnl ü 🚀', 'bad-name': 'x' });
  });
  assert.match(text, /^c_total\{v="q\\"uo\\\\te\\nnl ü 🚀",bad_name="x"\} 1$/m);
  assert.match(text, /^# HELP c_total help with \\\\ and\\nnewline$/m);
  promtool(text);
});

test('one HELP block per name even when two meters share it; scope labels and target_info on request', async () => {
  const record = (mp: MeterProvider): void => {
    mp.getMeter('one', '1.0').createCounter('shared_total', { description: 'shared' }).add(1, { m: '1' });
    mp.getMeter('two').createCounter('shared_total', { description: 'shared' }).add(2, { m: '2' });
  };
  const text = await collect(record);
  assert.equal(text.match(/# HELP shared_total/g)?.length, 1);
  assert.match(text, /shared_total\{m="1"\} 1\nshared_total\{m="2"\} 2/);
  promtool(text);
  const rich = await collect(record, { scopeLabels: true, targetInfo: true });
  assert.match(rich, /^target_info\{service_name="svc",k_ey="v\\nal"\} 1$/m);
  assert.match(rich, /^shared_total\{m="1",otel_scope_name="one",otel_scope_version="1.0"\} 1$/m);
  promtool(rich);
});

test('PushGateway grouping paths use the base64 form for empty values and values with slashes', () => {
  assert.equal(groupingUrl('http://pg:9091/', 'dynamo_metrics', 'host-1'), 'http://pg:9091/metrics/job/dynamo_metrics/instance/host-1');
  assert.equal(groupingUrl('http://pg:9091', 'a/b', ''), 'http://pg:9091/metrics/job@base64/YS9i/instance@base64/=');
  assert.equal(groupingUrl('http://pg:9091', 'sp ace', 'x'), 'http://pg:9091/metrics/job/sp%20ace/instance/x');
});
