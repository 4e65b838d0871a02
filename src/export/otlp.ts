/**
 * OTLP push: the OTel exporter for the configured protocol (gRPC, http/protobuf or http/json),
 * with the SDK's options and environment variables; `CarryingExporter` wraps it.
 */
import { OTLPMetricExporter as OTLPJsonExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { AggregationTemporalityPreference } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporterBase, type OTLPMetricExporterOptions } from '@opentelemetry/exporter-metrics-otlp-http';
import type { OTLPGRPCExporterConfigNode } from '@opentelemetry/otlp-grpc-exporter-base';
import { convertLegacyOtlpGrpcOptions, createOtlpGrpcExportDelegate } from '@opentelemetry/otlp-grpc-exporter-base';
import { Metadata } from '@grpc/grpc-js';
import { CompressionAlgorithm, type OTLPExporterNodeConfigBase } from '@opentelemetry/otlp-exporter-base';
import { convertLegacyHttpOptions, createOtlpHttpExportDelegate } from '@opentelemetry/otlp-exporter-base/node-http';
import { MetricsExporterMetricsHelper } from '@opentelemetry/otlp-transformer';
import { AggregationType, InstrumentType, type AggregationOption, type PushMetricExporter } from '@opentelemetry/sdk-metrics';
import type { OtlpConfig } from './options.ts';
import { credentialsFromUrl } from './httpClient.ts';
import { MetricsRequestSerializer } from './otlpProtobuf.ts';
import { withoutIpServerName } from '../grpcServerName.ts';

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
      ? {
          aggregationPreference: (t: InstrumentType): AggregationOption =>
            t === InstrumentType.HISTOGRAM ? { type: AggregationType.EXPONENTIAL_HISTOGRAM } : { type: AggregationType.DEFAULT },
        }
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
  return new OTLPMetricExporterBase(
    createOtlpHttpExportDelegate(http, new MetricsRequestSerializer(), HTTP_COMPONENT_TYPE, MetricsExporterMetricsHelper, undefined),
    config,
  );
}

/** The OTel gRPC exporter, built as its package builds it, with our serializer (see above). */
function protobufGrpcExporter(config: OTLPGRPCExporterConfigNode & OTLPMetricExporterOptions): PushMetricExporter {
  const options = convertLegacyOtlpGrpcOptions(config, 'METRICS');
  const grpc = { ...options, credentials: () => withoutIpServerName(options.credentials()) };
  return new OTLPMetricExporterBase(
    createOtlpGrpcExportDelegate(
      grpc,
      new MetricsRequestSerializer(),
      GRPC_COMPONENT_TYPE,
      MetricsExporterMetricsHelper,
      undefined,
      GRPC_SERVICE,
      GRPC_METHOD_PATH,
    ),
    config,
  );
}

/** gRPC addresses a host, not a path: `…/v1/metrics` (appended to a base OTEL_EXPORTER_OTLP_ENDPOINT) goes. */
function grpcUrl(url: string): string {
  return url.replace(/\/v1\/metrics\/?$/, '');
}
