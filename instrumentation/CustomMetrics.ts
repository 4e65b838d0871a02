/**
 * Custom metrics for service authors: counters, up-down counters, gauges (synchronous and
 * observable) and histograms, named with the `dynamo_component_` prefix and carrying the labels
 * of the namespace, component or endpoint they come from, plus declared extra labels.
 *
 *   const bytes = endpoint.metrics.counter('bytes_processed_total', {
 *     description: 'Example of a custom metric. Total number of data bytes processed by system handler',
 *   });
 *   bytes.add(payload.length);
 *
 * They are OTel instruments on the `dynamo_component` meter of the process's MeterProvider. The
 * provider is looked up when the metric is used, so metrics created before the exporter
 * pipeline exists start reporting once it does.
 */
import {
  metrics,
  type Attributes,
  type Counter,
  type Gauge,
  type Histogram,
  type Meter,
  type MeterProvider,
  type UpDownCounter,
} from '@opentelemetry/api';
import { UsageError } from '../src/errors.ts';
import { getLogger } from '../src/log.ts';
import type {
  CounterMetric,
  GaugeMetric,
  HistogramMetric,
  HistogramMetricOptions,
  MetricLabels,
  MetricOptions,
  MetricsFactory,
  ObserveCallback,
  ObservedGauge,
} from '../src/runtime/metricsFactory.ts';
import { COMPONENT_METER_NAME } from './EndpointMetrics.ts';

const log = getLogger('metrics');

export const CUSTOM_METRIC_PREFIX = 'dynamo_component_';
/** Labels the runtime sets itself, or that Prometheus reserves. */
export const RESERVED_LABELS: readonly string[] = [
  'dynamo_namespace',
  'dynamo_component',
  'dynamo_endpoint',
  'le',
  'quantile',
  'job',
  'instance',
  '__name__',
];

const NAME_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

type Labeller = (l?: MetricLabels) => Attributes | undefined;

/** Resolves an instrument from the current global MeterProvider, again whenever it changes. */
class Lazy<T> {
  private provider: MeterProvider | undefined;
  private instrument: T | undefined;
  constructor(private readonly make: (meter: Meter) => T) {}
  get(): T {
    const p = metrics.getMeterProvider();
    if (p !== this.provider || this.instrument === undefined) {
      this.provider = p;
      this.instrument = this.make(p.getMeter(COMPONENT_METER_NAME));
    }
    return this.instrument;
  }
}

/**
 * What every custom metric does with a value: label it, and hand it to the OTel instrument of
 * the current provider. A labeller answers undefined for labels it refused (and warned about):
 * the value is dropped, as OTel instruments drop a bad value instead of throwing into the caller.
 */
class Recorder<I> {
  constructor(
    private readonly inst: Lazy<I>,
    private readonly labels: Labeller,
    private readonly write: (inst: I, value: number, attributes: Attributes) => void,
  ) {}
  protected put(value: number, labels: MetricLabels | undefined): void {
    const attributes = this.labels(labels);
    if (attributes !== undefined) this.write(this.inst.get(), value, attributes);
  }
}

const add = (i: Counter | UpDownCounter, v: number, a: Attributes): void => i.add(v, a);
const record = (i: Gauge | Histogram, v: number, a: Attributes): void => i.record(v, a);

export class CustomCounter extends Recorder<Counter> implements CounterMetric {
  add(value: number, labels?: MetricLabels): void {
    this.put(value, labels);
  }
}

export class CustomUpDownCounter extends Recorder<UpDownCounter> implements CounterMetric {
  add(value: number, labels?: MetricLabels): void {
    this.put(value, labels);
  }
}

export class CustomGauge extends Recorder<Gauge> implements GaugeMetric {
  set(value: number, labels?: MetricLabels): void {
    this.put(value, labels);
  }
}

export class CustomHistogram extends Recorder<Histogram> implements HistogramMetric {
  record(value: number, labels?: MetricLabels): void {
    this.put(value, labels);
  }
}

