/**
 * The export pipeline's public surface: what docs/runtime-api.md documents (api/export.api.md
 * lists it whole).
 */
export { MetricsPipeline } from './MetricsPipeline.ts';
export type { MetricsPipelineOptions } from './MetricsPipeline.ts';

export type { RouteHandler } from './MetricsHttpServer.ts';

export type { ExporterInstance } from './exporters/index.ts';

export { loadExportConfig } from './options.ts';
export type {
  ExportDefaults,
  ExportConfig,
  ExporterName,
  PrometheusConfig,
  OtlpConfig,
  PushGatewayConfig,
} from './options.ts';
