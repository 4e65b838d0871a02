/** Automatic endpoint instrumentation, custom metrics and the system status server. */
export {
  EndpointMetrics,
  EndpointStats,
  processEndpointMetrics,
  endpointAttributes,
  COMPONENT_METER_NAME,
  DURATION_BUCKETS_SECONDS,
  METRIC_NAMES,
  METRIC_HELP,
} from './EndpointMetrics.ts';
export { MetricsRegistry, CustomCounter, CustomUpDownCounter, CustomGauge, CustomHistogram, CUSTOM_METRIC_PREFIX, RESERVED_LABELS } from './CustomMetrics.ts';
export type { CustomMetricOptions, HistogramOptions } from './CustomMetrics.ts';
export {
  SystemStatusServer,
  systemStatusSettings,
  workerExportConfig,
  processSystemStatusServer,
  closeProcessSystemStatusServer,
  DEFAULT_SYSTEM_HOST,
  DEFAULT_SYSTEM_PORT,
} from './SystemStatusServer.ts';
export type { ReadinessSource, SystemStatusSettings } from './SystemStatusServer.ts';
