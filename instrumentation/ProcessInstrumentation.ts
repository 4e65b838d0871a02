/**
 * What plugs the process's automatic metrics into a runtime: every endpoint observed by the
 * process's `EndpointMetrics`, custom metrics as OTel instruments with the `dynamo_*` labels, and
 * each runtime registered with the system status server (when `DYN_SYSTEM_ENABLED` is true) so
 * that `/health` follows its endpoints.
 *
 *   const drt = await connectInstrumented();   // instead of DistributedRuntime.connect()
 */
import { DistributedRuntime, type DistributedRuntimeOptions } from '../src/runtime/DistributedRuntime.ts';
import type { MetricsFactory, MetricsScope } from '../src/runtime/metricsFactory.ts';
import type { EndpointObserverFactory, ObservedRuntime, RuntimeInstrumentation } from '../src/runtime/observer.ts';
import { MetricsRegistry } from './CustomMetrics.ts';
import { processEndpointMetrics } from './EndpointMetrics.ts';
import { processKvStatsMetrics } from './KvStatsMetrics.ts';
import { processClientMetrics } from './ClientMetrics.ts';
import { DEFAULT_DURATION_BUCKETS, DURATION_BUCKETS_ENV, parseDurationBuckets } from './buckets.ts';
import { ConfigError } from '../src/config/schema.ts';
import { metricNamesFromEnv } from '../src/export/GenAiServerMetrics.ts';
import { ValueError } from '../src/config/values.ts';
import { scopeAttributes } from './labels.ts';
import { closeProcessSystemStatusServer, processSystemStatusServer, type SystemStatusServer } from './SystemStatusServer.ts';

export interface InstrumentationOptions {
  /** Environment to read `DYN_SYSTEM_*` and `OTEL_*` from. @default process.env */
  env?: NodeJS.ProcessEnv;
  /** Start (or join) the process's status server when `DYN_SYSTEM_ENABLED` is true. @default true */
  systemStatus?: boolean;
  /**
   * Duration bucket layout: `default` (the seed's, to 10 s), `llm` (to 600 s) or explicit bounds in
   * seconds. @default `DYN_DURATION_BUCKETS`, else `default`
   */
  durationBuckets?: 'default' | 'llm' | readonly number[];
}

/** The layout the options or `DYN_DURATION_BUCKETS` ask for; a bad value is a one-line `ConfigError`. */
function durationBuckets(opts: InstrumentationOptions, env: NodeJS.ProcessEnv): readonly number[] {
  const raw: unknown = opts.durationBuckets ?? env[DURATION_BUCKETS_ENV];
  if (raw === undefined || raw === '') return DEFAULT_DURATION_BUCKETS;
  const text = Array.isArray(raw) ? raw.join(',') : raw;
  try {
    return parseDurationBuckets(text);
  } catch (err) {
    if (err instanceof ValueError)
      throw new ConfigError(
        `${opts.durationBuckets !== undefined ? 'durationBuckets' : DURATION_BUCKETS_ENV}: ${JSON.stringify(text)} ${err.message}`,
      );
    throw err;
  }
}

export class ProcessInstrumentation implements RuntimeInstrumentation {
  readonly endpointObserver: EndpointObserverFactory = processEndpointMetrics.observer;
  /** Clients count their requests, failures by type and durations per endpoint. */
  readonly clientObserver = processClientMetrics.observer;
  /** Endpoints with a stats handler report their KV stats as gauges (read at collection). */
  readonly endpointStats = processKvStatsMetrics.register;

  constructor(
    /** The process's status server, when enabled. */
    readonly statusServer: SystemStatusServer | undefined,
  ) {}

  metrics(scope: MetricsScope): MetricsFactory {
    return new MetricsRegistry(scopeAttributes(scope));
  }

  runtimeStarted(runtime: ObservedRuntime): void {
    this.statusServer?.register(runtime);
  }

  async runtimeStopped(runtime: ObservedRuntime): Promise<void> {
    this.statusServer?.unregister(runtime);
    await this.release();
  }

  /** Closes the status server once no runtime uses it. */
  async release(): Promise<void> {
    if (this.statusServer !== undefined && this.statusServer.sourceCount === 0) await closeProcessSystemStatusServer();
  }
}

/**
 * The process's instrumentation. Starts the status server first when it is enabled, so that a bad
 * `DYN_SYSTEM_*` setting or a busy port fails before anything registers and metrics exist
 * before the first request.
 */
export async function processInstrumentation(opts: InstrumentationOptions = {}): Promise<ProcessInstrumentation> {
  const env = opts.env ?? process.env;
  processEndpointMetrics.useBuckets(durationBuckets(opts, env));
  processEndpointMetrics.useGenAi(metricNamesFromEnv(env) !== 'dynamo');
  const status = opts.systemStatus === false ? undefined : await processSystemStatusServer(opts.env ?? process.env);
  return new ProcessInstrumentation(status);
}

/** `DistributedRuntime.connect()` with the process's automatic metrics and status server. */
export async function connectInstrumented(opts: DistributedRuntimeOptions & InstrumentationOptions = {}): Promise<DistributedRuntime> {
  const instrumentation = await processInstrumentation(opts);
  try {
    return await DistributedRuntime.connect({ ...opts, instrumentation });
  } catch (err) {
    await instrumentation.release();
    throw err;
  }
}
