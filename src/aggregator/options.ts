/**
 * The `metrics` command's options: the seed's flags (`--component`, `--endpoint`, `--namespace`,
 * `--poll-interval`, `--host`, `--port`, `--push`, `--push-interval`) plus everything the export
 * pipeline offers, in one table.
 */
import { formatHostPort } from '../export/MetricsHttpServer.ts';
import { exportConfigFrom, exportOptionSpecs, type ExportConfig } from '../export/options.ts';
import { connectionOptionSpecs, nameParser } from '../config/commonOptions.ts';
import { ConfigError, type Loaded, type OptionSpec } from '../config/schema.ts';
import { parseBool, parseDurationAtLeast, parseInteger, parseIp } from '../config/values.ts';
import { DEFAULT_MAX_TRACKED_WORKERS } from './HitRateTracker.ts';
import { DEFAULT_POLL_INTERVAL_MS } from './Aggregator.ts';
import { DEFAULT_NAMESPACE } from '../runtime/names.ts';

export const DEFAULT_METRICS_HOST = '0.0.0.0';
export const DEFAULT_METRICS_PORT = 9091;
export const DEFAULT_METRICS_SERVICE_NAME = 'dynamo-metrics';

export function aggregatorOptionSpecs(): OptionSpec[] {
  const exportSpecs = exportOptionSpecs({ serviceName: DEFAULT_METRICS_SERVICE_NAME, port: DEFAULT_METRICS_PORT }).map((s) =>
    // The seed's --host/--port address the pull server (or, with --push, the PushGateway).
    s.key === 'prometheus.host' || s.key === 'prometheus.port' ? { ...s, flag: undefined } : s,
  );
  return [
    { key: 'namespace', flag: 'namespace', env: [{ name: 'DYN_NAMESPACE' }], parse: nameParser('namespace'), default: DEFAULT_NAMESPACE, description: 'namespace of the target endpoint' },
    { key: 'component', flag: 'component', parse: nameParser('component'), description: 'component of the target endpoint (required)' },
    { key: 'endpoint', flag: 'endpoint', parse: nameParser('endpoint'), description: 'endpoint to aggregate (required)' },
    { key: 'poll_interval', flag: 'poll-interval', parse: parseDurationAtLeast(1000), default: DEFAULT_POLL_INTERVAL_MS, defaultText: '1s', description: 'time between two scrape cycles (seconds, at least 1)' },
    { key: 'host', flag: 'host', parse: parseIp, default: DEFAULT_METRICS_HOST, description: 'address of the Prometheus server (IPv4/IPv6 literal); with --push, of the PushGateway' },
    { key: 'port', flag: 'port', parse: (v) => parseInteger(v, 0, 65535), default: DEFAULT_METRICS_PORT, description: 'port of the Prometheus server; with --push, of the PushGateway' },
    { key: 'push', flag: 'push', boolean: true, parse: parseBool, default: false, description: 'push to a PushGateway at --host:--port (job dynamo_metrics) instead of serving /metrics' },
    { key: 'max_tracked_workers', flag: 'max-tracked-workers', parse: (v) => parseInteger(v, 1, 10_000_000), default: DEFAULT_MAX_TRACKED_WORKERS, description: 'most workers whose hit-rate totals are kept (least recently active dropped first)' },
    ...connectionOptionSpecs(),
    ...exportSpecs,
  ];
}

export interface MetricsCommandConfig {
  namespace: string;
  component: string;
  endpoint: string;
  pollIntervalMs: number;
  maxTrackedWorkers: number;
  push: boolean;
  natsServers: string[];
  etcdEndpoints: string[];
  export: ExportConfig;
}

/** The typed config of `metrics`, with the seed's --push/--host/--port semantics applied. */
export function metricsConfigFrom(loaded: Loaded): MetricsCommandConfig {
  const { values, sources } = loaded;
  const get = <T>(k: string): T => values.get(k) as T;
  for (const k of ['component', 'endpoint']) {
    if (!values.has(k)) throw new ConfigError(`--${k} is required (or ${k}: in the config file); see --help`);
  }
  const exp = exportConfigFrom(values);
  const host = get<string>('host');
  const port = get<number>('port');
  const push = get<boolean>('push');
  if (push) {
    if (sources.get('exporters') === 'default') exp.exporters = ['pushgateway'];
    else if (!exp.exporters.includes('pushgateway')) exp.exporters = [...exp.exporters, 'pushgateway'];
    if (sources.get('pushgateway.url') === 'default') exp.pushgateway = { ...exp.pushgateway, url: `http://${formatHostPort(host, port)}` };
  } else {
    exp.prometheus = {
      ...exp.prometheus,
      host: sources.get('host') !== 'default' || sources.get('prometheus.host') === 'default' ? host : exp.prometheus.host,
      port: sources.get('port') !== 'default' || sources.get('prometheus.port') === 'default' ? port : exp.prometheus.port,
    };
  }
  return {
    namespace: get('namespace'),
    component: get('component'),
    endpoint: get('endpoint'),
    pollIntervalMs: get('poll_interval'),
    maxTrackedWorkers: get('max_tracked_workers'),
    push,
    natsServers: get('nats_server'),
    etcdEndpoints: get('etcd_endpoints'),
    export: exp,
  };
}
