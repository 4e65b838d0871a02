/**
 * OpenTelemetry's GenAI semantic conventions for a model server (docs/metrics.md §6):
 * `gen_ai.server.request.duration`, `gen_ai.server.time_to_first_token` and
 * `gen_ai.server.time_per_output_token`, with the units, attributes and bucket boundaries the
 * conventions give, for every process that measures model requests: the frontend (per model and
 * OpenAI operation) and the workers' endpoints (per model named in the request). Emitted when
 * `OTEL_SEMCONV_STABILITY_OPT_IN` holds `gen_ai_latest_experimental` (the conventions' opt-in) or a
 * command's `--metric-names` asks for them. The two client instruments (`gen_ai.client.token.usage`,
 * `gen_ai.client.operation.duration`) are the load generator's: it is the client. Recorded as
 * plain numbers on the request path, turned into OTel data at collection.
 */
import type { Attributes, HrTime } from '@opentelemetry/api';
import { millisToHrTime } from '@opentelemetry/core';
import type { MetricData, ScopeMetrics } from '@opentelemetry/sdk-metrics';
import { FixedHistogram, histogramMetric } from './fixedHistogram.ts';
import { GEN_AI_DURATION_BUCKETS, GEN_AI_TPOT_BUCKETS, GEN_AI_TTFT_BUCKETS } from './genAiConventions.ts';

export const GEN_AI_METER_NAME = 'gen_ai';
/** The value of `OTEL_SEMCONV_STABILITY_OPT_IN` that opts in (the conventions' own). */
export const GEN_AI_OPT_IN = 'gen_ai_latest_experimental';
export const SEMCONV_OPT_IN_ENV = 'OTEL_SEMCONV_STABILITY_OPT_IN';

/** Which metric names a process emits: Dynamo's, the GenAI conventions', or both. */
export const METRIC_NAME_SETS = ['dynamo', 'gen_ai', 'both'] as const;
export type MetricNameSet = (typeof METRIC_NAME_SETS)[number];

/** `both` when the opt-in variable lists `gen_ai_latest_experimental`, else `dynamo`. */
export function metricNamesFromEnv(env: NodeJS.ProcessEnv): MetricNameSet {
  const list = (env[SEMCONV_OPT_IN_ENV] ?? '').split(',').map((s) => s.trim());
  return list.includes(GEN_AI_OPT_IN) ? 'both' : 'dynamo';
}

export const GEN_AI_SERVER_METRICS = {
  requestDuration: {
    name: 'gen_ai.server.request.duration',
    unit: 's',
    description: 'Generative AI server request duration such as time-to-last byte or last output token.',
    buckets: GEN_AI_DURATION_BUCKETS,
  },
  timeToFirstToken: {
    name: 'gen_ai.server.time_to_first_token',
    unit: 's',
    description: 'Time to generate first token for successful responses.',
    buckets: GEN_AI_TTFT_BUCKETS,
  },
  timePerOutputToken: {
    name: 'gen_ai.server.time_per_output_token',
    unit: 's',
    description: 'Time per output token generated after the first token for successful responses.',
    buckets: GEN_AI_TPOT_BUCKETS,
  },
} as const;

/** What a series is of, without its `error.type`: a key and the attributes it stands for. */
export interface GenAiSeriesBase {
  readonly key: string;
  readonly attributes: Attributes;
}

interface Series {
  readonly attributes: Attributes;
  readonly duration: FixedHistogram;
  readonly ttft: FixedHistogram;
  readonly tpot: FixedHistogram;
}

export class GenAiServerMetrics {
  private readonly series = new Map<string, Series>();
  private readonly startTime: HrTime = millisToHrTime(Date.now());

  /**
   * A request ended: its duration; for a success (`errorType` undefined), its time to first token
   * when known and, with more than one output token, the time per output token after the first.
   */
  record(
    base: GenAiSeriesBase,
    seconds: number,
    errorType: string | undefined,
    ttftSeconds: number | undefined,
    outputTokens: number,
  ): void {
    const s = this.of(base, errorType);
    s.duration.record(seconds);
    if (errorType !== undefined || ttftSeconds === undefined) return;
    s.ttft.record(ttftSeconds);
    if (outputTokens > 1) s.tpot.record((seconds - ttftSeconds) / (outputTokens - 1));
  }

  private of(base: GenAiSeriesBase, errorType: string | undefined): Series {
    const key = errorType === undefined ? base.key : `${base.key}\u0000${errorType}`;
    let s = this.series.get(key);
    if (s === undefined) {
      const M = GEN_AI_SERVER_METRICS;
      s = {
        attributes: errorType === undefined ? base.attributes : { ...base.attributes, 'error.type': errorType },
        duration: new FixedHistogram(M.requestDuration.buckets),
        ttft: new FixedHistogram(M.timeToFirstToken.buckets),
        tpot: new FixedHistogram(M.timePerOutputToken.buckets),
      };
      this.series.set(key, s);
    }
    return s;
  }

  snapshot(): ScopeMetrics {
    const endTime = millisToHrTime(Date.now());
    const all = [...this.series.values()];
    const M = GEN_AI_SERVER_METRICS;
    const metric = (d: { name: string; unit: string; description: string }, pick: (s: Series) => FixedHistogram): MetricData | undefined =>
      histogramMetric(
        d.name,
        d.description,
        d.unit,
        all.map((s) => ({ attributes: s.attributes, h: pick(s) })),
        this.startTime,
        endTime,
      );
    const metrics = [
      metric(M.requestDuration, (s) => s.duration),
      metric(M.timeToFirstToken, (s) => s.ttft),
      metric(M.timePerOutputToken, (s) => s.tpot),
    ];
    return { scope: { name: GEN_AI_METER_NAME }, metrics: metrics.filter((m): m is MetricData => m !== undefined) };
  }
}
