/**
 * A MetricProducer that every reader of the pipeline consults at each collection. Sources hand
 * it the current snapshot of their metrics as ready-made metric data, so nothing is kept in the
 * SDK between collections: a series that is absent from the snapshot is gone from every
 * exporter at the next collection, and memory follows the live set. (The SDK's observable
 * gauges keep every attribute set they ever saw under cumulative temporality.)
 *
 * Sources report cumulative sums and histograms; a reader that asks for delta temporality gets
 * its own view (`forTemporality`) that turns them into deltas, remembering only the live series.
 */
import type { Attributes, HrTime } from '@opentelemetry/api';
import { emptyResource } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  DataPointType,
  InstrumentType,
  type CollectionResult,
  type DataPoint,
  type Histogram,
  type MetricCollectOptions,
  type MetricData,
  type MetricProducer,
  type ScopeMetrics,
} from '@opentelemetry/sdk-metrics';

/**
 * Returns the source's metrics as they are now (a large source may build them asynchronously,
 * yielding to the event loop). Called once per collection per reader; a throw or rejection
 * makes that collection fail.
 */
export type SnapshotSource = () => ScopeMetrics | Promise<ScopeMetrics>;

export type TemporalitySelector = (instrumentType: InstrumentType) => AggregationTemporality;

export class SnapshotProducer implements MetricProducer {
  private readonly sources = new Set<SnapshotSource>();

  /** Adds a source; returns a function that removes it. */
  add(source: SnapshotSource): () => void {
    this.sources.add(source);
    return () => this.sources.delete(source);
  }

  async collect(_options?: MetricCollectOptions): Promise<CollectionResult> {
    const scopeMetrics: ScopeMetrics[] = [];
    const errors: unknown[] = [];
    for (const source of this.sources) {
      try {
        scopeMetrics.push(await source());
      } catch (err) {
        errors.push(err);
      }
    }
    return { resourceMetrics: { resource: emptyResource(), scopeMetrics }, errors };
  }

  /** The producer a reader with temporality `select` should use. */
  forTemporality(select: TemporalitySelector): MetricProducer {
    const wantsDelta = select(InstrumentType.COUNTER) === AggregationTemporality.DELTA || select(InstrumentType.HISTOGRAM) === AggregationTemporality.DELTA;
    return wantsDelta ? new DeltaView(this, select) : this;
  }
}

interface Previous {
  endTime: HrTime;
  value: number | Histogram;
}

function key(attrs: Attributes): string {
  return JSON.stringify(attrs);
}

/** Cumulative → delta for one reader; state is kept for the series of the last collection only. */
class DeltaView implements MetricProducer {
  private state = new Map<string, Map<string, Previous>>();

  constructor(
    private readonly inner: SnapshotProducer,
    private readonly select: TemporalitySelector,
  ) {}

  async collect(options?: MetricCollectOptions): Promise<CollectionResult> {
    const res = await this.inner.collect(options);
    const next = new Map<string, Map<string, Previous>>();
    const scopeMetrics = res.resourceMetrics.scopeMetrics.map((sm) => ({
      ...sm,
      metrics: sm.metrics.map((m) => this.convert(sm.scope.name, m, next)),
    }));
    this.state = next;
    return { resourceMetrics: { ...res.resourceMetrics, scopeMetrics }, errors: res.errors };
  }

  private convert(scope: string, m: MetricData, next: Map<string, Map<string, Previous>>): MetricData {
    if (m.aggregationTemporality !== AggregationTemporality.CUMULATIVE) return m;
    const isCounter = m.dataPointType === DataPointType.SUM && m.isMonotonic;
    const isHistogram = m.dataPointType === DataPointType.HISTOGRAM;
    if (isCounter && this.select(InstrumentType.COUNTER) !== AggregationTemporality.DELTA) return m;
    if (isHistogram && this.select(InstrumentType.HISTOGRAM) !== AggregationTemporality.DELTA) return m;
    if (!isCounter && !isHistogram) return m;
    const id = `${scope}\u0000${m.descriptor.name}`;
    const prevSeries = this.state.get(id);
    const nextSeries = new Map<string, Previous>();
    next.set(id, nextSeries);
    const dataPoints = (m.dataPoints as DataPoint<number | Histogram>[]).map((p) => {
      const k = key(p.attributes);
      nextSeries.set(k, { endTime: p.endTime, value: p.value });
      const prev = prevSeries?.get(k);
      if (prev === undefined) return p;
      if (typeof p.value === 'number') {
        const prevValue = prev.value as number;
        // a lower cumulative value means the source restarted: the whole value is new
        return p.value < prevValue ? p : { ...p, startTime: prev.endTime, value: p.value - prevValue };
      }
      const h = p.value;
      const ph = prev.value as Histogram;
      if (h.count < ph.count || h.buckets.counts.length !== ph.buckets.counts.length) return p;
      return {
        ...p,
        startTime: prev.endTime,
        value: {
          ...h,
          count: h.count - ph.count,
          sum: (h.sum ?? 0) - (ph.sum ?? 0),
          min: undefined,
          max: undefined,
          buckets: { boundaries: h.buckets.boundaries, counts: h.buckets.counts.map((c, i) => c - (ph.buckets.counts[i] ?? 0)) },
        },
      };
    });
    return { ...m, aggregationTemporality: AggregationTemporality.DELTA, dataPoints } as MetricData;
  }
}
