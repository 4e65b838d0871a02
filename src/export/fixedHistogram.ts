/**
 * Histograms recorded on the request path with a few arithmetic operations (no OTel call), and
 * their cumulative OTel form for the pipeline's snapshot producer.
 */
import type { Attributes, HrTime } from '@opentelemetry/api';
import { AggregationTemporality, DataPointType, type MetricData } from '@opentelemetry/sdk-metrics';

/** A cumulative explicit-bucket histogram with fixed bounds. */
export class FixedHistogram {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  record(v: number): void {
    const b = this.bounds;
    let i = 0;
    // biome-ignore lint/style/noNonNullAssertion: i < b.length
    while (i < b.length && v > b[i]!) i++;
    // biome-ignore lint/style/noNonNullAssertion: counts has bounds.length + 1 slots and i <= bounds.length
    this.counts[i]!++;
    this.sum += v;
    this.count++;
  }
}

/** One cumulative histogram metric with a point per series that recorded at least once (none: undefined). */
export function histogramMetric(
  name: string,
  description: string,
  unit: string,
  points: { attributes: Attributes; h: FixedHistogram }[],
  startTime: HrTime,
  endTime: HrTime,
): MetricData | undefined {
  const dataPoints = points
    .filter((p) => p.h.count > 0)
    .map((p) => ({
      attributes: p.attributes,
      startTime,
      endTime,
      value: { buckets: { boundaries: [...p.h.bounds], counts: Array.from(p.h.counts) }, sum: p.h.sum, count: p.h.count },
    }));
  if (dataPoints.length === 0) return undefined;
  return {
    descriptor: { name, description, unit, valueType: 1 },
    dataPointType: DataPointType.HISTOGRAM,
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPoints,
  } as MetricData;
}
