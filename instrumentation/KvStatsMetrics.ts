/**
 * Each worker measures its own KV cache (docs/metrics.md §1, "Worker KV stats"): every served
 * endpoint with a stats handler is read at collection (a scrape of the worker's status server,
 * an OTLP export), never on the request path, and its ForwardPassMetrics become the gauges
 * Dynamo's runtime exposes on every worker, with the endpoint's `dynamo_*` labels and the
 * worker's `worker_id`. A Prometheus or a Collector that scrapes workers directly sees them with
 * no aggregator running. An endpoint that stops serving is gone at the next collection; a
 * handler that throws, times out or answers something that is not ForwardPassMetrics gives no
 * series for that collection (counted in `dynamo_component_kvstats_read_failures_total`).
 */
import type { Attributes, HrTime } from '@opentelemetry/api';
import { millisToHrTime } from '@opentelemetry/core';
import { AggregationTemporality, DataPointType, type MetricData, type ScopeMetrics } from '@opentelemetry/sdk-metrics';
import type { MetricsPipeline } from '../src/export/MetricsPipeline.ts';
import { decodeForwardPassMetrics } from '../src/runtime/forwardPassMetrics.ts';
import type { EndpointStatsSource } from '../src/runtime/observer.ts';
import { DEFAULT_STATS_HANDLER_TIMEOUT_MS } from '../src/runtime/MicroService.ts';
import { settleWithin } from '../src/time.ts';
import { getLogger } from '../src/log.ts';
import { errorMessage } from '../src/errors.ts';
import { scopeAttributes } from './labels.ts';

/** The names Dynamo's runtime gives these gauges on every worker. */
export const KV_STATS_METRIC_NAMES = {
  activeBlocks: 'dynamo_component_kvstats_active_blocks',
  totalBlocks: 'dynamo_component_kvstats_total_blocks',
  gpuCacheUsage: 'dynamo_component_kvstats_gpu_cache_usage_percent',
  gpuPrefixCacheHitRate: 'dynamo_component_kvstats_gpu_prefix_cache_hit_rate',
} as const;

export const KV_STATS_METRIC_HELP = {
  activeBlocks: 'Number of active KV cache blocks in use',
  totalBlocks: 'Total number of KV cache blocks available',
  gpuCacheUsage: 'GPU KV cache usage as a fraction of its capacity (0-1), as the worker reports it',
  gpuPrefixCacheHitRate: 'GPU prefix cache hit rate (0-1), as the worker reports it',
} as const;

export const KV_STATS_SCOPE = 'dynamo_component_kvstats';
/** A stats handler slower than this gives no series for that collection. */
export const KV_STATS_READ_TIMEOUT_MS = DEFAULT_STATS_HANDLER_TIMEOUT_MS;

const log = getLogger('instrumentation::kvstats');
const TIMED_OUT = Symbol('timed out');

interface Entry {
  source: EndpointStatsSource;
  labels: Attributes;
  /** Attributes with `worker_id`, rebuilt only when the instance id changes. */
  attrs: Attributes | undefined;
  attrsFor: bigint | undefined;
}

function gauge(name: string, description: string, dataPoints: MetricData['dataPoints']): MetricData {
  return {
    descriptor: { name, description, unit: '', valueType: 1 },
    dataPointType: DataPointType.GAUGE,
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPoints,
  } as MetricData;
}

export class KvStatsMetrics {
  private readonly entries = new Set<Entry>();
  private readonly attached = new WeakSet<MetricsPipeline>();
  /** Reads that gave no series, by reason. */
  readonly readFailures = new Map<'error' | 'timeout' | 'not_forward_pass_metrics', number>();

  /** The `RuntimeInstrumentation.endpointStats` hook: registers until the returned function is called. */
  readonly register = (source: EndpointStatsSource): (() => void) => {
    const entry: Entry = { source, labels: scopeAttributes(source.identity), attrs: undefined, attrsFor: undefined };
    this.entries.add(entry);
    return () => this.entries.delete(entry);
  };

