/** The export pipeline's public surface. */
export { MetricsPipeline, BRIDGE_METER_NAME, DEFAULT_SHUTDOWN_TIMEOUT_MS, buildResource } from './MetricsPipeline.ts';
export type { MetricsPipelineOptions } from './MetricsPipeline.ts';
export {
  serializePrometheus,
  serializePrometheusAsync,
  acceptsOpenMetrics,
  OPENMETRICS_CONTENT_TYPE,
  PROMETHEUS_CONTENT_TYPE,
  escapeLabelValue,
  sanitizeMetricName,
  sanitizeLabelName,
} from './PrometheusSerializer.ts';
export type { PrometheusSerializerOptions } from './PrometheusSerializer.ts';
export { MetricsHttpServer, formatHostPort } from './MetricsHttpServer.ts';
export type { RouteHandler, MetricsHttpServerOptions } from './MetricsHttpServer.ts';
export { PushGatewayMetricReader, groupingUrl, groupingSegment } from './PushGatewayMetricReader.ts';
export { PullMetricReader, CollectionError } from './PullMetricReader.ts';
export { SnapshotProducer } from './SnapshotProducer.ts';
export type { SnapshotSource } from './SnapshotProducer.ts';
export { ExportHealth } from './ExportHealth.ts';
export { EXPORTERS } from './exporters/index.ts';
export type { ExporterContext, ExporterDefinition, ExporterInstance } from './exporters/index.ts';
export { exportOptions, exportConfigFrom, loadExportConfig, EXPORTER_NAMES } from './options.ts';
export type {
  ExportDefaults,
  ExportOptionTable,
  ExportConfig,
  ExporterName,
  PrometheusConfig,
  OtlpConfig,
  PushGatewayConfig,
} from './options.ts';
