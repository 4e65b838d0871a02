/** The frontend's metrics as Dynamo measures them, and Dynamo's bucket layouts. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { DataPointType, type MetricData } from '@opentelemetry/sdk-metrics';
import { bucketsFromEnv, FRONTEND_BUCKET_LAYOUTS, logBuckets, roundToSignificant } from '../../src/frontend/buckets.ts';
import { FrontendMetrics, frontendBucketsFromEnv, sanitizePrefix } from '../../src/frontend/FrontendMetrics.ts';
import { ConfigError } from '../../src/config/schema.ts';

test("Dynamo's log buckets: 0, then log-spaced from min to max, two significant figures, no duplicates", () => {
  assert.deepEqual(logBuckets(1, 512, 10), [0, 2, 4, 8, 16, 32, 64, 130, 260, 510]);
  assert.deepEqual(logBuckets(0.001, 2, 13), [0, 0.0019, 0.0035, 0.0067, 0.013, 0.024, 0.045, 0.084, 0.16, 0.3, 0.56, 1.1, 2]);
  assert.deepEqual(logBuckets(50, 128_000, 12), [0, 100, 210, 430, 870, 1800, 3600, 7400, 15000, 31000, 63000, 130000]);
  assert.deepEqual(logBuckets(1, 1.01, 50).length < 50, true, 'duplicates after rounding are dropped');
  assert.equal(roundToSignificant(0.0123456, 2), 0.012);
  assert.equal(roundToSignificant(98765, 2), 99000);
});

test('DYN_METRICS_* change a layout; a bad value is a one-line ConfigError', () => {
  assert.deepEqual(
    bucketsFromEnv(FRONTEND_BUCKET_LAYOUTS.interTokenLatency, {
      DYN_METRICS_ITL_MIN: '0.01',
      DYN_METRICS_ITL_MAX: '1',
      DYN_METRICS_ITL_COUNT: '3',
    }),
    [0, 0.1, 1],
  );
  assert.throws(
    () => frontendBucketsFromEnv({ DYN_METRICS_TTFT_COUNT: '2.5' }),
    (e: unknown) => e instanceof ConfigError && /DYN_METRICS_TTFT_COUNT: "2.5" is not a whole number/.test(e.message),
  );
  assert.throws(() => frontendBucketsFromEnv({ DYN_METRICS_TTFT_MIN: '5', DYN_METRICS_TTFT_MAX: '1' }), /need 0 < MIN < MAX/);
  assert.throws(() => frontendBucketsFromEnv({ DYN_METRICS_ITL_COUNT: '513' }), /out of range; use 1\.\.512/);
  assert.equal(sanitizePrefix('nv-llm.http'), 'nv_llm_http');
});

function metric(m: FrontendMetrics, name: string): MetricData | undefined {
  return m.snapshot().metrics.find((x) => x.descriptor.name === name);
}

test('a streamed request: in flight and queued until its first token; TTFT once, n inter-token latencies for an n-token chunk', async () => {
  const m = new FrontendMetrics(frontendBucketsFromEnv({}));
  const r = m.begin('llama', 'chat_completions', 'stream');
  assert.deepEqual(m.load('llama'), { inflight: 1, queued: 1 });
  r.tokensSent(1, 40);
  assert.deepEqual(m.load('llama'), { inflight: 1, queued: 0 });
  await new Promise((res) => setTimeout(res, 20));
  r.tokensSent(3, 40);
  r.cachedTokens(32);
  r.cachedTokens(99); // observed once
  r.end('success', '');
  r.end('error', 'internal'); // the first end counts
  assert.deepEqual(m.load('llama'), { inflight: 0, queued: 0 });
  const points = (name: string) => metric(m, name)?.dataPoints ?? [];
  assert.deepEqual(
    points('dynamo_frontend_requests_total').map((p) => [p.attributes, p.value]),
    [[{ model: 'llama', endpoint: 'chat_completions', request_type: 'stream', status: 'success', error_type: '' }, 1]],
  );
  assert.equal(points('dynamo_frontend_output_tokens_total')[0]?.value, 4);
  const h = (name: string) => points(name)[0]?.value as { count: number; sum: number };
  assert.equal(h('dynamo_frontend_time_to_first_token_seconds').count, 1);
  assert.equal(h('dynamo_frontend_inter_token_latency_seconds').count, 3);
  assert.ok(
    Math.abs(h('dynamo_frontend_inter_token_latency_seconds').sum - 3 * (h('dynamo_frontend_inter_token_latency_seconds').sum / 3)) < 1e-9,
  );
  assert.ok(h('dynamo_frontend_inter_token_latency_seconds').sum >= 0.019, 'three thirds of the 20 ms gap');
  assert.deepEqual(
    [
      h('dynamo_frontend_input_sequence_tokens').sum,
      h('dynamo_frontend_output_sequence_tokens').sum,
      h('dynamo_frontend_cached_tokens').sum,
    ],
    [40, 4, 32],
  );
  assert.equal(metric(m, 'dynamo_frontend_time_to_first_token_seconds')?.descriptor.unit, 's');
  assert.equal(metric(m, 'dynamo_frontend_requests_total')?.dataPointType, DataPointType.SUM);
});

test('a request that ends before any token: no TTFT, no output length; a cancellation counted in both counters', () => {
  const m = new FrontendMetrics(frontendBucketsFromEnv({}), 'custom');
  m.begin('llama', 'completions', 'unary').end('error', 'cancelled');
  const names = m.snapshot().metrics.map((x) => x.descriptor.name);
  assert.ok(names.includes('custom_model_cancellation_total'));
  assert.equal(metric(m, 'custom_time_to_first_token_seconds'), undefined, 'a histogram with nothing recorded is not exported');
  assert.equal(metric(m, 'custom_output_sequence_tokens'), undefined);
  assert.equal((metric(m, 'custom_request_duration_seconds')?.dataPoints[0]?.value as { count: number } | undefined)?.count, 1);
});

test("docs/metrics.md's bucket table is the code's layouts", () => {
  const doc = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'metrics.md'), 'utf8');
  const rows = new Map(
    [...doc.matchAll(/^\| [^|]+ \| `(DYN_METRICS_[A-Z_]+)_\*` \| ([^|]+) \| ([^|]+) \|$/gm)].map((m) => [
      m[1],
      [m[2]?.trim(), m[3]?.trim()],
    ]),
  );
  assert.equal(rows.size, Object.keys(FRONTEND_BUCKET_LAYOUTS).length);
  for (const l of Object.values(FRONTEND_BUCKET_LAYOUTS)) {
    assert.deepEqual(rows.get(l.env), [`${l.min}, ${l.max}, ${l.count}`, logBuckets(l.min, l.max, l.count).join(', ')], l.env);
  }
});
