/**
 * Arithmetic on the values of sum and histogram data points (pure), shared by the two places that
 * do it: cumulative to delta (`SnapshotProducer`'s delta view subtracts the previous collection)
 * and the carry of undelivered deltas (`deltaCarry` adds them into the next export). Each
 * operation answers `undefined` when the two values cannot be combined (histogram bounds or an
 * exponential histogram's scale changed, a cumulative value went down): the caller then takes the
 * newer value whole. And the key of a series, independent of the order of its attributes.
 */
import type { Attributes } from '@opentelemetry/api';
import type { ExponentialHistogram, Histogram } from '@opentelemetry/sdk-metrics';

export type PointValue = number | Histogram | ExponentialHistogram;

export function isExponential(v: unknown): v is ExponentialHistogram {
  return typeof v === 'object' && v !== null && 'scale' in v;
}

/**
 * The key of a series within one metric: its attributes with their names sorted, so that
 * `{a, b}` and `{b, a}` are one series (as the OTel SDK keys them).
 */
export function attributesKey(attrs: Attributes): string {
  const names = Object.keys(attrs);
  if (names.length > 1) names.sort();
  let out = '';
  for (const n of names) out += `${JSON.stringify(n)}:${JSON.stringify(attrs[n])},`;
  return out;
}

/** `h` without its min and max (those of an interval cannot be known from two cumulative values). */
function withoutMinMax<T extends { min?: number; max?: number }>(h: T): Omit<T, 'min' | 'max'> {
  const { min: _min, max: _max, ...rest } = h;
  return rest;
}

/** Bucket counts combined one by one (`sign` -1 subtracts `b`). */
function combineCounts(a: readonly number[], b: readonly number[], sign: 1 | -1): number[] {
  return a.map((c, i) => c + sign * (b[i] ?? 0));
}

function sameBounds(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function sameExponentialLayout(a: ExponentialHistogram, b: ExponentialHistogram): boolean {
  return (
    a.scale === b.scale && a.positive.offset === b.positive.offset && a.positive.bucketCounts.length === b.positive.bucketCounts.length
  );
}

/**
 * What `newer` (cumulative) added since `older` (the same series' previous cumulative value):
 * undefined when it cannot be told (the value went down: the source restarted; the layout changed).
 * Min and max of an interval cannot be known from two cumulative values: left out.
 */
export function subtractValue(newer: PointValue, older: PointValue): PointValue | undefined {
  if (typeof newer === 'number') return typeof older === 'number' && newer >= older ? newer - older : undefined;
  if (typeof older === 'number' || newer.count < older.count) return undefined;
  const counts = { count: newer.count - older.count, sum: (newer.sum ?? 0) - (older.sum ?? 0) };
  if (isExponential(newer)) {
    if (!isExponential(older) || !sameExponentialLayout(newer, older)) return undefined;
    return {
      ...withoutMinMax(newer),
      ...counts,
      zeroCount: newer.zeroCount - older.zeroCount,
      positive: {
        offset: newer.positive.offset,
        bucketCounts: combineCounts(newer.positive.bucketCounts, older.positive.bucketCounts, -1),
      },
    };
  }
  if (isExponential(older) || newer.buckets.counts.length !== older.buckets.counts.length) return undefined;
  return {
    ...withoutMinMax(newer),
    ...counts,
    buckets: { boundaries: newer.buckets.boundaries, counts: combineCounts(newer.buckets.counts, older.buckets.counts, -1) },
  };
}

/** Two deltas of one series as one (`older` then `newer`): undefined when the layouts differ. */
export function addValue(older: PointValue, newer: PointValue): PointValue | undefined {
  if (typeof newer === 'number') return typeof older === 'number' ? older + newer : undefined;
  if (typeof older === 'number') return undefined;
  const counts = { count: older.count + newer.count, sum: (older.sum ?? 0) + (newer.sum ?? 0) };
  if (isExponential(newer)) {
    if (!isExponential(older) || !sameExponentialLayout(newer, older)) return undefined;
    return {
      ...withoutMinMax(newer),
      ...counts,
      zeroCount: older.zeroCount + newer.zeroCount,
      positive: { offset: newer.positive.offset, bucketCounts: combineCounts(newer.positive.bucketCounts, older.positive.bucketCounts, 1) },
    };
  }
  if (isExponential(older) || !sameBounds(older.buckets.boundaries, newer.buckets.boundaries)) return undefined;
  return {
    ...withoutMinMax(newer),
    ...counts,
    ...(older.min === undefined || newer.min === undefined ? {} : { min: Math.min(older.min, newer.min) }),
    ...(older.max === undefined || newer.max === undefined ? {} : { max: Math.max(older.max, newer.max) }),
    buckets: { boundaries: newer.buckets.boundaries, counts: combineCounts(newer.buckets.counts, older.buckets.counts, 1) },
  };
}
