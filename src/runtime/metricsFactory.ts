/**
 * The custom-metrics interface the runtime hands to service authors on every namespace,
 * component and endpoint (`endpoint.metrics.counter(...)`). The runtime only declares it; an
 * instrumentation plugged into the runtime implements it (`instrumentation/` does so with OTel
 * instruments). Without one, every metric is a no-op, as the OTel API's no-op meter is.
 */

/** Extra label values of one recording; the names must be declared when the metric is made. */
export type MetricLabels = Readonly<Record<string, string | number | boolean>>;

export interface MetricOptions {
  description: string;
  /** Extra label names this metric may be given when recording. */
  labels?: readonly string[];
  unit?: string;
}

export interface HistogramMetricOptions extends MetricOptions {
  /** Bucket upper bounds. @default the instrumentation's defaults */
  buckets?: readonly number[];
}

export interface CounterMetric {
  add(value: number, labels?: MetricLabels): void;
}

export interface GaugeMetric {
  set(value: number, labels?: MetricLabels): void;
}

export interface HistogramMetric {
  record(value: number, labels?: MetricLabels): void;
}

/** A gauge read at every collection; `stop()` removes its callback. */
export interface ObservedGauge {
  stop(): void;
}

export type ObserveCallback = (observe: (value: number, labels?: MetricLabels) => void) => void;

/** Which level of the hierarchy a metrics factory labels its metrics with. */
export interface MetricsScope {
  readonly namespace: string;
  readonly component?: string;
  readonly endpoint?: string;
}

/**
 * Hands out custom metrics for one level of the hierarchy. Creating a metric with a bad name
 * throws a `UsageError`; recording never throws (a bad label is dropped with a warning).
 */
export interface MetricsFactory {
  counter(name: string, opts: MetricOptions): CounterMetric;
  upDownCounter(name: string, opts: MetricOptions): CounterMetric;
  gauge(name: string, opts: MetricOptions): GaugeMetric;
  histogram(name: string, opts: HistogramMetricOptions): HistogramMetric;
  observableGauge(name: string, opts: MetricOptions, callback: ObserveCallback): ObservedGauge;
}

const NOOP_COUNTER: CounterMetric = { add() {} };
const NOOP_GAUGE: GaugeMetric = { set() {} };
const NOOP_HISTOGRAM: HistogramMetric = { record() {} };
const NOOP_OBSERVED: ObservedGauge = { stop() {} };

/** What a runtime without instrumentation hands out. */
export const NOOP_METRICS_FACTORY: MetricsFactory = {
  counter: () => NOOP_COUNTER,
  upDownCounter: () => NOOP_COUNTER,
  gauge: () => NOOP_GAUGE,
  histogram: () => NOOP_HISTOGRAM,
  observableGauge: () => NOOP_OBSERVED,
};
