/**
 * What the aggregator exports (docs/metrics.md §2–3), as OTel data built from its current view at
 * each collection: per-worker gauges and hit-rate series for live workers only (a departed
 * worker's series are gone at the next collection, on every exporter, and memory follows the
 * live set), the load aggregates when there is at least one worker (never NaN), and the bridge's
 * own health. A standby exports health only.
 */
import type { Attributes, HrTime, Meter } from '@opentelemetry/api';
import { millisToHrTime } from '@opentelemetry/core';
import { AggregationTemporality, DataPointType, type MetricData, type ScopeMetrics } from '@opentelemetry/sdk-metrics';
import type { HitRateTracker } from './HitRateTracker.ts';
import type { LoadStatistics } from './statistics.ts';
import type { WorkerStats } from './statsReply.ts';
import type { ForwardPassMetrics } from '../runtime/forwardPassMetrics.ts';

export const AGGREGATOR_SCOPE = 'dynamo_metrics_aggregator';
/** Workers turned into data points between two yields to the event loop. */
export const SNAPSHOT_CHUNK_WORKERS = 250;
export const SCRAPE_DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/** The aggregator's view after a cycle. */
export interface AggregateView {
  workers: ReadonlyMap<bigint, WorkerStats>;
  stats: LoadStatistics | undefined;
}

function hrNow(): HrTime {
  return millisToHrTime(Date.now());
}

function gauge(name: string, description: string, dataPoints: MetricData['dataPoints']): MetricData {
  return {
    descriptor: { name, description, unit: '', valueType: 1 },
    dataPointType: DataPointType.GAUGE,
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPoints,
  } as MetricData;
}

function counter(name: string, description: string, dataPoints: MetricData['dataPoints']): MetricData {
  return {
    descriptor: { name, description, unit: '', valueType: 1 },
    dataPointType: DataPointType.SUM,
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    isMonotonic: true,
    dataPoints,
  } as MetricData;
}

export class AggregatorMetrics {
  private readonly startTime = hrNow();
  private readonly workerAttrs = new Map<bigint, Attributes>();
  private readonly rankAttrsOf = new Map<bigint, Map<number, Attributes>>();
  private readonly aggregateAttrs: Attributes;

  constructor(
    private readonly component: string,
    private readonly endpoint: string,
    private readonly tracker: HitRateTracker,
    private readonly view: () => AggregateView | undefined,
  ) {
    this.aggregateAttrs = { component, endpoint };
  }

  private readonly viewIds = new WeakMap<AggregateView, number>();
  private nextViewId = 1;

  /**
   * What the snapshot would be built from now: the view (each cycle installs a new one) and the
   * hit-rate totals. Unchanged, the last snapshot is served again (SnapshotProducer). Throws
   * like the view does when it cannot be vouched for.
   */
  readonly version = (): string => {
    const view = this.view();
    return view === undefined ? 'standby' : this.versionOf(view);
  };

  /** The key of `view` with the current hit-rate totals (the status page's rows follow it too). */
  versionOf(view: AggregateView): string {
    let id = this.viewIds.get(view);
    if (id === undefined) {
      id = this.nextViewId++;
      this.viewIds.set(view, id);
    }
    return `${id}:${this.tracker.accepted}`;
  }

  private attrs(id: bigint): Attributes {
    let a = this.workerAttrs.get(id);
    if (a === undefined) {
      a = { component: this.component, endpoint: this.endpoint, worker_id: id.toString() };
      this.workerAttrs.set(id, a);
    }
    return a;
  }

  /** A worker's attributes with its data-parallel rank (`dp_rank`), kept while the worker is. */
  private rankAttrs(id: bigint, rank: number): Attributes {
    let ranks = this.rankAttrsOf.get(id);
    if (ranks === undefined) {
      ranks = new Map();
      this.rankAttrsOf.set(id, ranks);
    }
    let a = ranks.get(rank);
    if (a === undefined) {
      a = { ...this.attrs(id), dp_rank: String(rank) };
      ranks.set(rank, a);
    }
    return a;
  }

