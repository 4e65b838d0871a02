/**
 * A MetricProducer that every reader of the pipeline consults at each collection. Sources hand
 * it the current snapshot of their metrics as ready-made metric data, so nothing is kept in the
 * SDK between collections: a series that is absent from the snapshot is gone from every
 * exporter at the next collection, and memory follows the live set. (The SDK's observable
 * gauges keep every attribute set they ever saw under cumulative temporality.)
 *
 * Sources report cumulative sums and histograms; a reader that asks for delta temporality gets
 * its own view (`forTemporality`) that turns them into deltas. A series that misses collections
 * (a worker that missed a scrape, NATS down) keeps its baseline for `DELTA_BASELINE_MAX_AGE_MS`,
 * so its return sends only what is new, not its whole total again.
 *
 * One collection per view: a source may say what version of its data it holds (`version`).
 * While that version is unchanged, every reader (each scrape, each push) gets the very same
 * `ScopeMetrics` object, built once; concurrent collections share one in-flight build whether
 * or not the source is versioned. Memory therefore does not grow with the number of concurrent
 * scrapes, and the Prometheus server can keep the rendered text of an unchanged snapshot
 * (`isSnapshotScope` tells it which scopes are such snapshots).
 */
import type { HrTime } from '@opentelemetry/api';
import { millisToHrTime } from '@opentelemetry/core';
import { emptyResource } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  DataPointType,
  InstrumentType,
  type CollectionResult,
  type DataPoint,
  type MetricCollectOptions,
  type MetricData,
  type MetricProducer,
  type ScopeMetrics,
} from '@opentelemetry/sdk-metrics';
import { attributesKey, subtractValue, type PointValue } from './pointArithmetic.ts';

/**
 * Returns the source's metrics as they are now (a large source may build them asynchronously,
 * yielding to the event loop). Called once per collection per reader; a throw or rejection
 * makes that collection fail.
 */
export type SnapshotSource = (ctx: SnapshotContext) => ScopeMetrics | Promise<ScopeMetrics>;

/** What the reader asking for a snapshot wants. */
export interface SnapshotContext {
  /** The reader aggregates histograms as base-2 exponential histograms (OTLP, when configured). */
  exponentialHistograms: boolean;
}

const DEFAULT_CONTEXT: SnapshotContext = { exponentialHistograms: false };

export type TemporalitySelector = (instrumentType: InstrumentType) => AggregationTemporality;

export interface SnapshotSourceOptions {
  /**
   * The version of the data the source would build now (compared with `===`). While it is
   * unchanged the last snapshot is handed out again without calling the source. It may throw
   * (a view that cannot be vouched for): that collection then fails like a throwing source.
   */
  version?: () => unknown;
}

interface Built {
  version: unknown;
  promise: Promise<ScopeMetrics>;
  settled: boolean;
}

interface Entry {
  source: SnapshotSource;
  version: (() => unknown) | undefined;
  /** The latest build per reader context (`ctxKey`). */
  built: Map<string, Built>;
}

/** No version: every collection builds, but concurrent ones share the build in flight. */
const UNVERSIONED = Symbol('unversioned');

const snapshotScopes = new WeakSet<ScopeMetrics>();

/** Whether `sm` was built by a snapshot source (so it is the same object while its version holds). */
export function isSnapshotScope(sm: ScopeMetrics): boolean {
  return snapshotScopes.has(sm);
}

function ctxKey(ctx: SnapshotContext): string {
  return ctx.exponentialHistograms ? 'exp' : 'explicit';
}

export class SnapshotProducer implements MetricProducer {
  private readonly sources = new Set<Entry>();

  /** Adds a source; returns a function that removes it. */
  add(source: SnapshotSource, opts: SnapshotSourceOptions = {}): () => void {
    const entry: Entry = { source, version: opts.version, built: new Map() };
    this.sources.add(entry);
    return () => this.sources.delete(entry);
  }

  async collect(_options?: MetricCollectOptions, ctx: SnapshotContext = DEFAULT_CONTEXT): Promise<CollectionResult> {
    const scopeMetrics: ScopeMetrics[] = [];
    const errors: unknown[] = [];
    for (const entry of this.sources) {
      try {
        scopeMetrics.push(await this.snapshotOf(entry, ctx));
      } catch (err) {
        errors.push(err);
      }
    }
    return { resourceMetrics: { resource: emptyResource(), scopeMetrics }, errors };
  }

  /** The source's snapshot for `ctx`: the last one while its version holds, else one shared build. */
  private snapshotOf(entry: Entry, ctx: SnapshotContext): Promise<ScopeMetrics> {
    const key = ctxKey(ctx);
    const version = entry.version === undefined ? UNVERSIONED : entry.version();
    const last = entry.built.get(key);
    // a build in flight is joined whatever the version (it started moments ago); a finished one
    // is handed out again while the source's version is unchanged
    if (last !== undefined && (!last.settled || (version !== UNVERSIONED && last.version === version))) return last.promise;
    const built: Built = { version, promise: Promise.resolve().then(() => entry.source(ctx)), settled: false };
    entry.built.set(key, built);
    built.promise.then(
      (sm) => {
        built.settled = true;
        snapshotScopes.add(sm);
      },
      () => {
        // a failed build is not kept: the next collection tries again
        if (entry.built.get(key) === built) entry.built.delete(key);
      },
    );
    return built.promise;
  }

