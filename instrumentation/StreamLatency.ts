/**
 * Streaming latency of an endpoint (docs/metrics.md §1, "Streaming"): for every streamed response,
 * the time from the request's arrival to its first chunk (an LLM worker's time to first token),
 * the time between consecutive chunks (inter-token latency), and the number of chunks. Fixed
 * explicit buckets, recorded with a few arithmetic operations per chunk (bench/instrumentation).
 */
import { FixedHistogram } from '../src/export/fixedHistogram.ts';

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
