/**
 * The per-process system status server (off unless `DYN_SYSTEM_ENABLED=true`): `/metrics`
 * through the export pipeline's Prometheus path, `/health` (200 once every runtime of the
 * process serves its endpoints, 503 before and while shutting down), `/live` (200 while the
 * process runs), a status page `/` with its `/api/status` (systemStatus.ts), 404 for anything else. `uptime_seconds` is refreshed on every scrape. The
 * same pipeline also pushes OTLP (or to a PushGateway) when `OTEL_METRICS_EXPORTER` asks for it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { hostname } from 'node:os';
import { loadExportConfig, type ExportConfig } from '../src/export/options.ts';
import { parseBool, parseInteger, parseIp, ValueError } from '../src/config/values.ts';
import { ConfigError } from '../src/config/schema.ts';
import { MetricsPipeline } from '../src/export/MetricsPipeline.ts';
import type { MetricsHttpServer } from '../src/export/MetricsHttpServer.ts';
import { DynamoError } from '../src/errors.ts';
import { getLogger } from '../src/log.ts';
import type { ObservedRuntime } from '../src/runtime/observer.ts';
import { processKvStatsMetrics } from './KvStatsMetrics.ts';
import { processClientMetrics } from './ClientMetrics.ts';
import { processEndpointMetrics } from './EndpointMetrics.ts';
import { jsonAnswer, packageVersion, staticRoutes } from '../src/export/staticAssets.ts';
import { SYSTEM_PAGE_FILES, systemStatusBody } from './systemStatus.ts';

export const DEFAULT_SYSTEM_HOST = '0.0.0.0';
export const DEFAULT_SYSTEM_PORT = 8081;
export const SYSTEM_METER_NAME = 'dynamo_system';
export const DEFAULT_SERVICE_NAME = 'dynamo-component';

const log = getLogger('system_status_server');

/** What the status server asks of each runtime of the process. */
export type ReadinessSource = Pick<ObservedRuntime, 'readiness' | 'instanceId'>;

/**
 * How long exports wait for the process's first runtime to learn its instance id (its lease)
 * before `service.instance.id` falls back to `host/pid`.
 */
export const INSTANCE_ID_WAIT_MS = 15_000;

export interface SystemStatusSettings {
  enabled: boolean;
  host: string;
  port: number;
}

function envValue<T>(env: NodeJS.ProcessEnv, name: string, parse: (v: unknown) => T, fallback: T): T {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  try {
    return parse(raw);
  } catch (err) {
    if (err instanceof ValueError) throw new ConfigError(`${name}: ${JSON.stringify(raw)} ${err.message}`);
    throw err;
  }
}

/** Reads `DYN_SYSTEM_ENABLED`, `DYN_SYSTEM_HOST`, `DYN_SYSTEM_PORT`; bad values are one-line `ConfigError`s. */
export function systemStatusSettings(env: NodeJS.ProcessEnv = process.env): SystemStatusSettings {
  return {
    enabled: envValue(env, 'DYN_SYSTEM_ENABLED', parseBool, false),
    host: envValue(env, 'DYN_SYSTEM_HOST', parseIp, DEFAULT_SYSTEM_HOST),
    port: envValue(env, 'DYN_SYSTEM_PORT', (v) => parseInteger(v, 0, 65535), DEFAULT_SYSTEM_PORT),
  };
}

/** The export config of a worker process: the OTEL_* variables, with the status server as the Prometheus path. */
/**
 * The export config of a worker process: the OTEL_* variables, with the status server as the
 * Prometheus path and `service.instance.id` the worker's instance id (decimal, as `worker_id`).
 */
export function workerExportConfig(settings: SystemStatusSettings, env: NodeJS.ProcessEnv, instanceId?: Promise<string>): ExportConfig {
  const cfg = loadExportConfig({ argv: [], env }, { serviceName: DEFAULT_SERVICE_NAME });
  return {
    ...cfg,
    serviceInstanceId: cfg.serviceInstanceId ?? instanceId,
    prometheus: { ...cfg.prometheus, host: settings.host, port: settings.port },
  };
}

/** The process's instance id, known once its first runtime holds a lease; `host/pid` if none comes. */
class InstanceIdCell {
  private resolve!: (id: string) => void;
  private settled = false;
  /** The id once known. */
  current: string | undefined;
  readonly value = new Promise<string>((r) => {
    this.resolve = r;
  });
  private readonly timer = setTimeout(() => this.fallback(), INSTANCE_ID_WAIT_MS).unref();

  set(id: string): void {
    if (this.settled) return;
    this.settled = true;
    this.current = id;
    clearTimeout(this.timer);
    this.resolve(id);
  }

  fallback(): void {
    this.set(`${hostname()}/${process.pid}`);
  }
}

