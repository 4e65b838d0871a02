/**
 * The export pipeline's options (which exporters, and how each is set up), with the OTel SDK's standard
 * environment variables where one exists.
 */
import { hostname } from 'node:os';
import { ConfigError, loadOptions, type LoadInput, type OptionTable, type OptionValues } from '../config/schema.ts';
import type { HttpAuth, HttpTls } from './httpClient.ts';
import { loadWebConfig } from './webConfig.ts';
import {
  DEFAULT_HEADER_TIMEOUT_MS,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_CONNECTIONS_PER_SOURCE,
  DEFAULT_MAX_UNREAD_BYTES,
  DEFAULT_REQUEST_TIMEOUT_MS,
  DEFAULT_WRITE_TIMEOUT_MS,
  type HttpLimits,
} from './httpLimits.ts';
import {
  formatDuration,
  parseBool,
  parseDurationAtLeast,
  parseEnum,
  parseEnumList,
  parseHttpUrl,
  parseInteger,
  parseIp,
  parseHeaders,
  parseLabelValue,
  parseReadableFile,
  parseKeyValues,
  MIN_TIMEOUT_MS,
  ValueError,
  parseMillis,
  parseString,
} from '../config/values.ts';

export const EXPORTER_NAMES = ['prometheus', 'otlp', 'pushgateway', 'console'] as const;
export type ExporterName = (typeof EXPORTER_NAMES)[number];
export const OTLP_PROTOCOLS = ['http/protobuf', 'http/json', 'grpc'] as const;
export type OtlpProtocol = (typeof OTLP_PROTOCOLS)[number];
export const TEMPORALITIES = ['cumulative', 'delta', 'lowmemory'] as const;
export type TemporalityPreference = (typeof TEMPORALITIES)[number];
export const COMPRESSIONS = ['none', 'gzip'] as const;
export const HISTOGRAM_AGGREGATIONS = ['explicit_bucket_histogram', 'base2_exponential_bucket_histogram'] as const;
export type HistogramAggregation = (typeof HISTOGRAM_AGGREGATIONS)[number];
export const DEFAULT_HISTOGRAM_AGGREGATION: HistogramAggregation = 'explicit_bucket_histogram';
export type Compression = (typeof COMPRESSIONS)[number];

export const DEFAULT_EXPORTERS: ExporterName[] = ['prometheus'];
export const DEFAULT_PROMETHEUS_HOST = '0.0.0.0';
export const DEFAULT_PROMETHEUS_PORT = 9091;
export const DEFAULT_COLLECT_TIMEOUT_MS = 5_000;
export const DEFAULT_CARDINALITY_LIMIT = 2_000;
/** The most `--prometheus-max-connections` accepts. */
export const MAX_CONNECTIONS_LIMIT = 1_000_000;
/** The most `--prometheus-max-unread-bytes` accepts (1 GiB). */
export const MAX_UNREAD_BYTES_LIMIT = 1024 * 1024 * 1024;
export const DEFAULT_OTLP_PROTOCOL: OtlpProtocol = 'http/protobuf';
export const DEFAULT_OTLP_COMPRESSION: Compression = 'none';
export const DEFAULT_TEMPORALITY: TemporalityPreference = 'cumulative';
export const DEFAULT_OTLP_GRPC_ENDPOINT = 'http://localhost:4317';
export const DEFAULT_OTLP_ENDPOINT = 'http://localhost:4318/v1/metrics';
export const DEFAULT_OTLP_TIMEOUT_MS = 10_000;
export const DEFAULT_OTLP_INTERVAL_MS = 60_000;
export const DEFAULT_PUSHGATEWAY_URL = 'http://localhost:9091';
export const DEFAULT_PUSHGATEWAY_JOB = 'dynamo_metrics';
export const DEFAULT_PUSH_INTERVAL_MS = 2_000;
export const MIN_PUSH_INTERVAL_MS = 1_000;
export const MIN_OTLP_INTERVAL_MS = 100;
export const DEFAULT_PUSH_TIMEOUT_MS = 5_000;

export interface PrometheusConfig {
  host: string;
  port: number;
  /** Add `otel_scope_name`/`otel_scope_version` labels. */
  scopeLabels: boolean;
  /** Add the `target_info` series with the resource attributes. */
  targetInfo: boolean;
  collectTimeoutMs: number;
  /** exporter-toolkit web config: TLS and basic auth for the server. */
  webConfigFile: string | undefined;
  /** Bounds of the HTTP server. */
  limits: HttpLimits;
}

