/**
 * The `metrics` command's options: the seed's flags (`--component`, `--endpoint`, `--namespace`,
 * `--poll-interval`, `--host`, `--port`, `--push`, `--push-interval`) plus everything the export
 * pipeline offers, in one table.
 */
import { hostname } from 'node:os';
import { connectionOptions, connectionSettings, namespaceOption, nameParser } from '../config/commonOptions.ts';
import type { Loaded, OptionTable } from '../config/schema.ts';
import { formatDuration, formatHostPort, parseBool, parseDurationAtLeast, parseEnum, parseInteger, parseIp } from '../config/values.ts';
import { exportConfigFrom, exportOptions, type ExportConfig } from '../export/options.ts';
import { DEFAULT_NAMESPACE } from '../runtime/names.ts';
import { DEFAULT_MAX_TRACKED_WORKERS, MAX_TRACKED_WORKERS_LIMIT } from './HitRateTracker.ts';
import { MAX_TARGETS, parseTargets, resolveTargets, targetPath, type Target } from './targets.ts';

/** Time between two scrape cycles. */
export const DEFAULT_POLL_INTERVAL_MS = 1_000;
/** The shortest poll interval `metrics` accepts. */
export const MIN_POLL_INTERVAL_MS = 1_000;
export const DEFAULT_METRICS_HOST = '0.0.0.0';
export const DEFAULT_METRICS_PORT = 9091;
export const DEFAULT_METRICS_SERVICE_NAME = 'dynamo-metrics';
/** Cycles in a row a registered worker may miss, its last stats kept, before it leaves the view. */
export const DEFAULT_MAX_MISSED_CYCLES = 2;
/** The most `--max-missed-cycles` accepts. */
export const MAX_MISSED_CYCLES_LIMIT = 1_000;

/** The option table of `metrics`. */
export function metricsOptions() {
  const exp = exportOptions({ serviceName: DEFAULT_METRICS_SERVICE_NAME, port: DEFAULT_METRICS_PORT });
  return {
    namespace: namespaceOption(DEFAULT_NAMESPACE, 'namespace of the target endpoint'),
    component: {
      flag: 'component',
      parse: nameParser('component'),
      description: 'component of the target endpoint (with --endpoint: one target)',
    },
    endpoint: { flag: 'endpoint', parse: nameParser('endpoint'), description: 'endpoint to aggregate (with --component: one target)' },
    target: {
      flag: 'target',
      multiple: true,
      parse: parseTargets,
      default: [] as Target[],
      format: (ts: readonly Target[]) => ts.map(targetPath).join(' '),
      description:
        'a target NAMESPACE/COMPONENT/ENDPOINT (or COMPONENT/ENDPOINT in --namespace), repeatable: each keeps its own load statistics, aggregate subject, component/endpoint labels and leader key; the targets of one process share a namespace',
    },
    all_endpoints: {
      flag: 'all-endpoints',
      boolean: true,
      parse: parseBool,
      default: false as boolean,
      description: `also follow every endpoint of --namespace as workers register them (at most ${MAX_TARGETS} targets)`,
    },
    poll_interval: {
      flag: 'poll-interval',
      parse: parseDurationAtLeast(MIN_POLL_INTERVAL_MS),
      default: DEFAULT_POLL_INTERVAL_MS,
      format: formatDuration,
      description: `time between two scrape cycles (at least ${formatDuration(MIN_POLL_INTERVAL_MS)})`,
    },
    host: {
      flag: 'host',
      parse: parseIp,
      default: DEFAULT_METRICS_HOST,
      description: 'address of the Prometheus server (IPv4/IPv6 literal); with --push, of the PushGateway',
    },
    port: {
      flag: 'port',
      parse: (v: unknown) => parseInteger(v, 0, 65535),
      default: DEFAULT_METRICS_PORT,
      description: 'port of the Prometheus server; with --push, of the PushGateway',
    },
    push: {
      flag: 'push',
      boolean: true,
      parse: parseBool,
      default: false as boolean,
      description: 'push to a PushGateway at --host:--port instead of serving /metrics',
    },
    max_tracked_workers: {
      flag: 'max-tracked-workers',
      parse: (v: unknown) => parseInteger(v, 1, MAX_TRACKED_WORKERS_LIMIT),
      default: DEFAULT_MAX_TRACKED_WORKERS,
      description: 'most workers whose hit-rate totals are kept (least recently active dropped first)',
    },
    max_missed_cycles: {
      flag: 'max-missed-cycles',
      parse: (v: unknown) => parseInteger(v, 0, MAX_MISSED_CYCLES_LIMIT),
      default: DEFAULT_MAX_MISSED_CYCLES,
      description:
        'scrape cycles in a row a worker still registered in etcd may miss, its last stats kept, before its series are dropped (0: at the first miss); a worker etcd removes leaves at once',
    },
    discovery_backend: {
      flag: 'discovery-backend',
      env: [{ name: 'DYN_DISCOVERY_BACKEND' }],
      parse: (v: unknown) => parseEnum(v, DISCOVERY_BACKENDS),
      default: DEFAULT_DISCOVERY_BACKEND,
      description:
        "where the cluster's workers register, as Dynamo's DYN_DISCOVERY_BACKEND says: etcd (or kv_store) vouches for every worker; kubernetes means etcd holds none, and NATS answers and events are believed alone: anyone who can publish on NATS can then make up a worker (use NATS permissions, deploy/nats). etcd is still needed for the leader election",
    },
    ...connectionOptions(),
    ...exp,
    // The seed's --host/--port address the pull server (or, with --push, the PushGateway).
    'prometheus.host': { ...exp['prometheus.host'], flag: undefined },
    'prometheus.port': { ...exp['prometheus.port'], flag: undefined },
  } satisfies OptionTable;
}