  /**
   * The snapshot source: per-worker and aggregate series of the current view (none on a
   * standby), built in chunks so that thousands of workers do not stall the event loop.
   */
  readonly snapshot = async (): Promise<ScopeMetrics> => {
    const view = this.view();
    const metrics: MetricData[] = [];
    if (view !== undefined) {
      const endTime = hrNow();
      const startTime = this.startTime;
      const pts = {
        active: [] as MetricData['dataPoints'],
        total: [] as MetricData['dataPoints'],
        kvActive: [] as MetricData['dataPoints'],
        kvTotal: [] as MetricData['dataPoints'],
        waiting: [] as MetricData['dataPoints'],
        gpu: [] as MetricData['dataPoints'],
        hitPct: [] as MetricData['dataPoints'],
        isl: [] as MetricData['dataPoints'],
        overlap: [] as MetricData['dataPoints'],
      };
      const push = (list: MetricData['dataPoints'], attributes: Attributes, value: number | undefined): void => {
        if (value !== undefined)
          (list as { attributes: Attributes; startTime: HrTime; endTime: HrTime; value: number }[]).push({
            attributes,
            startTime,
            endTime,
            value,
          });
      };
      const loadPoints = (a: Attributes, m: ForwardPassMetrics): void => {
        push(pts.active, a, m.requestActiveSlots);
        push(pts.total, a, m.requestTotalSlots);
        push(pts.kvActive, a, m.kvActiveBlocks);
        push(pts.kvTotal, a, m.kvTotalBlocks);
        push(pts.waiting, a, m.numRequestsWaiting);
        push(pts.gpu, a, m.gpuCacheUsagePerc === undefined ? undefined : 100 * m.gpuCacheUsagePerc);
      };
      let n = 0;
      for (const [id, w] of view.workers) {
        if (++n % SNAPSHOT_CHUNK_WORKERS === 0) await new Promise<void>((resolve) => setImmediate(resolve));
        const a = this.attrs(id);
        // one series per data-parallel rank when the worker names its ranks
        if (w.ranks === undefined) {
          const rank = w.metrics.dataParallelRank;
          loadPoints(typeof rank === 'number' ? this.rankAttrs(id, rank) : a, w.metrics);
        } else for (const [r, m] of w.ranks) loadPoints(this.rankAttrs(id, r), m);
        const hr = this.tracker.get(id);
        if (hr !== undefined) {
          push(pts.isl, a, hr.islBlocks);
          push(pts.overlap, a, hr.overlapBlocks);
          push(pts.hitPct, a, hr.islBlocks > 0 ? (100 * hr.overlapBlocks) / hr.islBlocks : undefined);
        }
      }
      // forget attribute objects of departed workers
      if (this.workerAttrs.size > view.workers.size) {
        for (const id of this.workerAttrs.keys()) if (!view.workers.has(id)) this.workerAttrs.delete(id);
      }
      if (this.rankAttrsOf.size > 0) for (const id of this.rankAttrsOf.keys()) if (!view.workers.has(id)) this.rankAttrsOf.delete(id);
      const add = (m: MetricData): void => {
        if (m.dataPoints.length > 0) metrics.push(m);
      };
      add(gauge('llm_requests_active_slots', 'Number of currently active request slots per worker', pts.active));
      add(gauge('llm_requests_total_slots', 'Total available request slots per worker', pts.total));
      add(gauge('llm_kv_blocks_active', 'Active KV cache blocks', pts.kvActive));
      add(gauge('llm_kv_blocks_total', 'Total KV cache blocks', pts.kvTotal));
      add(gauge('llm_requests_waiting', 'Number of requests waiting per worker', pts.waiting));
      add(gauge('llm_gpu_cache_usage_percent', 'GPU KV cache usage percent per worker', pts.gpu));
      add(gauge('llm_kv_hit_rate_percent', 'Cumulative KV Cache hit percent per worker', pts.hitPct));
      add(counter('llm_kv_hit_rate_isl_blocks_total', 'Cumulative count of ISL blocks in KV hit rate events', pts.isl));
      add(counter('llm_kv_hit_rate_overlap_blocks_total', 'Cumulative count of overlapping blocks in KV hit rate events', pts.overlap));
      if (view.stats !== undefined) {
        add(
          gauge('llm_load_avg', 'Average load across workers', [
            { attributes: this.aggregateAttrs, startTime, endTime, value: view.stats.avg },
          ]),
        );
        add(
          gauge('llm_load_std', 'Load standard deviation across workers', [
            { attributes: this.aggregateAttrs, startTime, endTime, value: view.stats.std },
          ]),
        );
      }
    }
    return { scope: { name: AGGREGATOR_SCOPE }, metrics };
  };
}

