/**
 * The `frontend` command's options: Dynamo's `--http-host`/`--http-port` (`DYN_HTTP_PORT`), the
 * namespace whose models it serves, the connections, and everything the export pipeline offers
 * (its Prometheus exposition is served on the frontend's own port, at `/metrics`).
 */
import { connectionOptions, connectionSettings, namespaceOption } from '../config/commonOptions.ts';
import type { Loaded, OptionTable } from '../config/schema.ts';
import { parseDuration, parseEnum, parseInteger, parseIp, formatDuration } from '../config/values.ts';
import { exportConfigFrom, exportOptions, type ExportConfig } from '../export/options.ts';
import { DEFAULT_NAMESPACE } from '../runtime/names.ts';
import { DEFAULT_HTTP_HOST, DEFAULT_HTTP_PORT } from './Frontend.ts';
import { ROUTER_MODES, type RouterMode } from './Router.ts';
import { METRIC_NAME_SETS, type MetricNameSet, metricNamesFromEnv, SEMCONV_OPT_IN_ENV } from '../export/GenAiServerMetrics.ts';

export const DEFAULT_FRONTEND_SERVICE_NAME = 'dynamo-frontend';
/** How long the frontend waits for a worker's first and each next chunk. */
export const DEFAULT_WORKER_TIMEOUT_MS = 30_000;

export function frontendOptions() {
  const exp = exportOptions({ serviceName: DEFAULT_FRONTEND_SERVICE_NAME, port: DEFAULT_HTTP_PORT });
  return {
    namespace: namespaceOption(DEFAULT_NAMESPACE, 'namespace whose models (workers with a model card) it serves'),
    http_host: { flag: 'http-host', parse: parseIp, default: DEFAULT_HTTP_HOST, description: 'address of the OpenAI HTTP server' },
    http_port: {
      flag: 'http-port',
      env: [{ name: 'DYN_HTTP_PORT' }],
      parse: (v: unknown) => parseInteger(v, 0, 65_535),
      default: DEFAULT_HTTP_PORT,
      description: 'port of the OpenAI HTTP server (also /metrics, /health, /live); 0 picks a free one',
    },
    router_mode: {
      flag: 'router-mode',
      parse: (v: unknown): RouterMode => parseEnum(v, ROUTER_MODES),
      default: 'round-robin' as RouterMode,
      description:
        "how a worker is picked: round-robin, random, kv (KV-aware: the worker predicted to hold the longest run of the prompt's leading blocks, from the blocks routed to each; else the least busy) or least-loaded (the fewest waiting requests, then blocks in use, from the load events workers publish)",
    },
    worker_timeout: {
      flag: 'worker-timeout',
      parse: parseDuration,
      default: DEFAULT_WORKER_TIMEOUT_MS,
      format: formatDuration,
      description: "how long to wait for a worker's first and each next chunk",
    },
    metric_names: {
      flag: 'metric-names',
      env: [{ name: SEMCONV_OPT_IN_ENV, parse: (raw: unknown) => metricNamesFromEnv({ [SEMCONV_OPT_IN_ENV]: String(raw) }) }],
      parse: (v: unknown): MetricNameSet => parseEnum(v, METRIC_NAME_SETS),
      default: 'dynamo' as MetricNameSet,
      description:
        "dynamo: Dynamo's dynamo_frontend_* names; gen_ai: OpenTelemetry's GenAI semantic conventions (gen_ai.server.*); both. OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental means both",
    },
    ...connectionOptions(),
    ...exp,
    // the exposition is served on --http-port; the pull server's own address is not used
    'prometheus.host': { ...exp['prometheus.host'], flag: undefined, env: [] },
    'prometheus.port': { ...exp['prometheus.port'], flag: undefined, env: [] },
  } satisfies OptionTable;
}

export type FrontendOptionTable = ReturnType<typeof frontendOptions>;

export interface FrontendCommandConfig {
  namespace: string;
  host: string;
  port: number;
  workerTimeoutMs: number;
  routerMode: RouterMode;
  metricNames: MetricNameSet;
  connection: ReturnType<typeof connectionSettings>;
  export: ExportConfig;
}

export function frontendConfigFrom(loaded: Loaded<FrontendOptionTable>): FrontendCommandConfig {
  const v = loaded.values;
  return {
    namespace: v.namespace,
    host: v.http_host,
    port: v.http_port,
    workerTimeoutMs: v.worker_timeout,
    routerMode: v.router_mode,
    metricNames: v.metric_names,
    connection: connectionSettings(v),
    export: exportConfigFrom(v),
  };
}