/** Dynamo's discovery backends as `DYN_DISCOVERY_BACKEND` names them (`kv_store` is etcd's key-value store). */
export const DISCOVERY_BACKENDS = ['etcd', 'kv_store', 'kubernetes'] as const;
export const DEFAULT_DISCOVERY_BACKEND: (typeof DISCOVERY_BACKENDS)[number] = 'etcd';

export type MetricsOptionTable = ReturnType<typeof metricsOptions>;

export interface MetricsCommandConfig {
  namespace: string;
  /** The targets named; with `allEndpoints` every endpoint of the namespace joins as it registers. */
  targets: Target[];
  allEndpoints: boolean;
  pollIntervalMs: number;
  maxTrackedWorkers: number;
  maxMissedCycles: number;
  /** Believe NATS alone (`--discovery-backend kubernetes`). */
  trustNats: boolean;
  push: boolean;
  /** Where NATS and etcd are, and NATS's TLS material (`DistributedRuntime.connect`'s `nats` and `etcd`). */
  connection: ReturnType<typeof connectionSettings>;
  export: ExportConfig;
}

/** The typed config of `metrics`, with the seed's --push/--host/--port semantics applied. */
export function metricsConfigFrom(loaded: Loaded<MetricsOptionTable>): MetricsCommandConfig {
  const { values: v, sources } = loaded;
  const resolved = resolveTargets({
    namespace: v.namespace,
    component: v.component,
    endpoint: v.endpoint,
    targets: v.target,
    allEndpoints: v.all_endpoints,
  });
  const exp = exportConfigFrom(v);
  if (v.push) {
    if (sources.exporters === 'default') exp.exporters = ['pushgateway'];
    else if (!exp.exporters.includes('pushgateway')) exp.exporters = [...exp.exporters, 'pushgateway'];
    if (sources['pushgateway.url'] === 'default') exp.pushgateway = { ...exp.pushgateway, url: `http://${formatHostPort(v.host, v.port)}` };
  } else {
    exp.prometheus = {
      ...exp.prometheus,
      host: sources.host !== 'default' || sources['prometheus.host'] === 'default' ? v.host : exp.prometheus.host,
      port: sources.port !== 'default' || sources['prometheus.port'] === 'default' ? v.port : exp.prometheus.port,
    };
  }
  // stable per host and target, so a restarted aggregator continues its own series
  exp.serviceInstanceId ??= `${hostname()}/${serviceInstanceSuffix(resolved.targets, resolved.allEndpoints, resolved.namespace)}`;
  return {
    namespace: resolved.namespace,
    targets: resolved.targets,
    allEndpoints: resolved.allEndpoints,
    pollIntervalMs: v.poll_interval,
    maxTrackedWorkers: v.max_tracked_workers,
    maxMissedCycles: v.max_missed_cycles,
    trustNats: v.discovery_backend === 'kubernetes',
    push: v.push,
    connection: connectionSettings(v),
    export: exp,
  };
}

/** What follows the host name in the default `service.instance.id`: the target, or what names the set. */
function serviceInstanceSuffix(targets: readonly Target[], allEndpoints: boolean, namespace: string): string {
  if (allEndpoints) return `${namespace}/*`;
  const [only] = targets;
  if (targets.length === 1 && only !== undefined) return targetPath(only);
  return `${namespace}/${targets.map((t) => `${t.component}/${t.endpoint}`).join('+')}`;
}
