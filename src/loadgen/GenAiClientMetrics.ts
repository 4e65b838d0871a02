/**
 * OpenTelemetry's GenAI client instruments, as `loadgen` (the client) records them:
 * `gen_ai.client.token.usage` (input and output tokens of each completed request) and
 * `gen_ai.client.operation.duration` (every request; `error.type` when it failed: the HTTP status,
 * or `_OTHER` when no response came), with the units, attributes and bucket boundaries of the
 * conventions. Exported when `loadgen` is given exporters (`OTEL_METRICS_EXPORTER`).
 */
import type { Attributes, HrTime } from '@opentelemetry/api';
import { millisToHrTime } from '@opentelemetry/core';
import type { MetricData, ScopeMetrics } from '@opentelemetry/sdk-metrics';
import { FixedHistogram, histogramMetric } from '../export/fixedHistogram.ts';
import { GEN_AI_DURATION_BUCKETS, GEN_AI_PROVIDER, GEN_AI_TOKEN_BUCKETS } from '../export/genAiConventions.ts';
import type { RequestResult } from './LoadGenerator.ts';

export const GEN_AI_CLIENT_METRICS = {
  tokenUsage: {
    name: 'gen_ai.client.token.usage',
    unit: '{token}',
    description: 'Number of input and output tokens used.',
    buckets: GEN_AI_TOKEN_BUCKETS,
  },
  operationDuration: {
    name: 'gen_ai.client.operation.duration',
    unit: 's',
    description: 'GenAI operation duration.',
    buckets: GEN_AI_DURATION_BUCKETS,
  },
} as const;

export class GenAiClientMetrics {
  private readonly usage = new Map<string, { attributes: Attributes; h: FixedHistogram }>();
  private readonly duration = new Map<string, { attributes: Attributes; h: FixedHistogram }>();
  private readonly startTime: HrTime = millisToHrTime(Date.now());
  private readonly base: Attributes;

  constructor(model: string, operation: 'chat' | 'text_completion', url: string) {
    const u = new URL(url);
    const port = u.port !== '' ? Number(u.port) : u.protocol === 'https:' ? 443 : 80;
    this.base = {
      'gen_ai.operation.name': operation,
      'gen_ai.provider.name': GEN_AI_PROVIDER,
      'gen_ai.request.model': model,
      'gen_ai.response.model': model,
      'server.address': u.hostname,
      'server.port': port,
    };
  }

  /** One request's tokens and duration. */
  record(r: RequestResult): void {
    const errorType = r.ok ? undefined : r.status === 0 ? '_OTHER' : String(r.status);
    this.series(
      this.duration,
      GEN_AI_CLIENT_METRICS.operationDuration.buckets,
      errorType === undefined ? {} : { 'error.type': errorType },
    ).record(r.e2eSeconds);
    if (!r.ok) return;
    this.series(this.usage, GEN_AI_CLIENT_METRICS.tokenUsage.buckets, { 'gen_ai.token.type': 'input' }).record(r.inputTokens);
    this.series(this.usage, GEN_AI_CLIENT_METRICS.tokenUsage.buckets, { 'gen_ai.token.type': 'output' }).record(r.outputTokens);
  }

  private series(
    map: Map<string, { attributes: Attributes; h: FixedHistogram }>,
    bounds: readonly number[],
    extra: Attributes,
  ): FixedHistogram {
    const key = JSON.stringify(extra);
    let s = map.get(key);
    if (s === undefined) {
      s = { attributes: { ...this.base, ...extra }, h: new FixedHistogram(bounds) };
      map.set(key, s);
    }
    return s.h;
  }

  snapshot(): ScopeMetrics {
    const endTime = millisToHrTime(Date.now());
    const M = GEN_AI_CLIENT_METRICS;
    const metrics = [
      histogramMetric(M.tokenUsage.name, M.tokenUsage.description, M.tokenUsage.unit, [...this.usage.values()], this.startTime, endTime),
      histogramMetric(
        M.operationDuration.name,
        M.operationDuration.description,
        M.operationDuration.unit,
        [...this.duration.values()],
        this.startTime,
        endTime,
      ),
    ];
    return { scope: { name: 'gen_ai' }, metrics: metrics.filter((m): m is MetricData => m !== undefined) };
  }
}