/** The bridge's own health as plain numbers, observed at collection (§3). */
export class AggregatorHealth {
  workers = 0;
  /** Workers of the latest view kept from an earlier cycle (they did not answer this one). */
  workersMissing = 0;
  /** Workers that left the view, by reason (`deregistered`, `missed_cycles`). */
  readonly workersDropped = new Map<string, number>();
  leader = false;
  cycles = 0;
  lastCycleUnixSeconds: number | undefined;
  /** Duration of the latest cycle. */
  lastCycleMs: number | undefined;
  etcdReachable = true;
  natsConnected = true;
  /** Aggregates not published, by reason (`error`). */
  readonly publishFailures = new Map<string, number>();
  /** Aggregates published, by form (`plain`, `gzip`, `parts`). */
  readonly published = new Map<string, number>();
  readonly statsRejected = new Map<string, number>();
  /** Load events (`kv_metrics`) accepted (the refused are the event intake's). */
  loadEventsAccepted = 0;
  private readonly reasonAttrs = new Map<string, Attributes>();
  /** The target's `component` and `endpoint`, on every series (`observeWith`). */
  private targetAttrs: Attributes = {};
  recordScrapeDuration: (seconds: number) => void = () => undefined;

  constructor(
    private readonly tracker: HitRateTracker,
    /** Whether the worker series are exported now (see `Aggregator.viewCurrent`). */
    private readonly viewCurrent: () => boolean = () => false,
  ) {}

  dropWorker(reason: string): void {
    this.workersDropped.set(reason, (this.workersDropped.get(reason) ?? 0) + 1);
  }

  rejectStats(reason: string, n = 1): void {
    this.statsRejected.set(reason, (this.statsRejected.get(reason) ?? 0) + n);
  }

  /** The target's attributes with `{ [name]: value }`, built once per pair (observed at every collection). */
  private attr(name: 'reason' | 'form', value: string): Attributes {
    const key = `${name}=${value}`;
    let a = this.reasonAttrs.get(key);
    if (a === undefined) {
      a = { ...this.targetAttrs, [name]: value };
      this.reasonAttrs.set(key, a);
    }
    return a;
  }

  private reason(r: string): Attributes {
    return this.attr('reason', r);
  }

