/**
 * One MeterProvider per process with one reader per enabled exporter: Prometheus pull, OTLP push,
 * PushGateway push, console. Every reader also reads the pipeline's SnapshotProducer. Shutdown
 * flushes (a final OTLP export, the PushGateway DELETE) within a bound.
 */
import { hostname } from 'node:os';
import { diag, DiagLogLevel, metrics, type Meter } from '@opentelemetry/api';
import { setGlobalErrorHandler } from '@opentelemetry/core';
import { defaultResource, resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import { MeterProvider, type ViewOptions } from '@opentelemetry/sdk-metrics';
import { EXPORTERS, type ExporterContext, type ExporterInstance } from './exporters/index.ts';
import { EXPORTER_NAMES, type ExportConfig, type ExporterName } from './options.ts';
import { getLogger } from '../log.ts';
import { ExportHealth } from './ExportHealth.ts';
import type { MetricsHttpServer, RouteHandler } from './MetricsHttpServer.ts';
import { SnapshotProducer } from './SnapshotProducer.ts';
import { errorMessage } from '../errors.ts';
import { settleWithin } from '../time.ts';
import { observeProcessMetrics } from './processMetrics.ts';
import { packageVersion } from './staticAssets.ts';

/** Bound on flushing and shutting down all exporters. */
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 5_000;
/** The meter (and OTel scope) of the bridge's own metrics. */
export const BRIDGE_METER_NAME = 'dynamo_metrics';

const log = getLogger('export');

export interface MetricsPipelineOptions {
  /** Serve these extra routes on the Prometheus server (status server). */
  routes?: Record<string, RouteHandler> | undefined;
  /** Register the provider as the global OTel MeterProvider. @default true */
  global?: boolean;
  views?: ViewOptions[];
  /** A Prometheus server even when `prometheus` is not among the exporters (status server). */
  forcePrometheusServer?: boolean;
  /** Export the process's `process_*`, `nodejs_*` and `dynamo_metrics_build_info` metrics. @default true */
  processMetrics?: boolean;
}

let diagInstalled = false;
/** OTel's own diagnostics go to our log (warnings and errors only). */
function installDiagLogger(): void {
  if (diagInstalled) return;
  diagInstalled = true;
  const otelLog = getLogger('opentelemetry');
  const line = (args: unknown[]): string =>
    args
      .map((a) => (typeof a === 'string' ? a : a instanceof Error ? a.message : JSON.stringify(a)))
      .join(' ')
      .split('\n', 1)[0] ?? '';
  diag.setLogger(
    {
      error: (...args) => otelLog.rateLimited('error', `e-${String(args[0])}`, line(args)),
      warn: (...args) => otelLog.rateLimited('warn', `w-${String(args[0])}`, line(args)),
      info: () => undefined,
      debug: () => undefined,
      verbose: () => undefined,
    },
    { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true },
  );
  // Failed exports are already counted and logged by the exporters' wrappers; the SDK's global
  // handler would print each again as a JSON stack.
  setGlobalErrorHandler((err) => {
    otelLog.rateLimited('debug', 'global', 'OpenTelemetry error', { error: errorMessage(err) });
  });
}

/**
 * The resource of every export: host and process, `service.namespace` and `service.instance.id`
 * when known (`OTEL_RESOURCE_ATTRIBUTES` wins over both), and `service.name`, which wins over
 * `OTEL_RESOURCE_ATTRIBUTES` as the SDK specifies.
 */
export function buildResource(cfg: ExportConfig): Resource {
  return defaultResource().merge(
    resourceFromAttributes({
      'host.name': hostname(),
      'process.pid': process.pid,
      ...(cfg.serviceNamespace !== undefined ? { 'service.namespace': cfg.serviceNamespace } : {}),
      ...(cfg.serviceInstanceId !== undefined ? { 'service.instance.id': cfg.serviceInstanceId } : {}),
      ...cfg.resourceAttributes,
      'service.name': cfg.serviceName,
    }),
  );
}

export class MetricsPipeline {
  readonly meterProvider: MeterProvider;
  readonly snapshots = new SnapshotProducer();
  readonly health = new ExportHealth();
  /** The running exporters, in the order of `EXPORTER_NAMES`. */
  readonly exporters: ReadonlyMap<ExporterName, ExporterInstance>;
  private shutdownPromise: Promise<void> | undefined;

  constructor(
    readonly config: ExportConfig,
    opts: MetricsPipelineOptions = {},
  ) {
    installDiagLogger();
    const limit = config.cardinalityLimit;
    const enabled = new Set<ExporterName>(config.exporters);
    if (opts.forcePrometheusServer) enabled.add('prometheus');
    const ctx: ExporterContext = {
      config,
      health: this.health,
      snapshots: this.snapshots,
      readerOptions: { metricProducers: [this.snapshots], cardinalitySelector: () => limit },
      routes: opts.routes,
    };
    const exporters = new Map<ExporterName, ExporterInstance>();
    for (const name of EXPORTER_NAMES) if (enabled.has(name)) exporters.set(name, EXPORTERS[name].create(ctx));
    this.exporters = exporters;
    const readers = [...exporters.values()].map((e) => e.reader);
    this.meterProvider = new MeterProvider({ resource: buildResource(config), readers, views: opts.views ?? [] });
    this.health.observeWith(this.meter(BRIDGE_METER_NAME));
    if (opts.processMetrics ?? true) observeProcessMetrics(this.meter(BRIDGE_METER_NAME), packageVersion());
    if (opts.global ?? true) metrics.setGlobalMeterProvider(this.meterProvider);
  }

  /** The Prometheus pull server, when the prometheus exporter runs. */
  get prometheusServer(): MetricsHttpServer | undefined {
    return this.exporters.get('prometheus')?.server;
  }

  meter(name: string, version?: string): Meter {
    return this.meterProvider.getMeter(name, version);
  }

  /** Starts the Prometheus server, if any, and logs where each exporter sends or serves. */
  async start(): Promise<void> {
    if (this.prometheusServer !== undefined) await this.prometheusServer.start();
    for (const [name, e] of this.exporters) log.debug(`exporter ${name}: ${e.describe()}`);
  }

  /** Exports now on every push path (OTLP, PushGateway). */
  async forceFlush(timeoutMs = DEFAULT_SHUTDOWN_TIMEOUT_MS): Promise<void> {
    await this.meterProvider.forceFlush({ timeoutMillis: timeoutMs });
  }

  /** Final OTLP export, PushGateway DELETE, server closed; bounded by `timeoutMs`. Idempotent. */
  shutdown(timeoutMs = DEFAULT_SHUTDOWN_TIMEOUT_MS): Promise<void> {
    this.shutdownPromise ??= (async () => {
      const all = Promise.all([
        this.prometheusServer?.close(),
        this.meterProvider
          .shutdown({ timeoutMillis: timeoutMs })
          .catch((err: unknown) => log.warn('exporter shutdown failed', { error: errorMessage(err) })),
      ]);
      if ((await settleWithin(all, timeoutMs, 'late')) === 'late')
        log.warn(`exporters did not finish shutting down within ${timeoutMs} ms`);
      if (metrics.getMeterProvider() === this.meterProvider) metrics.disable();
    })();
    return this.shutdownPromise;
  }
}
