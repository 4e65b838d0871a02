/**
 * Delta temporality without loss: what an export could not deliver is merged into the next one
 * (sums added, histogram buckets added, gauges and cumulative data taken from the newer batch),
 * so the deltas a backend receives add up to the true total however many exports failed. The
 * carried data is bounded; past the bound it is dropped and counted. Pure.
 */
import type { Attributes, HrTime } from '@opentelemetry/api';
import { AggregationTemporality, DataPointType, type DataPoint, type ExponentialHistogram, type Histogram, type MetricData, type ResourceMetrics, type ScopeMetrics } from '@opentelemetry/sdk-metrics';

/** The most data points carried from failed exports into the next one. */
export const MAX_CARRIED_POINTS = 200_000;

const attrKey = (a: Attributes): string => JSON.stringify(a);
const earlier = (a: HrTime, b: HrTime): HrTime => (a[0] < b[0] || (a[0] === b[0] && a[1] <= b[1]) ? a : b);

function isDelta(m: MetricData): boolean {
  return (
    m.aggregationTemporality === AggregationTemporality.DELTA &&
    (m.dataPointType === DataPointType.SUM || m.dataPointType === DataPointType.HISTOGRAM || m.dataPointType === DataPointType.EXPONENTIAL_HISTOGRAM)
  );
}

function addExponential(older: ExponentialHistogram, newer: ExponentialHistogram): ExponentialHistogram | undefined {
  const a = older.positive;
  const b = newer.positive;
  if (older.scale !== newer.scale || a.offset !== b.offset || a.bucketCounts.length !== b.bucketCounts.length) return undefined;
  return {
    ...newer,
    count: older.count + newer.count,
    sum: (older.sum ?? 0) + (newer.sum ?? 0),
    zeroCount: older.zeroCount + newer.zeroCount,
    min: undefined,
    max: undefined,
    positive: { offset: b.offset, bucketCounts: b.bucketCounts.map((c, i) => c + (a.bucketCounts[i] ?? 0)) },
  };
}

function addHistogram(older: Histogram, newer: Histogram): Histogram | undefined {
  const a = older.buckets;
  const b = newer.buckets;
  if (a.boundaries.length !== b.boundaries.length || a.boundaries.some((x, i) => x !== b.boundaries[i])) return undefined;
  return {
    ...newer,
    count: older.count + newer.count,
    sum: (older.sum ?? 0) + (newer.sum ?? 0),
    min: older.min === undefined || newer.min === undefined ? undefined : Math.min(older.min, newer.min),
    max: older.max === undefined || newer.max === undefined ? undefined : Math.max(older.max, newer.max),
    buckets: { boundaries: b.boundaries, counts: b.counts.map((c, i) => c + (a.counts[i] ?? 0)) },
  };
}

/** `newer` with the undelivered deltas of `older` added in. */
function mergeMetric(older: MetricData, newer: MetricData): MetricData {
  if (!isDelta(older) || !isDelta(newer) || older.dataPointType !== newer.dataPointType) return newer;
  const byKey = new Map<string, DataPoint<number | Histogram>>();
  for (const p of older.dataPoints as DataPoint<number | Histogram>[]) byKey.set(attrKey(p.attributes), p);
  const points: DataPoint<number | Histogram>[] = [];
  for (const p of newer.dataPoints as DataPoint<number | Histogram>[]) {
    const k = attrKey(p.attributes);
    const o = byKey.get(k);
    byKey.delete(k);
    if (o === undefined) points.push(p);
    else if (typeof p.value === 'number') points.push({ ...p, startTime: earlier(o.startTime, p.startTime), value: (o.value as number) + p.value });
    else if ('scale' in p.value) {
      const h = addExponential(o.value as unknown as ExponentialHistogram, p.value as unknown as ExponentialHistogram);
      points.push(h === undefined ? p : { ...p, startTime: earlier(o.startTime, p.startTime), value: h as unknown as Histogram });
    } else {
      const h = addHistogram(o.value as Histogram, p.value);
      points.push(h === undefined ? p : { ...p, startTime: earlier(o.startTime, p.startTime), value: h });
    }
  }
  points.push(...byKey.values()); // series with nothing new since: their undelivered delta still goes
  return { ...newer, dataPoints: points } as MetricData;
}

/** Merges the undelivered batch `older` into `newer`: the batch to send now. */
export function carryInto(older: ResourceMetrics, newer: ResourceMetrics): ResourceMetrics {
  const scopes = new Map<string, ScopeMetrics>();
  const scopeKey = (s: ScopeMetrics): string => `${s.scope.name}\u0000${s.scope.version ?? ''}`;
  for (const sm of older.scopeMetrics) {
    const deltas = sm.metrics.filter(isDelta);
    if (deltas.length > 0) scopes.set(scopeKey(sm), { ...sm, metrics: deltas });
  }
  const out: ScopeMetrics[] = [];
  for (const sm of newer.scopeMetrics) {
    const old = scopes.get(scopeKey(sm));
    scopes.delete(scopeKey(sm));
    if (old === undefined) {
      out.push(sm);
      continue;
    }
    const oldByName = new Map(old.metrics.map((m) => [m.descriptor.name, m]));
    const metrics = sm.metrics.map((m) => {
      const o = oldByName.get(m.descriptor.name);
      oldByName.delete(m.descriptor.name);
      return o === undefined ? m : mergeMetric(o, m);
    });
    out.push({ ...sm, metrics: [...metrics, ...oldByName.values()] });
  }
  out.push(...scopes.values());
  return { resource: newer.resource, scopeMetrics: out };
}

/** Data points in a batch (for the carry's bound). */
export function pointCount(rm: ResourceMetrics): number {
  let n = 0;
  for (const sm of rm.scopeMetrics) for (const m of sm.metrics) n += m.dataPoints.length;
  return n;
}

/** The undelivered part of a failed batch worth carrying: its delta sums and histograms. */
export function undelivered(rm: ResourceMetrics): ResourceMetrics {
  return { resource: rm.resource, scopeMetrics: rm.scopeMetrics.map((sm) => ({ ...sm, metrics: sm.metrics.filter(isDelta) })).filter((sm) => sm.metrics.length > 0) };
}
