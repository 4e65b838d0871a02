/**
 * The export pipeline's options (issue: exporters chosen by config), with the OTel SDK's standard
 * environment variables where one exists.
 */
import { hostname } from 'node:os';
import { loadOptions, type LoadInput, type OptionSpec, type OptionValues } from '../config/schema.ts';
import {
  parseBool,
  parseDuration,
  parseDurationAtLeast,
  parseEnum,
  parseEnumList,
  parseHttpUrl,
  parseInteger,
  parseIp,
  parseKeyValues,
  parseMillis,
  parseString,
} from '../config/values.ts';

export const EXPORTER_NAMES = ['prometheus', 'otlp', 'pushgateway', 'console'] as const;
export type ExporterName = (typeof EXPORTER_NAMES)[number];
export const OTLP_PROTOCOLS = ['http/protobuf', 'http/json'] as const;
export type OtlpProtocol = (typeof OTLP_PROTOCOLS)[number];
export const TEMPORALITIES = ['cumulative', 'delta', 'lowmemory'] as const;
export type TemporalityPreference = (typeof TEMPORALITIES)[number];
export const COMPRESSIONS = ['none', 'gzip'] as const;

export const DEFAULT_EXPORTERS: ExporterName[] = ['prometheus'];
export const DEFAULT_PROMETHEUS_HOST = '0.0.0.0';
export const DEFAULT_PROMETHEUS_PORT = 9091;
export const DEFAULT_COLLECT_TIMEOUT_MS = 5_000;
export const DEFAULT_CARDINALITY_LIMIT = 2_000;
export const DEFAULT_OTLP_ENDPOINT = 'http://localhost:4318/v1/metrics';
export const DEFAULT_OTLP_TIMEOUT_MS = 10_000;
export const DEFAULT_OTLP_INTERVAL_MS = 60_000;
export const DEFAULT_PUSHGATEWAY_URL = 'http://localhost:9091';
export const DEFAULT_PUSHGATEWAY_JOB = 'dynamo_metrics';
export const DEFAULT_PUSH_INTERVAL_MS = 2_000;
export const DEFAULT_PUSH_TIMEOUT_MS = 5_000;

export interface PrometheusConfig {
  host: string;
  port: number;
  /** Add `otel_scope_name`/`otel_scope_version` labels. */
  scopeLabels: boolean;
  /** Add the `target_info` series with the resource attributes. */
  targetInfo: boolean;
  collectTimeoutMs: number;
}

export interface OtlpConfig {
  protocol: OtlpProtocol;
  /** Full metrics URL (…/v1/metrics). */
  endpoint: string;
  headers: Record<string, string>;
  timeoutMs: number;
  compression: 'none' | 'gzip';
  intervalMs: number;
  temporality: TemporalityPreference;
}

export interface PushGatewayConfig {
  url: string;
  job: string;
  instance: string;
  intervalMs: number;
  timeoutMs: number;
}

export interface ExportConfig {
  exporters: ExporterName[];
  serviceName: string;
  resourceAttributes: Record<string, string>;
  cardinalityLimit: number;
  prometheus: PrometheusConfig;
  otlp: OtlpConfig;
  pushgateway: PushGatewayConfig;
}

const ms = (raw: unknown): number => parseMillis(raw);
const metricsPath = (base: unknown): string => `${String(base)}/v1/metrics`;

/** `OTEL_METRICS_EXPORTER=none` means no exporter. */
function parseExporters(v: unknown): ExporterName[] {
  if (typeof v === 'string' && v.trim().toLowerCase() === 'none') return [];
  return parseEnumList(v, EXPORTER_NAMES);
}

