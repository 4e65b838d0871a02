/**
 * The frontend's metrics, named, labelled and bucketed as Dynamo's frontend names them
 * (`dynamo_frontend_*`, docs/metrics.md §5). The request path only bumps numbers on the model's
 * object; collection turns them into cumulative OTel data through the pipeline's snapshot
 * producer, as the endpoint metrics do. How each is measured follows Dynamo: a request is in
 * flight from the handler's start to its response's end and queued until its first token; the
 * time to first token is observed with the input length at the first token; a chunk of n tokens
 * after the first adds n inter-token latencies of (time since the last chunk) / n.
 */
import type { Attributes, HrTime } from '@opentelemetry/api';
import { millisToHrTime } from '@opentelemetry/core';
import { AggregationTemporality, DataPointType, type MetricData, type ScopeMetrics } from '@opentelemetry/sdk-metrics';
import { FixedHistogram, histogramMetric } from '../export/fixedHistogram.ts';
import type { ModelCard } from '../runtime/modelCard.ts';
import { type BucketLayout, bucketsFromEnv, FRONTEND_BUCKET_LAYOUTS } from './buckets.ts';
import type { OperationKind } from './openai.ts';

export const FRONTEND_METER_NAME = 'dynamo_frontend';
/** Dynamo's default prefix; `DYN_METRICS_PREFIX` replaces it. */
export const DEFAULT_FRONTEND_PREFIX = 'dynamo_frontend';
export const METRICS_PREFIX_ENV = 'DYN_METRICS_PREFIX';

/** Names after the prefix, as in Dynamo's `frontend_service` constants. */
export const FRONTEND_METRIC_SUFFIXES = {
  requests: 'requests_total',
  inflight: 'inflight_requests',
  active: 'active_requests',
  queued: 'queued_requests',
  disconnected: 'disconnected_clients',
  duration: 'request_duration_seconds',
  inputSequence: 'input_sequence_tokens',
  outputSequence: 'output_sequence_tokens',
  outputTokens: 'output_tokens_total',
  cachedTokens: 'cached_tokens',
  timeToFirstToken: 'time_to_first_token_seconds',
  interTokenLatency: 'inter_token_latency_seconds',
  cancellations: 'model_cancellation_total',
  totalKvBlocks: 'model_total_kv_blocks',
  maxNumSeqs: 'model_max_num_seqs',
  maxNumBatchedTokens: 'model_max_num_batched_tokens',
  contextLength: 'model_context_length',
  kvCacheBlockSize: 'model_kv_cache_block_size',
  migrationLimit: 'model_migration_limit',
  loadEventsRejected: 'router_load_events_rejected_total',
} as const;

/** Help texts, Dynamo's. */
export const FRONTEND_METRIC_HELP: Record<keyof typeof FRONTEND_METRIC_SUFFIXES, string> = {
  requests: 'Total number of LLM requests processed',
  inflight: 'Number of inflight requests',
  active: 'Number of requests currently being handled by the frontend, from HTTP handler entry to response completion',
  queued: 'Number of requests in HTTP processing queue',
  disconnected: 'Number of disconnected clients',
  duration: 'Duration of LLM requests',
  inputSequence: 'Input sequence length in tokens',
  outputSequence: 'Output sequence length in tokens',
  outputTokens: 'Total number of output tokens generated (updates in real-time)',
  cachedTokens: 'Number of cached tokens (prefix cache hits) per request',
  timeToFirstToken: 'Time to first token in seconds',
  interTokenLatency: 'Inter-token latency in seconds',
  cancellations: 'Total number of request cancellations',
  totalKvBlocks: 'Total KV cache blocks available for a worker serving the model',
  maxNumSeqs: 'Maximum number of sequences for a worker serving the model',
  maxNumBatchedTokens: 'Maximum number of batched tokens for a worker serving the model',
  contextLength: 'Maximum context length in tokens for a worker serving the model',
  kvCacheBlockSize: 'KV cache block size in tokens for a worker serving the model',
  migrationLimit: 'Maximum number of request migrations allowed for the model',
  loadEventsRejected: "Load events the least-loaded router dropped, by reason (this project's, not Dynamo's)",
};

export type RequestType = 'stream' | 'unary';

/** One model's figures for the status page. */
export interface ModelSummary {
  model: string;
  success: number;
  failed: number;
  cancelled: number;
  inflight: number;
  queued: number;
  outputTokens: number;
  meanDurationSeconds: number | null;
  meanTtftSeconds: number | null;
  meanItlSeconds: number | null;
}
type NumberPoint = { attributes: Attributes; value: number };
export type RequestStatus = 'success' | 'error';
/** Dynamo's `error_type` values; '' for a success. */
export type FrontendErrorType = '' | 'validation' | 'not_found' | 'overload' | 'unavailable' | 'cancelled' | 'internal';

