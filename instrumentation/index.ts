/** Automatic endpoint instrumentation, custom metrics and the system status server. */
export { connectInstrumented, processInstrumentation, ProcessInstrumentation } from './ProcessInstrumentation.ts';
export type { InstrumentationOptions } from './ProcessInstrumentation.ts';
export {
  EndpointMetrics,
  EndpointStats,
  processEndpointMetrics,
  endpointAttributes,
  COMPONENT_METER_NAME,
  DURATION_BUCKETS_SECONDS,
  EXP_HISTOGRAM_SCALE,
  expBucket,
  METRIC_NAMES,
  METRIC_HELP,
} from './EndpointMetrics.ts';
export {
  KvStatsMetrics,
  processKvStatsMetrics,
  KV_STATS_METRIC_NAMES,
  KV_STATS_METRIC_HELP,
  KV_STATS_SCOPE,
  KV_STATS_READ_TIMEOUT_MS,
} from './KvStatsMetrics.ts';
export {
  ClientMetrics,
  ClientStats,
  processClientMetrics,
  CLIENT_METRIC_NAMES,
  CLIENT_METRIC_HELP,
  CLIENT_METER_NAME,
} from './ClientMetrics.ts';
export {
  MetricsRegistry,
  CustomCounter,
  CustomUpDownCounter,
  CustomGauge,
  CustomHistogram,
  CUSTOM_METRIC_PREFIX,
  RESERVED_LABELS,
} from './CustomMetrics.ts';
export { scopeAttributes } from './labels.ts';
export { STREAM_METRIC_NAMES, STREAM_METRIC_HELP, FIRST_CHUNK_BUCKETS, INTER_CHUNK_BUCKETS, CHUNK_COUNT_BUCKETS } from './StreamLatency.ts';
export { DEFAULT_DURATION_BUCKETS, LLM_DURATION_BUCKETS, DURATION_BUCKETS_ENV, DURATION_LAYOUTS, parseDurationBuckets } from './buckets.ts';
export {
  SystemStatusServer,
  systemStatusSettings,
  workerExportConfig,
  processSystemStatusServer,
  closeProcessSystemStatusServer,
  DEFAULT_SYSTEM_HOST,
  DEFAULT_SYSTEM_PORT,
  SYSTEM_METER_NAME,
} from './SystemStatusServer.ts';
export type { ReadinessSource, SystemStatusSettings } from './SystemStatusServer.ts';
