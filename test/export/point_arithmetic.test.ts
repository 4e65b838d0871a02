/**
 * The one place sums and histograms are added and subtracted (src/export/pointArithmetic.ts):
 * cumulative to delta and the carry of undelivered deltas are inverse operations on every kind of
 * value, a change of layout or a restarted source is never combined, and a series' key does not
 * depend on the order of its attributes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ExponentialHistogram, Histogram } from '@opentelemetry/sdk-metrics';
import { addValue, attributesKey, subtractValue, type PointValue } from '../../src/export/pointArithmetic.ts';

const hist = (counts: number[], sum: number, boundaries = [1, 10], min?: number, max?: number): Histogram => ({
  buckets: { boundaries, counts },
  count: counts.reduce((a, b) => a + b, 0),
  sum,
  ...(min === undefined ? {} : { min }),
  ...(max === undefined ? {} : { max }),
});
const exp = (bucketCounts: number[], zeroCount: number, sum: number, scale = 2, offset = 3): ExponentialHistogram => ({
  count: bucketCounts.reduce((a, b) => a + b, 0) + zeroCount,
  sum,
  scale,
  zeroCount,
  positive: { offset, bucketCounts },
  negative: { offset: 0, bucketCounts: [] },
});

test('a series key is the same whatever the order of its attributes, and tells values and types apart', () => {
  assert.equal(attributesKey({ a: '1', b: '2' }), attributesKey({ b: '2', a: '1' }));
  assert.notEqual(attributesKey({ a: '1' }), attributesKey({ a: 1 }));
  assert.notEqual(attributesKey({ a: '1', b: '2' }), attributesKey({ a: '1,b:2' }));
  assert.notEqual(attributesKey({ 'a"': 'x' }), attributesKey({ a: '"x' }));
  assert.equal(attributesKey({}), '');
});

test('subtract then add gives the newer cumulative value back, for every kind of value', () => {
  const pairs: [PointValue, PointValue][] = [
    [5, 12],
    [hist([1, 2, 0], 7, [1, 10], 0.5, 9), hist([2, 5, 1], 30, [1, 10], 0.5, 20)],
    [exp([1, 0, 2], 1, 9), exp([3, 1, 2], 2, 20)],
  ];
  for (const [older, newer] of pairs) {
    const delta = subtractValue(newer, older);
    assert.ok(delta !== undefined);
    const back = addValue(older, delta);
    if (typeof newer === 'number') assert.equal(back, newer);
    else {
      const b = back as Histogram | ExponentialHistogram;
      assert.equal(b.count, newer.count);
      assert.equal(b.sum, newer.sum);
      if ('buckets' in newer) assert.deepEqual((b as Histogram).buckets, newer.buckets);
      else
        assert.deepEqual([(b as ExponentialHistogram).positive, (b as ExponentialHistogram).zeroCount], [newer.positive, newer.zeroCount]);
    }
  }
  const d = subtractValue(hist([2, 5, 1], 30, [1, 10], 0.5, 20), hist([1, 2, 0], 7)) as Histogram;
  assert.deepEqual([d.min, d.max], [undefined, undefined], 'the min and max of an interval cannot be known');
  const sum = addValue(hist([1, 0, 0], 1, [1, 10], 1, 1), hist([0, 1, 0], 5, [1, 10], 5, 5)) as Histogram;
  assert.deepEqual([sum.min, sum.max], [1, 5], 'two intervals: the smaller min, the larger max');
});

test('never combined: a cumulative value that went down, a changed layout, a kind that changed', () => {
  assert.equal(subtractValue(3, 5), undefined, 'the source restarted');
  assert.equal(subtractValue(hist([1, 0, 0], 1), hist([1, 2, 0], 7)), undefined, 'fewer observations than before');
  assert.equal(subtractValue(hist([1, 2], 7, [1]), hist([1, 2, 0], 7)), undefined, 'another bucket count');
  assert.equal(subtractValue(exp([1, 2], 0, 3, 3), exp([1, 0], 0, 1, 2)), undefined, 'another scale');
  assert.equal(subtractValue(exp([1, 2], 0, 3, 2, 4), exp([1, 0], 0, 1, 2, 3)), undefined, 'another offset');
  assert.equal(addValue(hist([1, 0, 0], 1, [1, 10]), hist([1, 0, 0], 1, [2, 10])), undefined, 'other bounds');
  assert.equal(addValue(exp([1], 0, 1, 2), exp([1], 0, 1, 3)), undefined);
  assert.equal(addValue(1, hist([1, 0, 0], 1)), undefined);
  assert.equal(subtractValue(hist([1, 0, 0], 1), 1), undefined);
  assert.equal(addValue(2, 3), 5);
});