/** The bounds of each histogram. */
export interface FrontendBuckets {
  requestDuration: readonly number[];
  inputSequence: readonly number[];
  outputSequence: readonly number[];
  timeToFirstToken: readonly number[];
  interTokenLatency: readonly number[];
}

/** Dynamo's layouts as `DYN_METRICS_*` set them; a bad value is a `ConfigError`. */
export function frontendBucketsFromEnv(env: NodeJS.ProcessEnv): FrontendBuckets {
  const get = (l: BucketLayout): number[] => bucketsFromEnv(l, env);
  const L = FRONTEND_BUCKET_LAYOUTS;
  return {
    requestDuration: get(L.requestDuration),
    inputSequence: get(L.inputSequence),
    outputSequence: get(L.outputSequence),
    timeToFirstToken: get(L.timeToFirstToken),
    interTokenLatency: get(L.interTokenLatency),
  };
}

/** Dynamo sanitises the prefix into a metric-name-safe string. */
export function sanitizePrefix(prefix: string): string {
  const s = prefix.replace(/[^a-zA-Z0-9_:]/g, '_');
  return /^[a-zA-Z_:]/.test(s) ? s : `_${s}`;
}

/** Everything counted for one model. */
class ModelStats {
  readonly attributes: Attributes;
  /** `requests_total` by `endpoint|request_type|status|error_type`. */
  readonly requests = new Map<string, { attributes: Attributes; n: number }>();
  readonly cancellations = new Map<string, { attributes: Attributes; n: number }>();
  inflight = 0;
  queued = 0;
  outputTokens = 0;
  readonly duration: FixedHistogram;
  readonly inputSequence: FixedHistogram;
  readonly outputSequence: FixedHistogram;
  readonly cachedTokens: FixedHistogram;
  readonly timeToFirstToken: FixedHistogram;
  readonly interTokenLatency: FixedHistogram;
  card: ModelCard | undefined;

  constructor(
    readonly model: string,
    b: FrontendBuckets,
  ) {
    this.attributes = { model };
    this.duration = new FixedHistogram(b.requestDuration);
    this.inputSequence = new FixedHistogram(b.inputSequence);
    this.outputSequence = new FixedHistogram(b.outputSequence);
    // Dynamo buckets cached tokens as input sequences
    this.cachedTokens = new FixedHistogram(b.inputSequence);
    this.timeToFirstToken = new FixedHistogram(b.timeToFirstToken);
    this.interTokenLatency = new FixedHistogram(b.interTokenLatency);
  }

  count(map: Map<string, { attributes: Attributes; n: number }>, attributes: Attributes): void {
    const key = Object.values(attributes).join('|');
    const e = map.get(key);
    if (e !== undefined) e.n++;
    else map.set(key, { attributes, n: 1 });
  }
}

/** What the frontend tells about one request as it goes. */
export interface Measure {
  /** Tokens sent so far. */
  readonly tokens: number;
  tokensSent(n: number, inputTokens: number): void;
  cachedTokens(n: number): void;
  end(status: RequestStatus, errorType: FrontendErrorType): void;
}

/** A request not measured (the relay's cost without its instrumentation, for the benchmark). */
export class UnmeasuredRequest implements Measure {
  tokens = 0;
  tokensSent(n: number): void {
    this.tokens += n;
  }
  cachedTokens(): void {}
  end(): void {}
}

/** One request as the frontend measures it, from the handler's start to the end of its response. */
export class RequestMeasure implements Measure {
  private readonly start = performance.now();
  private last = 0;
  private outputTokens = 0;
  private queued = true;
  private done = false;
  private cachedObserved = false;
  /** Seconds to the first token, once it came. */
  ttftSeconds: number | undefined;

  constructor(
    private readonly stats: ModelStats,
    readonly endpoint: OperationKind,
    private readonly requestType: RequestType,
    private readonly onEnd: (m: RequestMeasure, durationSeconds: number, status: RequestStatus, errorType: FrontendErrorType) => void,
  ) {
    stats.inflight++;
    stats.queued++;
  }

  get tokens(): number {
    return this.outputTokens;
  }