export interface OtlpConfig {
  protocol: OtlpProtocol;
  /** Full metrics URL (…/v1/metrics). */
  endpoint: string;
  headers: Record<string, string>;
  timeoutMs: number;
  compression: Compression;
  intervalMs: number;
  temporality: TemporalityPreference;
  histogramAggregation: HistogramAggregation;
}

export interface PushGatewayConfig {
  url: string;
  job: string;
  instance: string;
  intervalMs: number;
  timeoutMs: number;
  auth: HttpAuth;
  tls: HttpTls;
}

export interface ExportConfig {
  exporters: ExporterName[];
  serviceName: string;
  /** `service.namespace`, when given. */
  serviceNamespace: string | undefined;
  /**
   * `service.instance.id`: what tells N processes of one service apart once a Collector turns it
   * into Prometheus' `instance`. A promise while it is not known yet (a worker learns its
   * instance id when its lease is granted); `OTEL_RESOURCE_ATTRIBUTES` wins over it.
   */
  serviceInstanceId: string | Promise<string> | undefined;
  resourceAttributes: Record<string, string>;
  cardinalityLimit: number;
  prometheus: PrometheusConfig;
  otlp: OtlpConfig;
  pushgateway: PushGatewayConfig;
}

/** What differs between the commands that export: their service name and Prometheus port. */
export interface ExportDefaults {
  serviceName: string;
  port?: number;
}

export type ExportOptionTable = ReturnType<typeof exportOptions>;

/** An OTEL_* timeout: milliseconds, more than 0. */
function positiveMs(raw: unknown): number {
  const n = parseMillis(raw);
  if (n < MIN_TIMEOUT_MS) throw new ValueError(`is too short; use at least ${MIN_TIMEOUT_MS} ms`);
  return n;
}
const metricsPath = (base: unknown): string => `${String(base)}/v1/metrics`;

/** `OTEL_METRICS_EXPORTER=none` means no exporter. */
function parseExporters(v: unknown): ExporterName[] {
  if (typeof v === 'string' && v.trim().toLowerCase() === 'none') return [];
  return parseEnumList(v, EXPORTER_NAMES);
}