/** The OTel instrument options of `opts`: its description, and its unit when it has one. */
function instrumentOptions(opts: MetricOptions): { description: string; unit?: string } {
  return opts.unit === undefined ? { description: opts.description } : { description: opts.description, unit: opts.unit };
}

/** Hands out custom metrics labelled with one level of the hierarchy. */
export class MetricsRegistry implements MetricsFactory {
  constructor(readonly baseLabels: Readonly<Attributes>) {}

  counter(name: string, opts: MetricOptions): CustomCounter {
    const full = this.name(name, true);
    return new CustomCounter(new Lazy((m) => m.createCounter(full, instrumentOptions(opts))), this.labeller(full, opts), add);
  }

  upDownCounter(name: string, opts: MetricOptions): CustomUpDownCounter {
    const full = this.name(name, false);
    return new CustomUpDownCounter(new Lazy((m) => m.createUpDownCounter(full, instrumentOptions(opts))), this.labeller(full, opts), add);
  }

  gauge(name: string, opts: MetricOptions): CustomGauge {
    const full = this.name(name, false);
    return new CustomGauge(new Lazy((m) => m.createGauge(full, instrumentOptions(opts))), this.labeller(full, opts), record);
  }

  histogram(name: string, opts: HistogramMetricOptions): CustomHistogram {
    const full = this.name(name, false);
    const advice = opts.buckets ? { explicitBucketBoundaries: [...opts.buckets] } : undefined;
    return new CustomHistogram(
      new Lazy((m) => m.createHistogram(full, { ...instrumentOptions(opts), ...(advice === undefined ? {} : { advice }) })),
      this.labeller(full, opts),
      record,
    );
  }

  /**
   * A gauge read at every collection: `callback(observe)` calls `observe(value, labels?)` for each
   * series. Registered on the provider current at the time of the call.
   */
  observableGauge(name: string, opts: MetricOptions, callback: ObserveCallback): ObservedGauge {
    const full = this.name(name, false);
    const labels = this.labeller(full, opts);
    const g = metrics.getMeter(COMPONENT_METER_NAME).createObservableGauge(full, instrumentOptions(opts));
    const cb = (r: { observe(value: number, attributes?: Attributes): void }): void =>
      callback((value, l) => {
        const attributes = labels(l);
        if (attributes !== undefined) r.observe(value, attributes);
      });
    g.addCallback(cb);
    return { stop: () => g.removeCallback(cb) };
  }

  private name(name: string, counter: boolean): string {
    if (!NAME_RE.test(name)) throw new UsageError(`invalid metric name ${JSON.stringify(name)}: use [a-zA-Z_][a-zA-Z0-9_]*`);
    let full = name.startsWith(CUSTOM_METRIC_PREFIX) ? name : `${CUSTOM_METRIC_PREFIX}${name}`;
    // Prometheus shows counters with _total; the OTel name carries it too so both paths match.
    if (counter && !full.endsWith('_total')) full += '_total';
    return full;
  }

  private labeller(metric: string, opts: MetricOptions): Labeller {
    const declared = new Set(opts.labels ?? []);
    for (const l of declared) {
      if (!NAME_RE.test(l) || l.startsWith('__')) throw new UsageError(`metric ${metric}: invalid label name ${JSON.stringify(l)}`);
      if (RESERVED_LABELS.includes(l))
        throw new UsageError(
          `metric ${metric}: label ${JSON.stringify(l)} is reserved (set by the runtime or by Prometheus); choose another name`,
        );
    }
    const base = this.baseLabels;
    return (l) => {
      if (l === undefined) return base;
      for (const k in l) {
        if (!declared.has(k)) {
          log.rateLimited(
            'warn',
            `undeclared-${metric}`,
            'value dropped: label not declared; declare it in labels: [...] when creating the metric',
            { metric, label: k },
          );
          return undefined;
        }
      }
      return { ...base, ...l };
    };
  }
}