  /** The producer a reader with temporality `select` (and exponential histograms or not) should use. */
  forReader(select: TemporalitySelector, exponentialHistograms = false): MetricProducer {
    const ctx: SnapshotContext = { exponentialHistograms };
    const wantsDelta =
      select(InstrumentType.COUNTER) === AggregationTemporality.DELTA || select(InstrumentType.HISTOGRAM) === AggregationTemporality.DELTA;
    if (wantsDelta) return new DeltaView(this, select, ctx);
    return exponentialHistograms ? { collect: (options) => this.collect(options, ctx) } : this;
  }
}

/** How long the baseline of a series absent from collections is kept. */
export const DELTA_BASELINE_MAX_AGE_MS = 15 * 60_000;
/** The most baselines one delta view keeps (the least recently seen go first). */
export const DELTA_BASELINE_MAX_SERIES = 200_000;

interface Previous {
  endTime: HrTime;
  value: PointValue;
  /** When the series was last present (ms). */
  seenAt: number;
}

/** `p` as the interval from the previous collection to this one, holding `value`. */
function since<T>(p: DataPoint<T>, prev: Previous, endTime: HrTime, value: T): DataPoint<T> {
  return { ...p, startTime: prev.endTime, endTime, value };
}

/** Cumulative → delta for one reader, with a bounded baseline per series. */
class DeltaView implements MetricProducer {
  private readonly state = new Map<string, Map<string, Previous>>();
  private size = 0;

  constructor(
    private readonly inner: SnapshotProducer,
    private readonly select: TemporalitySelector,
    private readonly ctx: SnapshotContext,
  ) {}

  async collect(options?: MetricCollectOptions): Promise<CollectionResult> {
    const res = await this.inner.collect(options, this.ctx);
    const now = Date.now();
    // deltas end at this collection: a snapshot shared across collections keeps its build time
    const endTime = millisToHrTime(now);
    const scopeMetrics = res.resourceMetrics.scopeMetrics.map((sm) => ({
      ...sm,
      metrics: sm.metrics.map((m) => this.convert(sm.scope.name, m, now, endTime)),
    }));
    this.evict(now);
    return { resourceMetrics: { ...res.resourceMetrics, scopeMetrics }, errors: res.errors };
  }

  /** Drops baselines unseen for too long, then the least recently seen beyond the bound. */
  private evict(now: number): void {
    const all: [Map<string, Previous>, string, number][] = [];
    for (const [id, series] of this.state) {
      for (const [k, prev] of series) {
        if (now - prev.seenAt > DELTA_BASELINE_MAX_AGE_MS) {
          series.delete(k);
          this.size--;
        } else if (this.size > DELTA_BASELINE_MAX_SERIES) all.push([series, k, prev.seenAt]);
      }
      if (series.size === 0) this.state.delete(id);
    }
    if (this.size <= DELTA_BASELINE_MAX_SERIES) return;
    all.sort((a, b) => a[2] - b[2]);
    for (const [series, k] of all.slice(0, this.size - DELTA_BASELINE_MAX_SERIES)) {
      series.delete(k);
      this.size--;
    }
  }

  private convert(scope: string, m: MetricData, now: number, endTime: HrTime): MetricData {
    if (m.aggregationTemporality !== AggregationTemporality.CUMULATIVE) return m;
    const isCounter = m.dataPointType === DataPointType.SUM && m.isMonotonic;
    const isHistogram = m.dataPointType === DataPointType.HISTOGRAM || m.dataPointType === DataPointType.EXPONENTIAL_HISTOGRAM;
    if (isCounter && this.select(InstrumentType.COUNTER) !== AggregationTemporality.DELTA) return m;
    if (isHistogram && this.select(InstrumentType.HISTOGRAM) !== AggregationTemporality.DELTA) return m;
    if (!isCounter && !isHistogram) return m;
    const id = `${scope}\u0000${m.descriptor.name}`;
    let series = this.state.get(id);
    if (series === undefined) {
      series = new Map<string, Previous>();
      this.state.set(id, series);
    }
    const dataPoints = (m.dataPoints as DataPoint<PointValue>[]).map((p) => {
      const k = attributesKey(p.attributes);
      const prev = series.get(k);
      if (prev === undefined) this.size++;
      series.set(k, { endTime, value: p.value, seenAt: now });
      if (prev === undefined) return p;
      // a lower cumulative value (the source restarted) or a new layout: the whole value is new
      const delta = subtractValue(p.value, prev.value);
      return delta === undefined ? p : since(p, prev, endTime, delta);
    });
    return { ...m, aggregationTemporality: AggregationTemporality.DELTA, dataPoints } as MetricData;
  }
}
