/**
 * OTLP push: the OTel exporter for the configured protocol, wrapped to count attempts, failures
 * and successes, and to log failures without ever printing header values (API keys).
 */
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { OTLPMetricExporter as OTLPJsonExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { AggregationTemporalityPreference } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporterBase, type OTLPMetricExporterOptions } from '@opentelemetry/exporter-metrics-otlp-http';
import type { OTLPGRPCExporterConfigNode } from '@opentelemetry/otlp-grpc-exporter-base';
import { convertLegacyOtlpGrpcOptions, createOtlpGrpcExportDelegate } from '@opentelemetry/otlp-grpc-exporter-base';
import { Metadata } from '@grpc/grpc-js';
import { CompressionAlgorithm, type OTLPExporterNodeConfigBase } from '@opentelemetry/otlp-exporter-base';
import { convertLegacyHttpOptions, createOtlpHttpExportDelegate } from '@opentelemetry/otlp-exporter-base/node-http';
import { MetricsExporterMetricsHelper } from '@opentelemetry/otlp-transformer';
import { AggregationType, InstrumentType, type AggregationOption, type AggregationTemporality, type PushMetricExporter, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { OtlpConfig } from './options.ts';
import { getLogger } from '../log.ts';
import { carryInto, MAX_CARRIED_POINTS, pointCount, undelivered } from './deltaCarry.ts';
import type { ExportHealth } from './ExportHealth.ts';
import { credentialsFromUrl } from './httpClient.ts';
import { MetricsRequestSerializer } from './otlpProtobuf.ts';

const log = getLogger('export::otlp');

const TEMPORALITY: Record<OtlpConfig['temporality'], AggregationTemporalityPreference> = {
  cumulative: AggregationTemporalityPreference.CUMULATIVE,
  delta: AggregationTemporalityPreference.DELTA,
  lowmemory: AggregationTemporalityPreference.LOWMEMORY,
};

export function createOtlpExporter(cfg: OtlpConfig): PushMetricExporter {
  // user:password in the endpoint travels as an Authorization header, never in the URL
  const { url, authorization } = credentialsFromUrl(cfg.endpoint);
  const hasAuth = Object.keys(cfg.headers).some((k) => k.toLowerCase() === 'authorization');
  const options = {
    url,
    headers: { ...(authorization !== undefined && !hasAuth ? { Authorization: authorization } : {}), ...cfg.headers },
    timeoutMillis: cfg.timeoutMs,
    compression: cfg.compression === 'gzip' ? CompressionAlgorithm.GZIP : CompressionAlgorithm.NONE,
    temporalityPreference: TEMPORALITY[cfg.temporality],
    // the SDK's own histograms (custom metrics) follow the histogram aggregation variable as well
    ...(cfg.histogramAggregation === 'base2_exponential_bucket_histogram'
      ? { aggregationPreference: (t: InstrumentType): AggregationOption => (t === InstrumentType.HISTOGRAM ? { type: AggregationType.EXPONENTIAL_HISTOGRAM } : { type: AggregationType.DEFAULT }) }
      : {}),
  };
  if (cfg.protocol === 'grpc') {
    // headers travel as gRPC metadata; TLS follows the URL scheme and OTEL_EXPORTER_OTLP_INSECURE /
    // _CERTIFICATE / _CLIENT_KEY / _CLIENT_CERTIFICATE, which the gRPC exporter reads as the SDK defines them
    const metadata = new Metadata();
    for (const [k, v] of Object.entries(options.headers)) metadata.set(k.toLowerCase(), v);
    const { headers: _headers, ...rest } = options;
    return protobufGrpcExporter({ ...rest, url: grpcUrl(url), metadata });
  }
  return cfg.protocol === 'http/json' ? new OTLPJsonExporter(options) : protobufHttpExporter(options);
}

// what the OTel exporters name themselves in their own telemetry, and the gRPC method they call
const HTTP_COMPONENT_TYPE = 'otlp_http_metric_exporter';
const GRPC_COMPONENT_TYPE = 'otlp_grpc_metric_exporter';
const GRPC_SERVICE = 'MetricsExportService';
const GRPC_METHOD_PATH = '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export';

/**
 * The OTel http/protobuf exporter, built the way its package builds it (same options, same
 * environment variables, same transport, retries and compression) but with our serializer,
 * which writes the same bytes several times faster at thousands of series (otlpProtobuf.ts).
 */
function protobufHttpExporter(config: OTLPExporterNodeConfigBase & OTLPMetricExporterOptions): PushMetricExporter {
  const http = convertLegacyHttpOptions(config, 'METRICS', 'v1/metrics', { 'Content-Type': 'application/x-protobuf' });
  return new OTLPMetricExporterBase(createOtlpHttpExportDelegate(http, new MetricsRequestSerializer(), HTTP_COMPONENT_TYPE, MetricsExporterMetricsHelper, undefined), config);
}

/** The OTel gRPC exporter, built as its package builds it, with our serializer (see above). */
function protobufGrpcExporter(config: OTLPGRPCExporterConfigNode & OTLPMetricExporterOptions): PushMetricExporter {
  const grpc = convertLegacyOtlpGrpcOptions(config, 'METRICS');
  return new OTLPMetricExporterBase(
    createOtlpGrpcExportDelegate(grpc, new MetricsRequestSerializer(), GRPC_COMPONENT_TYPE, MetricsExporterMetricsHelper, undefined, GRPC_SERVICE, GRPC_METHOD_PATH),
    config,
  );
}

/** gRPC addresses a host, not a path: `…/v1/metrics` (appended to a base OTEL_EXPORTER_OTLP_ENDPOINT) goes. */
function grpcUrl(url: string): string {
  return url.replace(/\/v1\/metrics\/?$/, '');
}

/** Counts every export of `inner` under `label` and logs failures (rate limited). */
export class CountingExporter implements PushMetricExporter {
  constructor(
    private readonly inner: PushMetricExporter,
    private readonly label: 'otlp' | 'console',
    private readonly health: ExportHealth,
    private readonly endpoint: string,
  ) {}

  /** Delta data a failed export could not deliver: merged into the next export. */
  private pending: ResourceMetrics | undefined;

  export(metrics: ResourceMetrics, resultCallback: (result: ExportResult) => void): void {
    this.health.attempt(this.label);
    const batch = this.pending === undefined ? metrics : carryInto(this.pending, metrics);
    this.pending = undefined;
    this.inner.export(batch, (result) => {
      if (result.code === ExportResultCode.SUCCESS) {
        this.health.success(this.label);
      } else {
        this.health.failure(this.label, result.error?.message ?? 'unknown error');
        const carry = undelivered(batch);
        const points = pointCount(carry);
        if (points > MAX_CARRIED_POINTS) {
          this.health.dropped(this.label, points);
          log.rateLimited('error', `export-drop-${this.label}`, `undelivered delta data above ${MAX_CARRIED_POINTS} points dropped`, { exporter: this.label, points });
        } else if (points > 0) this.pending = carry;
        log.rateLimited('warn', `export-${this.label}`, points > 0 ? 'export failed; its deltas go with the next export' : 'export failed; the next interval sends current totals', {
          exporter: this.label,
          endpoint: this.endpoint,
          error: result.error?.message ?? 'unknown error',
        });
      }
      resultCallback(result);
    });
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  selectAggregationTemporality(instrumentType: InstrumentType): AggregationTemporality {
    return this.inner.selectAggregationTemporality!(instrumentType);
  }

  selectAggregation(instrumentType: InstrumentType): AggregationOption {
    return this.inner.selectAggregation!(instrumentType);
  }
}
