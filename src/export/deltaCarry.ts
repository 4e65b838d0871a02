/**
 * Delta temporality without loss: what an export could not deliver is merged into the next one
 * (sums added, histogram buckets added, gauges and cumulative data taken from the newer batch),
 * so the deltas a backend receives add up to the true total however many exports failed. The
 * carried data is bounded; past the bound it is dropped and counted. Pure.
 */
import type { HrTime } from '@opentelemetry/api';
import {
  AggregationTemporality,
  DataPointType,
  type DataPoint,
  type MetricData,
  type ResourceMetrics,
  type ScopeMetrics,
} from '@opentelemetry/sdk-metrics';
import { addValue, attributesKey, type PointValue } from './pointArithmetic.ts';

/** The most data points carried from failed exports into the next one. */
export const MAX_CARRIED_POINTS = 200_000;

const earlier = (a: HrTime, b: HrTime): HrTime => (a[0] < b[0] || (a[0] === b[0] && a[1] <= b[1]) ? a : b);

function isDelta(m: MetricData): boolean {
  return (
    m.aggregationTemporality === AggregationTemporality.DELTA &&
    (m.dataPointType === DataPointType.SUM ||
      m.dataPointType === DataPointType.HISTOGRAM ||
      m.dataPointType === DataPointType.EXPONENTIAL_HISTOGRAM)
  );
}

/** `newer` with the undelivered deltas of `older` added in. */
function mergeMetric(older: MetricData, newer: MetricData): MetricData {
  if (!isDelta(older) || !isDelta(newer) || older.dataPointType !== newer.dataPointType) return newer;
  const byKey = new Map<string, DataPoint<PointValue>>();
  for (const p of older.dataPoints as DataPoint<PointValue>[]) byKey.set(attributesKey(p.attributes), p);
  const points: DataPoint<PointValue>[] = [];
  for (const p of newer.dataPoints as DataPoint<PointValue>[]) {
    const k = attributesKey(p.attributes);
    const o = byKey.get(k);
    byKey.delete(k);
    const sum = o === undefined ? undefined : addValue(o.value, p.value);
    // a layout that changed between the two: the newer delta alone
    points.push(o === undefined || sum === undefined ? p : { ...p, startTime: earlier(o.startTime, p.startTime), value: sum });
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
  return {
    resource: rm.resource,
    scopeMetrics: rm.scopeMetrics.map((sm) => ({ ...sm, metrics: sm.metrics.filter(isDelta) })).filter((sm) => sm.metrics.length > 0),
  };
}