  /** A chunk of `n` tokens went to the client; `inputTokens` is the prompt's length. */
  tokensSent(n: number, inputTokens: number): void {
    if (n === 0 || this.done) return;
    const now = performance.now();
    const s = this.stats;
    s.outputTokens += n;
    if (this.queued) {
      this.queued = false;
      s.queued--;
      this.ttftSeconds = (now - this.start) / 1000;
      s.timeToFirstToken.record(this.ttftSeconds);
      s.inputSequence.record(inputTokens);
    } else {
      const itl = (now - this.last) / 1000 / n;
      for (let i = 0; i < n; i++) s.interTokenLatency.record(itl);
    }
    this.last = now;
    this.outputTokens += n;
  }

  /** The prompt tokens the worker found cached (observed once). */
  cachedTokens(n: number): void {
    if (this.cachedObserved || this.done) return;
    this.cachedObserved = true;
    this.stats.cachedTokens.record(n);
  }

  /** The response is over (idempotent: the first end counts). */
  end(status: RequestStatus, errorType: FrontendErrorType): void {
    if (this.done) return;
    this.done = true;
    const s = this.stats;
    const seconds = (performance.now() - this.start) / 1000;
    s.inflight--;
    if (this.queued) s.queued--;
    s.count(s.requests, { model: s.model, endpoint: this.endpoint, request_type: this.requestType, status, error_type: errorType });
    if (errorType === 'cancelled') s.count(s.cancellations, { model: s.model, endpoint: this.endpoint, request_type: this.requestType });
    s.duration.record(seconds);
    if (this.outputTokens > 0) s.outputSequence.record(this.outputTokens);
    this.onEnd(this, seconds, status, errorType);
  }
}

export class FrontendMetrics {
  private readonly models = new Map<string, ModelStats>();
  private readonly startTime: HrTime = millisToHrTime(Date.now());
  private readonly prefix: string;
  disconnectedClients = 0;
  private readonly loadRejects = new Map<string, number>();

  constructor(
    private readonly buckets: FrontendBuckets,
    prefix = DEFAULT_FRONTEND_PREFIX,
    /** Told of each request's end (the GenAI conventions' instruments listen here). */
    private readonly onEnd: (
      m: RequestMeasure,
      model: string,
      seconds: number,
      status: RequestStatus,
      errorType: FrontendErrorType,
    ) => void = () => undefined,
  ) {
    this.prefix = sanitizePrefix(prefix);
  }

  name(key: keyof typeof FRONTEND_METRIC_SUFFIXES): string {
    return `${this.prefix}_${FRONTEND_METRIC_SUFFIXES[key]}`;
  }

  private stats(model: string): ModelStats {
    let s = this.models.get(model);
    if (s === undefined) {
      s = new ModelStats(model, this.buckets);
      this.models.set(model, s);
    }
    return s;
  }

  /** A request for a model the frontend serves begins. */
  begin(model: string, endpoint: OperationKind, requestType: RequestType): RequestMeasure {
    return new RequestMeasure(this.stats(model), endpoint, requestType, (m, seconds, status, errorType) =>
      this.onEnd(m, model, seconds, status, errorType),
    );
  }

  /** The model's configuration gauges, from a worker's model card. */
  modelCard(model: string, card: ModelCard): void {
    this.stats(model).card = card;
  }

  /** The router dropped a worker's load event. */
  loadEventRejected(reason: string): void {
    this.loadRejects.set(reason, (this.loadRejects.get(reason) ?? 0) + 1);
  }

  /** Each model's figures as the status page shows them (the numbers /metrics reads). */
  summaries(): ModelSummary[] {
    return [...this.models.values()].map((s) => {
      let success = 0;
      let failed = 0;
      for (const e of s.requests.values()) {
        if (e.attributes.status === 'success') success += e.n;
        else failed += e.n;
      }
      let cancelled = 0;
      for (const e of s.cancellations.values()) cancelled += e.n;
      const mean = (h: FixedHistogram): number | null => (h.count === 0 ? null : h.sum / h.count);
      return {
        model: s.model,
        success,
        failed,
        cancelled,
        inflight: s.inflight,
        queued: s.queued,
        outputTokens: s.outputTokens,
        meanDurationSeconds: mean(s.duration),
        meanTtftSeconds: mean(s.timeToFirstToken),
        meanItlSeconds: mean(s.interTokenLatency),
      };
    });
  }

  /** Now: in flight and queued for `model`. */
  load(model: string): { inflight: number; queued: number } {
    const s = this.models.get(model);
    return { inflight: s?.inflight ?? 0, queued: s?.queued ?? 0 };
  }