  /** Reports through `pipeline` from now on (once per pipeline). */
  attach(pipeline: MetricsPipeline): void {
    if (this.attached.has(pipeline)) return;
    this.attached.add(pipeline);
    pipeline.snapshots.add(() => this.snapshot());
    const failures = pipeline.meter(KV_STATS_SCOPE).createObservableCounter('dynamo_component_kvstats_read_failures_total', {
      description: 'Collections at which an endpoint stats handler gave no KV stats, by reason (error, timeout, not_forward_pass_metrics)',
    });
    const reasonAttrs = new Map<string, Attributes>();
    failures.addCallback((r) => {
      for (const [reason, n] of this.readFailures) {
        let a = reasonAttrs.get(reason);
        if (a === undefined) {
          a = { reason };
          reasonAttrs.set(reason, a);
        }
        r.observe(n, a);
      }
    });
  }

  private fail(reason: 'error' | 'timeout' | 'not_forward_pass_metrics', entry: Entry, detail: string): undefined {
    this.readFailures.set(reason, (this.readFailures.get(reason) ?? 0) + 1);
    log.rateLimited('warn', `kvstats-${reason}`, 'an endpoint stats handler gave no KV stats', {
      reason,
      endpoint: entry.labels.dynamo_endpoint,
      error: detail,
    });
    return undefined;
  }

  private attributes(entry: Entry): Attributes {
    const id = entry.source.instanceId();
    if (entry.attrs === undefined || entry.attrsFor !== id) {
      entry.attrs = { ...entry.labels, worker_id: id.toString() };
      entry.attrsFor = id;
    }
    return entry.attrs;
  }

  /** Reads one endpoint's stats, bounded in time; undefined when they cannot be used. */
  private async read(entry: Entry): Promise<ReturnType<typeof decodeForwardPassMetrics> | undefined> {
    let raw: unknown;
    try {
      const r = entry.source.read();
      raw =
        typeof (r as PromiseLike<unknown> | null | undefined)?.then === 'function'
          ? await settleWithin(Promise.resolve(r), KV_STATS_READ_TIMEOUT_MS, TIMED_OUT)
          : r;
    } catch (err) {
      return this.fail('error', entry, errorMessage(err));
    }
    if (raw === TIMED_OUT) return this.fail('timeout', entry, `slower than ${KV_STATS_READ_TIMEOUT_MS} ms`);
    const fpm = decodeForwardPassMetrics(raw);
    if (!fpm.ok) return this.fail('not_forward_pass_metrics', entry, fpm.reason);
    return fpm;
  }

  /** The gauges of every serving endpoint, read now. */
  async snapshot(): Promise<ScopeMetrics> {
    const entries = [...this.entries];
    const results = await Promise.all(entries.map((e) => this.read(e)));
    const time: HrTime = millisToHrTime(Date.now());
    const active: MetricData['dataPoints'] = [];
    const total: MetricData['dataPoints'] = [];
    const usage: MetricData['dataPoints'] = [];
    const hit: MetricData['dataPoints'] = [];
    const push = (list: MetricData['dataPoints'], attributes: Attributes, value: number | undefined): void => {
      if (value !== undefined)
        (list as { attributes: Attributes; startTime: HrTime; endTime: HrTime; value: number }[]).push({
          attributes,
          startTime: time,
          endTime: time,
          value,
        });
    };
    entries.forEach((entry, i) => {
      const r = results[i];
      if (r === undefined || !r.ok) return;
      const a = this.attributes(entry);
      push(active, a, r.value.kvActiveBlocks);
      push(total, a, r.value.kvTotalBlocks);
      push(usage, a, r.value.gpuCacheUsagePerc);
      push(hit, a, r.value.gpuPrefixCacheHitRate);
    });
    const metrics = [
      gauge(KV_STATS_METRIC_NAMES.activeBlocks, KV_STATS_METRIC_HELP.activeBlocks, active),
      gauge(KV_STATS_METRIC_NAMES.totalBlocks, KV_STATS_METRIC_HELP.totalBlocks, total),
      gauge(KV_STATS_METRIC_NAMES.gpuCacheUsage, KV_STATS_METRIC_HELP.gpuCacheUsage, usage),
      gauge(KV_STATS_METRIC_NAMES.gpuPrefixCacheHitRate, KV_STATS_METRIC_HELP.gpuPrefixCacheHitRate, hit),
    ].filter((m) => m.dataPoints.length > 0);
    return { scope: { name: KV_STATS_SCOPE }, metrics };
  }
}

/** The process's KV stats gauges: fed by `ProcessInstrumentation.endpointStats`. */
export const processKvStatsMetrics = new KvStatsMetrics();
