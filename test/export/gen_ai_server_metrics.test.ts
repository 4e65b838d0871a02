/** The GenAI conventions' server instruments alone: names, units, buckets, and what each request records. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GEN_AI_SERVER_METRICS, GenAiServerMetrics, metricNamesFromEnv } from '../../src/export/GenAiServerMetrics.ts';

test('three histograms with the conventions names, units and buckets; nothing before a request', () => {
  const m = new GenAiServerMetrics();
  assert.deepEqual(m.snapshot().metrics, []);
  m.record({ key: 'a', attributes: { 'gen_ai.request.model': 'a' } }, 1.5, undefined, 0.5, 3);
  const byName = new Map(m.snapshot().metrics.map((x) => [x.descriptor.name, x]));
  for (const d of Object.values(GEN_AI_SERVER_METRICS)) {
    const x = byName.get(d.name);
    assert.equal(x?.descriptor.unit, 's', d.name);
    assert.deepEqual((x?.dataPoints[0]?.value as { buckets: { boundaries: number[] } } | undefined)?.buckets.boundaries, [...d.buckets]);
  }
  const tpot = byName.get('gen_ai.server.time_per_output_token')?.dataPoints[0]?.value as { sum: number; count: number };
  assert.deepEqual({ sum: tpot.sum, count: tpot.count }, { sum: 0.5, count: 1 }, '(1.5 - 0.5) / (3 - 1)');
  m.record({ key: 'a', attributes: { 'gen_ai.request.model': 'a' } }, 1, 'timeout', 0.1, 3);
  const failed = m.snapshot().metrics[0]?.dataPoints.find((p) => p.attributes['error.type'] === 'timeout');
  assert.ok(failed, 'a failure is its own series with error.type');
  assert.equal(
    m.snapshot().metrics.find((x) => x.descriptor.name === 'gen_ai.server.time_to_first_token')?.dataPoints.length,
    1,
    'no token timing for a failure',
  );
});

test('OTEL_SEMCONV_STABILITY_OPT_IN opts in with gen_ai_latest_experimental anywhere in its list', () => {
  assert.equal(metricNamesFromEnv({}), 'dynamo');
  assert.equal(metricNamesFromEnv({ OTEL_SEMCONV_STABILITY_OPT_IN: 'http' }), 'dynamo');
  assert.equal(metricNamesFromEnv({ OTEL_SEMCONV_STABILITY_OPT_IN: 'http, gen_ai_latest_experimental' }), 'both');
});