export function exportOptionSpecs(defaults: { serviceName: string; port?: number }): OptionSpec[] {
  return [
    {
      key: 'exporters',
      flag: 'exporters',
      env: [{ name: 'OTEL_METRICS_EXPORTER' }],
      parse: parseExporters,
      default: DEFAULT_EXPORTERS,
      description: 'where metrics go: any of prometheus (pull), otlp (push), pushgateway (push), console, comma-separated; none for nothing',
    },
    {
      key: 'service_name',
      flag: 'service-name',
      env: [{ name: 'OTEL_SERVICE_NAME' }],
      parse: (v) => parseString(v),
      default: defaults.serviceName,
      description: 'the service.name resource attribute',
    },
    {
      key: 'resource_attributes',
      flag: 'resource-attribute',
      multiple: true,
      mapping: true,
      env: [{ name: 'OTEL_RESOURCE_ATTRIBUTES' }],
      parse: parseKeyValues,
      default: {},
      defaultText: '',
      description: 'extra resource attributes, key=value (repeat the flag, or comma-separate)',
    },
    {
      key: 'cardinality_limit',
      flag: 'cardinality-limit',
      parse: (v) => parseInteger(v, 1, 10_000_000),
      default: DEFAULT_CARDINALITY_LIMIT,
      description: 'most attribute sets one SDK instrument keeps before folding the rest into otel.metric.overflow',
    },
    {
      key: 'prometheus.host',
      flag: 'prometheus-host',
      env: [{ name: 'OTEL_EXPORTER_PROMETHEUS_HOST' }],
      parse: parseIp,
      default: DEFAULT_PROMETHEUS_HOST,
      description: 'address the Prometheus /metrics server listens on (IPv4 or IPv6 literal)',
    },
    {
      key: 'prometheus.port',
      flag: 'prometheus-port',
      env: [{ name: 'OTEL_EXPORTER_PROMETHEUS_PORT' }],
      parse: (v) => parseInteger(v, 0, 65535),
      default: defaults.port ?? DEFAULT_PROMETHEUS_PORT,
      description: 'port of the Prometheus /metrics server (0 picks a free one)',
    },
    {
      key: 'prometheus.scope_labels',
      flag: 'prometheus-scope-labels',
      boolean: true,
      parse: parseBool,
      default: false,
      description: 'add otel_scope_name/otel_scope_version labels to every series',
    },
    {
      key: 'prometheus.target_info',
      flag: 'prometheus-target-info',
      boolean: true,
      parse: parseBool,
      default: false,
      description: 'add the target_info series carrying the resource attributes',
    },
    {
      key: 'prometheus.collect_timeout',
      flag: 'prometheus-collect-timeout',
      parse: parseDuration,
      default: DEFAULT_COLLECT_TIMEOUT_MS,
      defaultText: '5s',
      description: 'a scrape whose collection takes longer answers 503',
    },
    {
      key: 'otlp.protocol',
      flag: 'otlp-protocol',
      env: [{ name: 'OTEL_EXPORTER_OTLP_METRICS_PROTOCOL' }, { name: 'OTEL_EXPORTER_OTLP_PROTOCOL' }],
      parse: (v) => parseEnum(v, OTLP_PROTOCOLS),
      default: 'http/protobuf',
      description: 'OTLP encoding: http/protobuf or http/json',
    },
    {
      key: 'otlp.endpoint',
      flag: 'otlp-endpoint',
      env: [
        { name: 'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT' },
        { name: 'OTEL_EXPORTER_OTLP_ENDPOINT', map: metricsPath },
      ],
      parse: parseHttpUrl,
      default: DEFAULT_OTLP_ENDPOINT,
      description: 'full OTLP metrics URL (OTEL_EXPORTER_OTLP_ENDPOINT is a base URL: /v1/metrics is appended)',
    },
    {
      key: 'otlp.headers',
      flag: 'otlp-header',
      multiple: true,
      mapping: true,
      secret: true,
      env: [{ name: 'OTEL_EXPORTER_OTLP_METRICS_HEADERS' }, { name: 'OTEL_EXPORTER_OTLP_HEADERS' }],
      parse: parseKeyValues,
      default: {},
      defaultText: '',
      description: 'headers sent with every export, key=value (API keys: never logged)',
    },
    {
      key: 'otlp.timeout',
      flag: 'otlp-timeout',
      env: [
        { name: 'OTEL_EXPORTER_OTLP_METRICS_TIMEOUT', parse: ms },
        { name: 'OTEL_EXPORTER_OTLP_TIMEOUT', parse: ms },
      ],
      parse: parseDuration,
      default: DEFAULT_OTLP_TIMEOUT_MS,
      defaultText: '10s',
      description: 'timeout of one export (environment: milliseconds)',
    },
    {
      key: 'otlp.compression',
      flag: 'otlp-compression',
      env: [{ name: 'OTEL_EXPORTER_OTLP_METRICS_COMPRESSION' }, { name: 'OTEL_EXPORTER_OTLP_COMPRESSION' }],
      parse: (v) => parseEnum(v, COMPRESSIONS),
      default: 'none',
      description: 'none or gzip',
    },
    {
      key: 'otlp.interval',
      flag: 'otlp-interval',
      env: [{ name: 'OTEL_METRIC_EXPORT_INTERVAL', parse: (raw: unknown) => parseDurationAtLeast(100)(parseMillis(raw) / 1000) }],
      parse: parseDurationAtLeast(100),
      default: DEFAULT_OTLP_INTERVAL_MS,
      defaultText: '60s',
      description: 'time between two OTLP exports (environment: milliseconds)',
    },
    {
      key: 'otlp.temporality',
      flag: 'otlp-temporality',
      env: [{ name: 'OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE' }],
      parse: (v) => parseEnum(v, TEMPORALITIES),
      default: 'cumulative',
      description: 'cumulative, delta or lowmemory (as the OTel SDK defines them)',
    },
    {
      key: 'pushgateway.url',
      flag: 'pushgateway-url',
      parse: parseHttpUrl,
      default: DEFAULT_PUSHGATEWAY_URL,
      description: 'base URL of the Prometheus PushGateway',
    },
    {
      key: 'pushgateway.job',
      flag: 'pushgateway-job',
      parse: (v) => parseString(v),
      default: DEFAULT_PUSHGATEWAY_JOB,
      description: 'the job grouping label',
    },
    {
      key: 'pushgateway.instance',
      flag: 'pushgateway-instance',
      parse: (v) => parseString(v, true),
      default: () => hostname(),
      defaultText: 'host name',
      description: 'the instance grouping label (may be empty)',
    },
    {
      key: 'pushgateway.interval',
      flag: 'push-interval',
      parse: parseDurationAtLeast(1000),
      default: DEFAULT_PUSH_INTERVAL_MS,
      defaultText: '2s',
      description: 'time between two pushes (at least 1s)',
    },
    {
      key: 'pushgateway.timeout',
      flag: 'pushgateway-timeout',
      parse: parseDuration,
      default: DEFAULT_PUSH_TIMEOUT_MS,
      defaultText: '5s',
      description: 'timeout of one push',
    },
  ];
}

