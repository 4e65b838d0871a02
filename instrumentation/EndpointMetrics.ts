/**
 * Automatic endpoint metrics (docs/metrics.md §1). The request path only bumps plain numbers on a
 * per-endpoint object whose attributes were built once (an OTel SDK synchronous instrument costs
 * about 2.5 µs per call here, more than the whole budget); collection reads them through OTel
 * observable instruments on the `dynamo_component` meter (counters, in-flight) and, for the
 * duration histogram, which OTel has no observable form of, through the pipeline's snapshot
 * producer as cumulative histogram data. Counting starts before any pipeline exists, so nothing
 * is lost to start-up order.
 */
import { GEN_AI_METER_NAME, GenAiServerMetrics } from '../src/export/GenAiServerMetrics.ts';
import { EndpointGenAi } from './EndpointGenAi.ts';
import type { Attributes, BatchObservableResult, HrTime, Meter, ObservableCounter, ObservableUpDownCounter } from '@opentelemetry/api';
import { ConfigError } from '../src/config/schema.ts';
import { DEFAULT_DURATION_BUCKETS, DURATION_BUCKETS_ENV } from './buckets.ts';
import { millisToHrTime } from '@opentelemetry/core';
import {
  DataPointType,
  AggregationTemporality,
  type ExponentialHistogram,
  type Histogram,
  type MetricData,
  type ScopeMetrics,
} from '@opentelemetry/sdk-metrics';
import { ENDPOINT_ERROR_TYPES, type EndpointErrorType, type EndpointIdentity, type EndpointObserver } from '../src/runtime/observer.ts';
import { scopeAttributes } from './labels.ts';
import { histogramMetric, type FixedHistogram } from '../src/export/fixedHistogram.ts';
import { STREAM_METRIC_HELP, STREAM_METRIC_NAMES, StreamLatency } from './StreamLatency.ts';
import type { MetricsPipeline } from '../src/export/MetricsPipeline.ts';

export const COMPONENT_METER_NAME = 'dynamo_component';
/** Buckets of `dynamo_component_request_duration_seconds`, in seconds. */
/** The seed's duration buckets (the default layout; `buckets.ts` has the others). */
export const DURATION_BUCKETS_SECONDS: readonly number[] = DEFAULT_DURATION_BUCKETS;

export const METRIC_NAMES = {
  requests: 'dynamo_component_requests_total',
  requestBytes: 'dynamo_component_request_bytes_total',
  responseBytes: 'dynamo_component_response_bytes_total',
  errors: 'dynamo_component_errors_total',
  duration: 'dynamo_component_request_duration_seconds',
  inflight: 'dynamo_component_inflight_requests',
  cancellations: 'dynamo_component_cancellation_total',
} as const;

export const METRIC_HELP = {
  requests: 'Total number of requests processed by component endpoint',
  requestBytes: 'Total number of bytes received in requests by component endpoint',
  responseBytes: 'Total number of bytes sent in responses by component endpoint',
  errors: 'Total number of errors in component endpoint processing',
  duration: 'Time spent processing requests by component endpoint',
  inflight: 'Number of requests currently being processed by component endpoint',
  cancellations: 'Total number of requests cancelled by their client before being answered in full',
} as const;

/** The three labels every endpoint metric carries, with Dynamo's value sanitising. */
export function endpointAttributes(id: EndpointIdentity): Attributes {
  return scopeAttributes(id);
}

/**
 * The exponential form of the duration histogram, for OTLP readers that ask for it: base-2 at a
 * fixed scale of 3 (8 buckets per doubling, bounds within 9 % of each other) over 2^-20 s (about
 * 1 µs) to 2^12 s (68 min); shorter durations fall in the lowest bucket, longer in the highest.
 * A fixed scale keeps the request path to one log2 and lets deltas subtract bucket by bucket.
 */
export const EXP_HISTOGRAM_SCALE = 3;
const EXP_PER_OCTAVE = 2 ** EXP_HISTOGRAM_SCALE;
const EXP_OFFSET = -20 * EXP_PER_OCTAVE;
const EXP_BUCKETS = 32 * EXP_PER_OCTAVE;

/** The bucket (0-based, from `EXP_OFFSET`) of a positive duration: index i covers (base^i, base^(i+1)]. */
export function expBucket(seconds: number): number {
  const i = Math.ceil(Math.log2(seconds) * EXP_PER_OCTAVE) - 1 - EXP_OFFSET;
  return i < 0 ? 0 : i >= EXP_BUCKETS ? EXP_BUCKETS - 1 : i;
}

const ERROR_INDEX = new Map<EndpointErrorType, number>(ENDPOINT_ERROR_TYPES.map((t, i) => [t, i]));

