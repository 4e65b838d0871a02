/**
 * Streaming latency of an endpoint (docs/metrics.md §1, "Streaming"): for every streamed response,
 * the time from the request's arrival to its first chunk (an LLM worker's time to first token),
 * the time between consecutive chunks (inter-token latency), and the number of chunks. Fixed
 * explicit buckets, recorded with a few arithmetic operations per chunk (bench/instrumentation).
 */
import type { Attributes, HrTime } from '@opentelemetry/api';
import { AggregationTemporality, DataPointType, type MetricData } from '@opentelemetry/sdk-metrics';

export const STREAM_METRIC_NAMES = {
  firstChunk: 'dynamo_component_time_to_first_chunk_seconds',
  interChunk: 'dynamo_component_inter_chunk_latency_seconds',
  chunks: 'dynamo_component_response_chunks',
} as const;

export const STREAM_METRIC_HELP = {
  firstChunk: "Time from a streamed request's arrival to its first response chunk (time to first token)",
  interChunk: 'Time between two consecutive chunks of a streamed response (inter-token latency)',
  chunks: 'Chunks per streamed response',
} as const;

/** Time to first chunk, seconds: from a fast cache hit to a long prefill. */
export const FIRST_CHUNK_BUCKETS: readonly number[] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/** Between chunks, seconds: decode steps are milliseconds to tens of milliseconds. */
export const INTER_CHUNK_BUCKETS: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
/** Chunks per response. */
export const CHUNK_COUNT_BUCKETS: readonly number[] = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000];

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
    while (i < b.length && v > b[i]!) i++;
    this.counts[i]!++;
    this.sum += v;
    this.count++;
  }
}

/** The three histograms of one endpoint. */
export class StreamLatency {
  readonly firstChunk = new FixedHistogram(FIRST_CHUNK_BUCKETS);
  readonly interChunk = new FixedHistogram(INTER_CHUNK_BUCKETS);
  readonly chunks = new FixedHistogram(CHUNK_COUNT_BUCKETS);

  chunk(sinceStartSeconds: number, sinceLastSeconds: number | undefined): void {
    if (sinceLastSeconds === undefined) this.firstChunk.record(sinceStartSeconds);
    else this.interChunk.record(sinceLastSeconds);
  }

  finished(chunks: number): void {
    this.chunks.record(chunks);
  }
}

/** One cumulative histogram metric with a point per endpoint that streamed at least once. */
export function streamMetric(
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