export class SystemStatusServer {
  private readonly sources = new Set<ReadinessSource>();
  readonly started = performance.now();

  private constructor(
    readonly pipeline: MetricsPipeline,
    private readonly instanceId: InstanceIdCell,
    private readonly http: MetricsHttpServer,
  ) {}

  /** Starts the server and the pipeline; the pipeline becomes the process's global MeterProvider. */
  static async start(settings: SystemStatusSettings, env: NodeJS.ProcessEnv = process.env): Promise<SystemStatusServer> {
    let server: SystemStatusServer | undefined;
    const instanceId = new InstanceIdCell();
    const pipeline = new MetricsPipeline(workerExportConfig(settings, env, instanceId.value), {
      forcePrometheusServer: true,
      routes: {
        '/health': (req, res) => server?.health(req, res),
        '/live': (req, res) => server?.live(req, res),
      },
    });
    const http = pipeline.prometheusServer;
    // forcePrometheusServer above: the pipeline always has one
    if (http === undefined) throw new DynamoError('internal: a status server pipeline without its HTTP server');
    const srv = new SystemStatusServer(pipeline, instanceId, http);
    server = srv;
    processEndpointMetrics.attach(pipeline);
    processKvStatsMetrics.attach(pipeline);
    processClientMetrics.attach(pipeline);
    for (const [path, route] of Object.entries(staticRoutes(SYSTEM_PAGE_FILES))) http.addRoute(path, route);
    const version = packageVersion();
    http.addRoute('/api/status', () =>
      jsonAnswer(
        systemStatusBody({
          version,
          instanceId: instanceId.current,
          instances: srv.instanceIds(),
          readiness: srv.readiness(),
          uptimeSeconds: (performance.now() - srv.started) / 1000,
          endpoints: processEndpointMetrics.all(),
          exporters: pipeline.health.statuses(),
        }),
      ),
    );
    pipeline
      .meter(SYSTEM_METER_NAME)
      .createObservableGauge('uptime_seconds', { description: 'Total uptime of the DistributedRuntime in seconds' })
      .addCallback((r) => r.observe((performance.now() - srv.started) / 1000, { dynamo_namespace: 'system_status_server' }));
    await pipeline.start();
    log.info(`System status server started at ${http.baseUrl} (/, /metrics, /health, /live)`);
    return srv;
  }

  get port(): number {
    return this.http.address.port;
  }

  register(source: ReadinessSource): void {
    this.sources.add(source);
    this.instanceId.set(source.instanceId.toString()); // the first runtime's id names the process
  }

  unregister(source: ReadinessSource): void {
    this.sources.delete(source);
  }

  /** The instance ids of the runtimes registered now. */
  *instanceIds(): IterableIterator<bigint> {
    for (const s of this.sources) yield s.instanceId;
  }

  get sourceCount(): number {
    return this.sources.size;
  }

  readiness(): { ready: boolean; endpoints: string[] } {
    const endpoints: string[] = [];
    let ready = this.sources.size > 0;
    for (const s of this.sources) {
      const r = s.readiness();
      ready &&= r.ready;
      endpoints.push(...r.endpoints);
    }
    return { ready, endpoints };
  }

  private health(_req: IncomingMessage, res: ServerResponse): void {
    const { ready, endpoints } = this.readiness();
    const body = { status: ready ? 'ready' : 'notready', uptime_seconds: (performance.now() - this.started) / 1000, endpoints };
    res.writeHead(ready ? 200 : 503, { 'Content-Type': 'application/json' });
    res.end(`${JSON.stringify(body)}\n`);
  }

  private live(_req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(`${JSON.stringify({ status: 'live', uptime_seconds: (performance.now() - this.started) / 1000 })}\n`);
  }

  /** Final export on every push path, then the server closes. */
  async close(): Promise<void> {
    this.instanceId.fallback();
    await this.pipeline.shutdown();
  }
}

let processServer: Promise<SystemStatusServer> | undefined;

/**
 * The process's status server, started on first use when `DYN_SYSTEM_ENABLED` is true;
 * undefined otherwise (no port is opened).
 */
export async function processSystemStatusServer(env: NodeJS.ProcessEnv = process.env): Promise<SystemStatusServer | undefined> {
  const settings = systemStatusSettings(env);
  if (!settings.enabled) return undefined;
  processServer ??= SystemStatusServer.start(settings, env).catch((err: unknown) => {
    processServer = undefined;
    throw err;
  });
  return processServer;
}

/** Closes the process's status server if it runs (the last runtime of the process shut down). */
export async function closeProcessSystemStatusServer(): Promise<void> {
  const s = processServer;
  processServer = undefined;
  if (s !== undefined) await (await s).close();
}
