/**
 * Starts a frontend: the export pipeline (its Prometheus exposition served on the frontend's
 * port), the runtime, the model registry and the HTTP server; `stop()` undoes it in reverse.
 * What a test or an embedding program calls instead of the command.
 */
import { jsonAnswer, packageVersion, staticRoutes } from '../export/staticAssets.ts';
import { FRONTEND_PAGE_FILES, frontendStatusBody } from './frontendStatus.ts';
import { hostname } from 'node:os';
import { MetricsPipeline } from '../export/MetricsPipeline.ts';
import { DistributedRuntime } from '../runtime/DistributedRuntime.ts';
import { Frontend, type FrontendOptions } from './Frontend.ts';
import { FrontendMetrics, frontendBucketsFromEnv, METRICS_PREFIX_ENV, DEFAULT_FRONTEND_PREFIX } from './FrontendMetrics.ts';
import { FrontendGenAiMetrics } from './GenAiMetrics.ts';
import { ModelRegistry } from './ModelRegistry.ts';
import type { FrontendCommandConfig } from './options.ts';

export interface RunningFrontend {
  readonly frontend: Frontend;
  readonly metrics: FrontendMetrics;
  readonly pipeline: MetricsPipeline;
  readonly registry: ModelRegistry;
  readonly drt: DistributedRuntime;
  stop(): Promise<void>;
}

/** `server.address`: the address the server is bound to, or the host name when it listens on every address. */
function serverAddress(host: string): string {
  return host === '0.0.0.0' || host === '::' ? hostname() : host;
}

export async function startFrontend(
  cfg: FrontendCommandConfig,
  env: NodeJS.ProcessEnv = process.env,
  /** `instrumented: false` relays without measuring (what the benchmark compares with). */
  extra: Pick<FrontendOptions, 'instrumented'> = {},
): Promise<RunningFrontend> {
  let port = cfg.port;
  const genAi = cfg.metricNames === 'dynamo' ? undefined : new FrontendGenAiMetrics(() => ({ address: serverAddress(cfg.host), port }));
  const metrics = new FrontendMetrics(
    frontendBucketsFromEnv(env),
    env[METRICS_PREFIX_ENV] || DEFAULT_FRONTEND_PREFIX,
    (m, model, seconds, status, errorType) => genAi?.record(model, m.endpoint, seconds, status, errorType, m.ttftSeconds, m.tokens),
  );
  // the pull reader exists whatever the exporters; its server does not listen (the frontend's does)
  const pipeline = new MetricsPipeline(cfg.export, { forcePrometheusServer: true, global: false });
  if (cfg.metricNames !== 'gen_ai') pipeline.snapshots.add(() => metrics.snapshot());
  if (genAi !== undefined) pipeline.snapshots.add(() => genAi.snapshot());
  const drt = await DistributedRuntime.connect(cfg.connection).catch(async (err: unknown) => {
    await pipeline.shutdown();
    throw err;
  });
  let frontend: Frontend | undefined;
  const registry = new ModelRegistry(drt.etcd, cfg.namespace, (model, entry) => {
    metrics.modelCard(model, entry.card);
    frontend?.cardsChanged();
  });
  frontend = new Frontend(drt, registry, metrics, pipeline.prometheusServer, {
    host: cfg.host,
    port: cfg.port,
    workerTimeoutMs: cfg.workerTimeoutMs,
    routerMode: cfg.routerMode,
    ...extra,
  });
  const http = pipeline.prometheusServer;
  if (http !== undefined) {
    // the status page (served by the frontend's own server from these routes)
    const started = performance.now();
    const version = packageVersion();
    const fe = frontend;
    for (const [path, route] of Object.entries(staticRoutes(FRONTEND_PAGE_FILES))) http.addRoute(path, route);
    http.addRoute('/api/status', () =>
      jsonAnswer(
        frontendStatusBody({
          version,
          uptimeSeconds: (performance.now() - started) / 1000,
          routerMode: fe.routerMode,
          models: registry.models(),
          summaries: metrics.summaries(),
          publishedLoad: (id) => fe.publishedLoad(id),
          disconnectedClients: metrics.disconnectedClients,
          exporters: pipeline.health.statuses(),
        }),
      ),
    );
  }
  try {
    await registry.start();
    await frontend.listen();
    frontend.cardsChanged();
    port = frontend.port;
  } catch (err) {
    registry.close();
    await drt.shutdown();
    await pipeline.shutdown();
    throw err;
  }
  return {
    frontend,
    metrics,
    pipeline,
    registry,
    drt,
    async stop() {
      await frontend.close();
      registry.close();
      await pipeline.shutdown();
      await drt.shutdown();
    },
  };
}