/** The export pipeline's options; `defaults` are those of the command that uses them. */
export function exportOptions(defaults: ExportDefaults) {
  return {
    exporters: {
      flag: 'exporters',
      env: [{ name: 'OTEL_METRICS_EXPORTER' }],
      parse: parseExporters,
      default: DEFAULT_EXPORTERS,
      description:
        'where metrics go: any of prometheus (pull), otlp (push), pushgateway (push), console, comma-separated; none for nothing',
    },
    service_name: {
      flag: 'service-name',
      env: [{ name: 'OTEL_SERVICE_NAME' }],
      parse: (v) => parseString(v),
      default: defaults.serviceName,
      description: 'the service.name resource attribute',
    },
    service_namespace: {
      flag: 'service-namespace',
      parse: (v) => parseLabelValue(v),
      description: 'the service.namespace resource attribute (the Collector makes job = namespace/name)',
    },
    service_instance_id: {
      flag: 'service-instance-id',
      parse: (v) => parseLabelValue(v),
      defaultDescription: 'per command (see docs/exporting.md)',
      description: 'the service.instance.id resource attribute (the Collector makes it instance)',
    },
    resource_attributes: {
      flag: 'resource-attribute',
      multiple: true,
      mapping: true,
      env: [{ name: 'OTEL_RESOURCE_ATTRIBUTES' }],
      parse: parseKeyValues,
      default: {},
      description: 'extra resource attributes, key=value (repeat the flag, or comma-separate)',
    },
    cardinality_limit: {
      flag: 'cardinality-limit',
      parse: (v) => parseInteger(v, 1, 10_000_000),
      default: DEFAULT_CARDINALITY_LIMIT,
      description: 'most attribute sets one SDK instrument keeps before folding the rest into otel.metric.overflow',
    },
    'prometheus.host': {
      flag: 'prometheus-host',
      env: [{ name: 'OTEL_EXPORTER_PROMETHEUS_HOST' }],
      parse: parseIp,
      default: DEFAULT_PROMETHEUS_HOST,
      description: 'address the Prometheus /metrics server listens on (IPv4 or IPv6 literal)',
    },
    'prometheus.port': {
      flag: 'prometheus-port',
      env: [{ name: 'OTEL_EXPORTER_PROMETHEUS_PORT' }],
      parse: (v) => parseInteger(v, 0, 65535),
      default: defaults.port ?? DEFAULT_PROMETHEUS_PORT,
      description: 'port of the Prometheus /metrics server (0 picks a free one)',
    },
    'prometheus.scope_labels': {
      flag: 'prometheus-scope-labels',
      boolean: true,
      parse: parseBool,
      default: false as boolean,
      description: 'add otel_scope_name/otel_scope_version labels to every series',
    },
    'prometheus.target_info': {
      flag: 'prometheus-target-info',
      boolean: true,
      parse: parseBool,
      default: false as boolean,
      description: 'add the target_info series carrying the resource attributes',
    },
    'prometheus.collect_timeout': {
      flag: 'prometheus-collect-timeout',
      parse: parseDurationAtLeast(MIN_TIMEOUT_MS),
      default: DEFAULT_COLLECT_TIMEOUT_MS,
      format: formatDuration,
      description: 'a scrape whose collection takes longer answers 503',
    },
    'prometheus.max_connections': {
      flag: 'prometheus-max-connections',
      parse: (v) => parseInteger(v, 1, MAX_CONNECTIONS_LIMIT),
      default: DEFAULT_MAX_CONNECTIONS,
      description:
        'most connections the /metrics server holds at once; a newcomer then takes the place of the longest-idle connection of the source holding the most, or is refused (counted in dynamo_metrics_http_connections_cut_total)',
    },
    'prometheus.max_connections_per_source': {
      flag: 'prometheus-max-connections-per-source',
      parse: (v) => parseInteger(v, 1, MAX_CONNECTIONS_LIMIT),
      default: DEFAULT_MAX_CONNECTIONS_PER_SOURCE,
      description: 'most connections one client address may hold at once; more are refused (counted)',
    },
    'prometheus.header_timeout': {
      flag: 'prometheus-header-timeout',
      parse: parseDurationAtLeast(MIN_TIMEOUT_MS),
      default: DEFAULT_HEADER_TIMEOUT_MS,
      format: formatDuration,
      description: 'a request whose headers take longer to arrive is closed (408)',
    },
    'prometheus.request_timeout': {
      flag: 'prometheus-request-timeout',
      parse: parseDurationAtLeast(MIN_TIMEOUT_MS),
      default: DEFAULT_REQUEST_TIMEOUT_MS,
      format: formatDuration,
      description: 'a request that takes longer to arrive is closed (408)',
    },
    'prometheus.write_timeout': {
      flag: 'prometheus-write-timeout',
      parse: parseDurationAtLeast(MIN_TIMEOUT_MS),
      default: DEFAULT_WRITE_TIMEOUT_MS,
      format: formatDuration,
      description: 'a connection whose client does not take a response within this is cut',
    },
    'prometheus.max_unread_bytes': {
      flag: 'prometheus-max-unread-bytes',
      parse: (v) => parseInteger(v, 1024, MAX_UNREAD_BYTES_LIMIT),
      default: DEFAULT_MAX_UNREAD_BYTES,
      description: 'a connection asking for more while this many bytes of its earlier responses are unread is cut',
    },
    'prometheus.web_config_file': {
      flag: 'web.config.file',
      env: [{ name: 'DYN_WEB_CONFIG_FILE' }],
      parse: (v: unknown) => {
        const path = parseReadableFile(v);
        loadWebConfig(path); // a bad file is a config error now, not at the first scrape
        return path;
      },
      description:
        "web config file in the Prometheus exporters' format (tls_server_config, basic_auth_users with bcrypt hashes) for the /metrics server",
    },
    'otlp.protocol': {
      flag: 'otlp-protocol',
      env: [{ name: 'OTEL_EXPORTER_OTLP_METRICS_PROTOCOL' }, { name: 'OTEL_EXPORTER_OTLP_PROTOCOL' }],
      parse: (v) => parseEnum(v, OTLP_PROTOCOLS),
      default: DEFAULT_OTLP_PROTOCOL,
      description: 'OTLP protocol: http/protobuf, http/json or grpc (then the endpoint is host:port, default http://localhost:4317)',
    },
    'otlp.endpoint': {
      flag: 'otlp-endpoint',
      env: [{ name: 'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT' }, { name: 'OTEL_EXPORTER_OTLP_ENDPOINT', map: metricsPath }],
      parse: parseHttpUrl,
      defaultDescription: `${DEFAULT_OTLP_ENDPOINT} (grpc: ${DEFAULT_OTLP_GRPC_ENDPOINT})`,
      description: 'full OTLP metrics URL (OTEL_EXPORTER_OTLP_ENDPOINT is a base URL: /v1/metrics is appended, except for grpc)',
    },
    'otlp.headers': {
      flag: 'otlp-header',
      multiple: true,
      mapping: true,
      secret: true,
      env: [{ name: 'OTEL_EXPORTER_OTLP_METRICS_HEADERS' }, { name: 'OTEL_EXPORTER_OTLP_HEADERS' }],
      parse: parseHeaders,
      default: {},
      description: 'headers sent with every export, key=value (API keys: never logged)',
    },
    'otlp.timeout': {
      flag: 'otlp-timeout',
      env: [
        { name: 'OTEL_EXPORTER_OTLP_METRICS_TIMEOUT', parse: positiveMs },
        { name: 'OTEL_EXPORTER_OTLP_TIMEOUT', parse: positiveMs },
      ],
      parse: parseDurationAtLeast(MIN_TIMEOUT_MS),
      default: DEFAULT_OTLP_TIMEOUT_MS,
      format: formatDuration,
      description: 'timeout of one export (environment: milliseconds)',
    },
    'otlp.compression': {
      flag: 'otlp-compression',
      env: [{ name: 'OTEL_EXPORTER_OTLP_METRICS_COMPRESSION' }, { name: 'OTEL_EXPORTER_OTLP_COMPRESSION' }],
      parse: (v) => parseEnum(v, COMPRESSIONS),
      default: DEFAULT_OTLP_COMPRESSION,
      description: 'none or gzip',
    },
    'otlp.interval': {
      flag: 'otlp-interval',
      env: [
        {
          name: 'OTEL_METRIC_EXPORT_INTERVAL',
          parse: (raw: unknown) => parseDurationAtLeast(MIN_OTLP_INTERVAL_MS)(parseMillis(raw) / 1000),
        },
      ],
      parse: parseDurationAtLeast(MIN_OTLP_INTERVAL_MS),
      default: DEFAULT_OTLP_INTERVAL_MS,
      format: formatDuration,
      description: 'time between two OTLP exports (environment: milliseconds)',
    },
    'otlp.histogram_aggregation': {
      flag: 'otlp-histogram-aggregation',
      env: [{ name: 'OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION' }],
      parse: (v) => parseEnum(v, HISTOGRAM_AGGREGATIONS),
      default: DEFAULT_HISTOGRAM_AGGREGATION,
      description:
        'histograms over OTLP: explicit_bucket_histogram or base2_exponential_bucket_histogram (Prometheus pull keeps explicit buckets)',
    },
    'otlp.temporality': {
      flag: 'otlp-temporality',
      env: [{ name: 'OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE' }],
      parse: (v) => parseEnum(v, TEMPORALITIES),
      default: DEFAULT_TEMPORALITY,
      description: 'cumulative, delta or lowmemory (as the OTel SDK defines them)',
    },
    'pushgateway.url': {
      flag: 'pushgateway-url',
      parse: parseHttpUrl,
      default: DEFAULT_PUSHGATEWAY_URL,
      description: 'base URL of the Prometheus PushGateway',
    },
    'pushgateway.job': {
      flag: 'pushgateway-job',
      parse: (v) => parseLabelValue(v),
      default: DEFAULT_PUSHGATEWAY_JOB,
      description: 'the job grouping label',
    },
    'pushgateway.instance': {
      flag: 'pushgateway-instance',
      parse: (v) => parseLabelValue(v, true),
      default: () => hostname(),
      defaultDescription: 'host name',
      description: 'the instance grouping label (may be empty)',
    },
    'pushgateway.interval': {
      flag: 'push-interval',
      parse: parseDurationAtLeast(MIN_PUSH_INTERVAL_MS),
      default: DEFAULT_PUSH_INTERVAL_MS,
      format: formatDuration,
      description: `time between two pushes (at least ${formatDuration(MIN_PUSH_INTERVAL_MS)})`,
    },
    'pushgateway.timeout': {
      flag: 'pushgateway-timeout',
      parse: parseDurationAtLeast(MIN_TIMEOUT_MS),
      default: DEFAULT_PUSH_TIMEOUT_MS,
      format: formatDuration,
      description: 'timeout of one push',
    },
    'pushgateway.username': {
      flag: 'pushgateway-username',
      parse: (v) => parseLabelValue(v),
      description: 'basic auth user towards the PushGateway (password from pushgateway.password_file); credentials in the URL work too',
    },
    'pushgateway.password_file': {
      flag: 'pushgateway-password-file',
      parse: parseReadableFile,
      description: 'file holding the basic auth password (read at every push)',
    },
    'pushgateway.bearer_token_file': {
      flag: 'pushgateway-bearer-token-file',
      parse: parseReadableFile,
      description: 'file holding a bearer token sent to the PushGateway (read at every push)',
    },
    'pushgateway.ca_file': {
      flag: 'pushgateway-ca-file',
      parse: parseReadableFile,
      description: 'CA certificate (PEM) that signs an https PushGateway',
    },
    'pushgateway.cert_file': {
      flag: 'pushgateway-cert-file',
      parse: parseReadableFile,
      description: 'client certificate (PEM) for an https PushGateway that asks for one',
    },
    'pushgateway.key_file': {
      flag: 'pushgateway-key-file',
      parse: parseReadableFile,
      description: 'key (PEM) of the client certificate',
    },
  } satisfies OptionTable;
}

