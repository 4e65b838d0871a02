/** Percentiles as serving benchmarks compute them (linear interpolation between closest ranks). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { quantile, summarize } from '../../src/loadgen/stats.ts';

test('quantiles interpolate between ranks; a summary of nothing is NaN', () => {
  assert.equal(quantile([1, 2, 3, 4], 0.5), 2.5);
  assert.equal(quantile([10], 0.99), 10);
  assert.equal(quantile([0, 100], 0.9), 90);
  const s = summarize([5, 1, 4, 2, 3]);
  assert.deepEqual(s, { count: 5, mean: 3, p50: 3, p90: 4.6, p99: 4.96, max: 5 });
  assert.ok(Number.isNaN(summarize([]).p50));
});