/** Counters of one endpoint: what the request path touches. */
export class EndpointStats implements EndpointObserver {
  requests = 0;
  requestBytesTotal = 0;
  responseBytesTotal = 0;
  inflight = 0;
  cancellations = 0;
  readonly errors = new Float64Array(ENDPOINT_ERROR_TYPES.length);
  readonly bucketCounts: Float64Array;
  durationSum = 0;
  durationCount = 0;
  readonly expCounts = new Float64Array(EXP_BUCKETS);
  expZero = 0;
  readonly attributes: Attributes;
  readonly errorAttributes: Attributes[];
  /** Time to first chunk, between chunks, chunks per response: streamed responses only. */
  readonly stream = new StreamLatency();
  /** Set while the GenAI conventions are on: the runtime then reads each request's model. */
  modelRequestFinished: EndpointObserver['modelRequestFinished'] = undefined;

  constructor(
    readonly identity: EndpointIdentity,
    /** Upper bounds of the duration buckets, in seconds. */
    readonly bounds: readonly number[] = DURATION_BUCKETS_SECONDS,
  ) {
    this.bucketCounts = new Float64Array(bounds.length + 1);
    this.attributes = endpointAttributes(identity);
    this.errorAttributes = ENDPOINT_ERROR_TYPES.map((t) => ({ ...this.attributes, error_type: t }));
  }

  requestStarted(requestBytes: number): void {
    this.requests++;
    this.requestBytesTotal += requestBytes;
    this.inflight++;
  }

  responseBytes(n: number): void {
    this.responseBytesTotal += n;
  }

  streamChunk(sinceStartSeconds: number, sinceLastSeconds: number | undefined): void {
    this.stream.chunk(sinceStartSeconds, sinceLastSeconds);
  }

  streamFinished(chunks: number): void {
    this.stream.finished(chunks);
  }

  cancelled(): void {
    this.cancellations++;
  }

  error(type: EndpointErrorType): void {
    // biome-ignore lint/style/noNonNullAssertion: ERROR_INDEX has every EndpointErrorType, errors one slot per type
    this.errors[ERROR_INDEX.get(type)!]!++;
  }

  requestFinished(seconds: number): void {
    this.inflight--;
    this.durationCount++;
    this.durationSum += seconds;
    const bounds = this.bounds;
    let i = 0;
    // biome-ignore lint/style/noNonNullAssertion: i < bounds.length
    while (i < bounds.length && seconds > bounds[i]!) i++;
    // biome-ignore lint/style/noNonNullAssertion: bucketCounts has bounds.length + 1 slots and i <= bounds.length
    this.bucketCounts[i]!++;
    // biome-ignore lint/style/noNonNullAssertion: expBucket answers an index of expCounts for any positive number
    if (seconds > 0) this.expCounts[expBucket(seconds)]!++;
    else this.expZero++;
  }
}

/** All endpoints of the process, keyed by identity (runtimes serving the same endpoint share one). */
export class EndpointMetrics {
  private readonly stats = new Map<string, EndpointStats>();
  private readonly startTime: HrTime;
  private readonly attached = new WeakSet<MetricsPipeline>();
  private bounds: readonly number[] = DURATION_BUCKETS_SECONDS;
  /** The GenAI conventions' instruments, when on (`useGenAi`). */
  private genAi: GenAiServerMetrics | undefined;

  /**
   * Sets the duration bucket layout. Endpoints already observed keep theirs, so a different
   * layout once any endpoint is observed is a `ConfigError` (one process, one layout).
   */
  useBuckets(bounds: readonly number[]): void {
    const same = bounds.length === this.bounds.length && bounds.every((b, i) => b === this.bounds[i]);
    if (same) return;
    if (this.stats.size > 0)
      throw new ConfigError(
        `${DURATION_BUCKETS_ENV}: the duration buckets are already fixed for this process (an endpoint is served); set them before the first runtime connects`,
      );
    this.bounds = bounds;
  }

  /**
   * Turns the GenAI conventions' server instruments on or off for every endpoint of the process
   * (`OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental`): per model named in a request.
   */
  useGenAi(on: boolean): void {
    if (on === (this.genAi !== undefined)) return;
    this.genAi = on ? new GenAiServerMetrics() : undefined;
    for (const s of this.stats.values()) this.hookGenAi(s);
  }

  private hookGenAi(s: EndpointStats): void {
    s.modelRequestFinished = this.genAi === undefined ? undefined : new EndpointGenAi(this.genAi, s.attributes).finished;
  }

  /** The duration bucket layout in use. */
  get buckets(): readonly number[] {
    return this.bounds;
  }

  constructor() {
    this.startTime = millisToHrTime(Date.now());
  }

  /** The observer of one endpoint (an `EndpointObserverFactory`). */
  readonly observer = (id: EndpointIdentity): EndpointStats => {
    const key = `${id.namespace}\u0000${id.component}\u0000${id.endpoint}`;
    let s = this.stats.get(key);
    if (s === undefined) {
      s = new EndpointStats(id, this.bounds);
      this.hookGenAi(s);
      this.stats.set(key, s);
    }
    return s;
  };

  all(): IterableIterator<EndpointStats> {
    return this.stats.values();
  }