/** Builds the typed export config from resolved option values. */
export function exportConfigFrom(v: OptionValues<ExportOptionTable>): ExportConfig {
  return {
    exporters: v.exporters,
    serviceName: v.service_name,
    serviceNamespace: v.service_namespace,
    serviceInstanceId: v.service_instance_id,
    resourceAttributes: v.resource_attributes,
    cardinalityLimit: v.cardinality_limit,
    prometheus: {
      host: v['prometheus.host'],
      port: v['prometheus.port'],
      scopeLabels: v['prometheus.scope_labels'],
      targetInfo: v['prometheus.target_info'],
      collectTimeoutMs: v['prometheus.collect_timeout'],
      webConfigFile: v['prometheus.web_config_file'],
      limits: {
        maxConnections: v['prometheus.max_connections'],
        maxConnectionsPerSource: v['prometheus.max_connections_per_source'],
        headerTimeoutMs: v['prometheus.header_timeout'],
        requestTimeoutMs: v['prometheus.request_timeout'],
        writeTimeoutMs: v['prometheus.write_timeout'],
        maxUnreadBytes: v['prometheus.max_unread_bytes'],
      },
    },
    otlp: {
      protocol: v['otlp.protocol'],
      endpoint: v['otlp.endpoint'] ?? (v['otlp.protocol'] === 'grpc' ? DEFAULT_OTLP_GRPC_ENDPOINT : DEFAULT_OTLP_ENDPOINT),
      headers: v['otlp.headers'],
      timeoutMs: v['otlp.timeout'],
      compression: v['otlp.compression'],
      intervalMs: v['otlp.interval'],
      temporality: v['otlp.temporality'],
      histogramAggregation: v['otlp.histogram_aggregation'],
    },
    pushgateway: {
      url: v['pushgateway.url'],
      job: v['pushgateway.job'],
      instance: v['pushgateway.instance'],
      intervalMs: v['pushgateway.interval'],
      timeoutMs: v['pushgateway.timeout'],
      auth: pushGatewayAuth(v),
      tls: { caFile: v['pushgateway.ca_file'], certFile: v['pushgateway.cert_file'], keyFile: v['pushgateway.key_file'] },
    },
  };
}

/** Basic or bearer auth towards the PushGateway, each complete, never both. */
function pushGatewayAuth(v: OptionValues<ExportOptionTable>): HttpAuth {
  const user = v['pushgateway.username'];
  const pass = v['pushgateway.password_file'];
  const bearer = v['pushgateway.bearer_token_file'];
  if (pass !== undefined && user === undefined)
    throw new ConfigError('pushgateway.password_file needs pushgateway.username (--pushgateway-username)');
  if (bearer !== undefined && user !== undefined)
    throw new ConfigError(
      'use either basic auth (pushgateway.username) or a bearer token (pushgateway.bearer_token_file) towards the PushGateway, not both',
    );
  if ((v['pushgateway.cert_file'] === undefined) !== (v['pushgateway.key_file'] === undefined))
    throw new ConfigError('pushgateway.cert_file and pushgateway.key_file go together');
  return { username: user, passwordFile: pass, bearerTokenFile: bearer };
}

/** Loads only the export options (the status server and tests). */
export function loadExportConfig(input: LoadInput, defaults: ExportDefaults): ExportConfig {
  return exportConfigFrom(loadOptions(exportOptions(defaults), input).values);
}