  /** Every frontend metric as cumulative OTel data. */
  snapshot(): ScopeMetrics {
    const endTime = millisToHrTime(Date.now());
    const all = [...this.models.values()];
    const H = FRONTEND_METRIC_HELP;
    const metrics: (MetricData | undefined)[] = [
      this.sum(
        'requests',
        all.flatMap((s) => [...s.requests.values()].map((e) => ({ attributes: e.attributes, value: e.n }))),
        endTime,
      ),
      this.sum(
        'cancellations',
        all.flatMap((s) => [...s.cancellations.values()].map((e) => ({ attributes: e.attributes, value: e.n }))),
        endTime,
      ),
      this.sum(
        'outputTokens',
        all.map((s) => ({ attributes: s.attributes, value: s.outputTokens })),
        endTime,
      ),
      this.gauge(
        'inflight',
        all.map((s) => ({ attributes: s.attributes, value: s.inflight })),
        endTime,
      ),
      this.gauge(
        'active',
        all.map((s) => ({ attributes: s.attributes, value: s.inflight })),
        endTime,
      ),
      this.gauge(
        'queued',
        all.map((s) => ({ attributes: s.attributes, value: s.queued })),
        endTime,
      ),
      this.gauge('disconnected', [{ attributes: {}, value: this.disconnectedClients }], endTime),
      this.sum(
        'loadEventsRejected',
        [...this.loadRejects].map(([reason, n]) => ({ attributes: { reason }, value: n })),
        endTime,
      ),
    ];
    const cards = all.filter((s) => s.card !== undefined);
    const cardGauge = (key: keyof typeof FRONTEND_METRIC_SUFFIXES, pick: (c: ModelCard) => number): MetricData | undefined =>
      this.gauge(
        key,
        cards.map((s) => ({ attributes: s.attributes, value: pick(s.card as ModelCard) })),
        endTime,
      );
    metrics.push(
      cardGauge('totalKvBlocks', (c) => c.totalKvBlocks),
      cardGauge('maxNumSeqs', (c) => c.maxNumSeqs),
      cardGauge('maxNumBatchedTokens', (c) => c.maxNumBatchedTokens),
      cardGauge('contextLength', (c) => c.contextLength),
      cardGauge('kvCacheBlockSize', (c) => c.kvCacheBlockSize),
      cardGauge('migrationLimit', (c) => c.migrationLimit),
    );
    const hist = (
      key: keyof typeof FRONTEND_METRIC_SUFFIXES,
      unit: string,
      pick: (s: ModelStats) => FixedHistogram,
    ): MetricData | undefined =>
      histogramMetric(
        this.name(key),
        H[key],
        unit,
        all.map((s) => ({ attributes: s.attributes, h: pick(s) })),
        this.startTime,
        endTime,
      );
    metrics.push(
      hist('duration', 's', (s) => s.duration),
      hist('inputSequence', '', (s) => s.inputSequence),
      hist('outputSequence', '', (s) => s.outputSequence),
      hist('cachedTokens', '', (s) => s.cachedTokens),
      hist('timeToFirstToken', 's', (s) => s.timeToFirstToken),
      hist('interTokenLatency', 's', (s) => s.interTokenLatency),
    );
    return { scope: { name: FRONTEND_METER_NAME }, metrics: metrics.filter((m): m is MetricData => m !== undefined) };
  }

  private sum(key: keyof typeof FRONTEND_METRIC_SUFFIXES, points: NumberPoint[], endTime: HrTime): MetricData | undefined {
    return this.numbers(key, DataPointType.SUM, points, endTime);
  }

  private gauge(key: keyof typeof FRONTEND_METRIC_SUFFIXES, points: NumberPoint[], endTime: HrTime): MetricData | undefined {
    return this.numbers(key, DataPointType.GAUGE, points, endTime);
  }

  /** A counter (a monotonic cumulative sum) or a gauge; none without points. */
  private numbers(
    key: keyof typeof FRONTEND_METRIC_SUFFIXES,
    type: DataPointType.SUM | DataPointType.GAUGE,
    points: NumberPoint[],
    endTime: HrTime,
  ): MetricData | undefined {
    if (points.length === 0) return undefined;
    return {
      descriptor: { name: this.name(key), description: FRONTEND_METRIC_HELP[key], unit: '', valueType: 1 },
      dataPointType: type,
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      ...(type === DataPointType.SUM ? { isMonotonic: true } : {}),
      dataPoints: points.map((p) => ({ attributes: p.attributes, startTime: this.startTime, endTime, value: p.value })),
    } as MetricData;
  }
}