  /** Reports through `pipeline` from now on (once per pipeline). */
  attach(pipeline: MetricsPipeline): void {
    if (this.attached.has(pipeline)) return;
    this.attached.add(pipeline);
    this.observeWith(pipeline.meter(COMPONENT_METER_NAME));
    pipeline.snapshots.add((ctx) => (ctx.exponentialHistograms ? this.exponentialDurationSnapshot() : this.durationSnapshot()));
    pipeline.snapshots.add(() => this.streamSnapshot());
    pipeline.snapshots.add(() => this.genAi?.snapshot() ?? { scope: { name: GEN_AI_METER_NAME }, metrics: [] });
  }

  /** Time to first chunk, between chunks and chunks per response, for endpoints that streamed. */
  streamSnapshot(): ScopeMetrics {
    const endTime = millisToHrTime(Date.now());
    const all = [...this.stats.values()];
    const metric = (name: string, help: string, unit: string, pick: (s: EndpointStats) => FixedHistogram): MetricData | undefined =>
      histogramMetric(
        name,
        help,
        unit,
        all.map((s) => ({ attributes: s.attributes, h: pick(s) })),
        this.startTime,
        endTime,
      );
    const metrics = [
      metric(STREAM_METRIC_NAMES.firstChunk, STREAM_METRIC_HELP.firstChunk, 's', (s) => s.stream.firstChunk),
      metric(STREAM_METRIC_NAMES.interChunk, STREAM_METRIC_HELP.interChunk, 's', (s) => s.stream.interChunk),
      metric(STREAM_METRIC_NAMES.chunks, STREAM_METRIC_HELP.chunks, '', (s) => s.stream.chunks),
    ].filter((m): m is MetricData => m !== undefined);
    return { scope: { name: COMPONENT_METER_NAME }, metrics };
  }

  private observeWith(meter: Meter): void {
    const requests = meter.createObservableCounter(METRIC_NAMES.requests, { description: METRIC_HELP.requests });
    const requestBytes = meter.createObservableCounter(METRIC_NAMES.requestBytes, { description: METRIC_HELP.requestBytes });
    const responseBytes = meter.createObservableCounter(METRIC_NAMES.responseBytes, { description: METRIC_HELP.responseBytes });
    const errors = meter.createObservableCounter(METRIC_NAMES.errors, { description: METRIC_HELP.errors });
    const inflight: ObservableUpDownCounter = meter.createObservableUpDownCounter(METRIC_NAMES.inflight, {
      description: METRIC_HELP.inflight,
    });
    const cancellations = meter.createObservableCounter(METRIC_NAMES.cancellations, { description: METRIC_HELP.cancellations });
    const all: (ObservableCounter | ObservableUpDownCounter)[] = [requests, requestBytes, responseBytes, errors, inflight, cancellations];
    meter.addBatchObservableCallback((r: BatchObservableResult) => {
      for (const s of this.stats.values()) {
        r.observe(requests, s.requests, s.attributes);
        r.observe(requestBytes, s.requestBytesTotal, s.attributes);
        r.observe(responseBytes, s.responseBytesTotal, s.attributes);
        r.observe(inflight, s.inflight, s.attributes);
        r.observe(cancellations, s.cancellations, s.attributes);
        for (const [i, n] of s.errors.entries()) r.observe(errors, n, s.errorAttributes[i]);
      }
    }, all);
  }

  /** The duration histograms as cumulative base-2 exponential histogram data (OTLP, when asked). */
  exponentialDurationSnapshot(): ScopeMetrics {
    return this.durationMetric(DataPointType.EXPONENTIAL_HISTOGRAM, (s) => ({
      count: s.durationCount,
      sum: s.durationSum,
      scale: EXP_HISTOGRAM_SCALE,
      zeroCount: s.expZero,
      positive: { offset: EXP_OFFSET, bucketCounts: Array.from(s.expCounts) },
      negative: { offset: 0, bucketCounts: [] },
    }));
  }

  /** The duration histograms as cumulative OTel histogram data. */
  durationSnapshot(): ScopeMetrics {
    return this.durationMetric(DataPointType.HISTOGRAM, (s) => ({
      buckets: { boundaries: [...s.bounds], counts: Array.from(s.bucketCounts) },
      sum: s.durationSum,
      count: s.durationCount,
    }));
  }

  /** One cumulative duration metric with a point per endpoint, its value in the given form. */
  private durationMetric(
    type: DataPointType.HISTOGRAM | DataPointType.EXPONENTIAL_HISTOGRAM,
    value: (s: EndpointStats) => Histogram | ExponentialHistogram,
  ): ScopeMetrics {
    const endTime = millisToHrTime(Date.now());
    const dataPoints = [...this.stats.values()].map((s) => ({
      attributes: s.attributes,
      startTime: this.startTime,
      endTime,
      value: value(s),
    }));
    const metric = {
      descriptor: { name: METRIC_NAMES.duration, description: METRIC_HELP.duration, unit: 's', valueType: 1 },
      dataPointType: type,
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPoints,
    } as MetricData;
    return { scope: { name: COMPONENT_METER_NAME }, metrics: dataPoints.length === 0 ? [] : [metric] };
  }
}

/** The process's endpoint metrics: the runtime's default observer factory. */
export const processEndpointMetrics = new EndpointMetrics();
