/**
 * The export pipeline's public surface: what docs/runtime-api.md documents (api/export.api.md
 * lists it whole).
 */
export { MetricsPipeline } from './MetricsPipeline.ts';
export type { MetricsPipelineOptions } from './MetricsPipeline.ts';

export type { PrometheusSerializerOptions } from './PrometheusSerializer.ts';

export type { RouteHandler, MetricsHttpServerOptions } from './MetricsHttpServer.ts';

export type { SnapshotSource } from './SnapshotProducer.ts';

export type { ExporterContext, ExporterDefinition, ExporterInstance } from './exporters/index.ts';

export { loadExportConfig } from './options.ts';
export type {
  ExportDefaults,
  ExportOptionTable,
  ExportConfig,
  ExporterName,
  PrometheusConfig,
  OtlpConfig,
  PushGatewayConfig,
} from './options.ts';