  /**
   * Observes the health on `meter`, every series with `attrs` (the target's `component` and
   * `endpoint`): several targets of one process observe the same instruments, each its own series.
   */
  observeWith(meter: Meter, attrs: Attributes = {}): void {
    this.targetAttrs = attrs;
    this.reasonAttrs.clear();
    const t = attrs;
    const workers = meter.createObservableGauge('dynamo_metrics_workers', { description: 'Workers seen in the latest scrape cycle' });
    const leader = meter.createObservableGauge('dynamo_metrics_leader', {
      description: 'Whether this instance is the leader for its target (1) or a standby (0)',
    });
    const cycles = meter.createObservableCounter('dynamo_metrics_scrape_cycles_total', { description: 'Scrape cycles completed' });
    const lastCycle = meter.createObservableGauge('dynamo_metrics_last_scrape_timestamp_seconds', {
      description: 'Unix time of the latest completed scrape cycle',
    });
    const statsRejected = meter.createObservableCounter('dynamo_metrics_stats_rejected_total', {
      description: 'Stats replies and endpoints rejected, by reason',
    });
    const eventsAccepted = meter.createObservableCounter('dynamo_metrics_events_total', { description: 'KV hit-rate events accepted' });
    const loadAccepted = meter.createObservableCounter('dynamo_metrics_load_events_total', {
      description: 'Load events (kv_metrics: LoadEvent, ActiveLoad) accepted',
    });
    const dropped = meter.createObservableCounter('dynamo_metrics_hit_rate_workers_dropped_total', {
      description: 'Workers dropped from hit-rate tracking to keep it within its cap',
    });
    const tracked = meter.createObservableGauge('dynamo_metrics_hit_rate_workers_tracked', {
      description: 'Workers whose hit-rate totals are tracked',
    });
    const etcd = meter.createObservableGauge('dynamo_metrics_etcd_reachable', {
      description:
        'Whether the latest etcd operation succeeded (1) or not (0); while 0 the instance list used to end cycles early is the last good one',
    });
    const nats = meter.createObservableGauge('dynamo_metrics_nats_connected', {
      description: 'Whether the NATS connection is up (1) or not (0); while 0 worker stats are not exported',
    });
    const current = meter.createObservableGauge('dynamo_metrics_view_current', {
      description:
        'Whether the worker series are exported (1: leading with a current view) or not (0: standby, NATS disconnected, or the latest scrape cycle too old)',
    });
    const missing = meter.createObservableGauge('dynamo_metrics_workers_missing', {
      description: 'Workers in the latest view that did not answer its cycle (their previous stats kept, up to --max-missed-cycles)',
    });
    const workersDropped = meter.createObservableCounter('dynamo_metrics_workers_dropped_total', {
      description: 'Workers that left the view, by reason (deregistered in etcd, missed_cycles)',
    });
    const published = meter.createObservableCounter('dynamo_metrics_aggregates_published_total', {
      description:
        'Aggregates (ProcessedEndpoints) published on NATS, by form: plain (as is), gzip (above max_payload), parts (gzipped parts)',
    });
    const publishFailures = meter.createObservableCounter('dynamo_metrics_publish_failures_total', {
      description: 'Aggregates (ProcessedEndpoints) not published on NATS, by reason',
    });
    meter.addBatchObservableCallback(
      (r) => {
        r.observe(workers, this.workers, t);
        r.observe(leader, this.leader ? 1 : 0, t);
        r.observe(cycles, this.cycles, t);
        if (this.lastCycleUnixSeconds !== undefined) r.observe(lastCycle, this.lastCycleUnixSeconds, t);
        for (const [reason, n] of this.statsRejected) r.observe(statsRejected, n, this.reason(reason));
        r.observe(eventsAccepted, this.tracker.accepted, t);
        r.observe(loadAccepted, this.loadEventsAccepted, t);
        r.observe(dropped, this.tracker.dropped, t);
        r.observe(tracked, this.tracker.size, t);
        r.observe(etcd, this.etcdReachable ? 1 : 0, t);
        r.observe(nats, this.natsConnected ? 1 : 0, t);
        r.observe(current, this.viewCurrent() ? 1 : 0, t);
        for (const [reason, n] of this.publishFailures) r.observe(publishFailures, n, this.reason(reason));
        r.observe(missing, this.workersMissing, t);
        for (const [form, n] of this.published) r.observe(published, n, this.attr('form', form));
        for (const [reason, n] of this.workersDropped) r.observe(workersDropped, n, this.reason(reason));
      },
      [
        published,
        current,
        missing,
        workersDropped,
        workers,
        leader,
        cycles,
        lastCycle,
        statsRejected,
        eventsAccepted,
        loadAccepted,
        dropped,
        tracked,
        etcd,
        nats,
        publishFailures,
      ],
    );
    const hist = meter.createHistogram('dynamo_metrics_scrape_duration_seconds', {
      description: 'Time of one scrape cycle, from request to updated snapshot',
      unit: 's',
      advice: { explicitBucketBoundaries: SCRAPE_DURATION_BUCKETS },
    });
    this.recordScrapeDuration = (s) => hist.record(s, t);
  }
}