/** Builds the typed export config from resolved option values. */
export function exportConfigFrom(v: OptionValues): ExportConfig {
  const get = <T>(k: string): T => v.get(k) as T;
  return {
    exporters: get('exporters'),
    serviceName: get('service_name'),
    resourceAttributes: get('resource_attributes'),
    cardinalityLimit: get('cardinality_limit'),
    prometheus: {
      host: get('prometheus.host'),
      port: get('prometheus.port'),
      scopeLabels: get('prometheus.scope_labels'),
      targetInfo: get('prometheus.target_info'),
      collectTimeoutMs: get('prometheus.collect_timeout'),
    },
    otlp: {
      protocol: get('otlp.protocol'),
      endpoint: get('otlp.endpoint'),
      headers: get('otlp.headers'),
      timeoutMs: get('otlp.timeout'),
      compression: get('otlp.compression'),
      intervalMs: get('otlp.interval'),
      temporality: get('otlp.temporality'),
    },
    pushgateway: {
      url: get('pushgateway.url'),
      job: get('pushgateway.job'),
      instance: get('pushgateway.instance'),
      intervalMs: get('pushgateway.interval'),
      timeoutMs: get('pushgateway.timeout'),
    },
  };
}

/** Loads only the export options (the status server and tests). */
export function loadExportConfig(input: LoadInput, defaults: { serviceName: string; port?: number }): ExportConfig {
  return exportConfigFrom(loadOptions(exportOptionSpecs(defaults), input).values);
}
