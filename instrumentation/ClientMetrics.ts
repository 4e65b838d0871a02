/**
 * The client side of each endpoint (docs/metrics.md §1, "Client side"): requests sent, their
 * duration to the end of the response, and failures by type, with the endpoint's `dynamo_*`
 * labels. Plain numbers bumped on the request path and read at collection, like the endpoint
 * metrics; the histogram uses the process's duration bucket layout.
 */
import type { Attributes, HrTime, Meter } from '@opentelemetry/api';
import { millisToHrTime } from '@opentelemetry/core';
import type { ScopeMetrics } from '@opentelemetry/sdk-metrics';
import type { MetricsPipeline } from '../src/export/MetricsPipeline.ts';
import { CLIENT_ERROR_TYPES, type ClientErrorType, type ClientObserver, type EndpointIdentity } from '../src/runtime/observer.ts';
import { scopeAttributes } from './labels.ts';
import { FixedHistogram, histogramMetric } from '../src/export/fixedHistogram.ts';
import { processEndpointMetrics } from './EndpointMetrics.ts';

export const CLIENT_METER_NAME = 'dynamo_client';

export const CLIENT_METRIC_NAMES = {
  requests: 'dynamo_client_requests_total',
  errors: 'dynamo_client_errors_total',
  duration: 'dynamo_client_request_duration_seconds',
} as const;

export const CLIENT_METRIC_HELP = {
  requests: 'Total number of requests sent by clients of the endpoint',
  errors: 'Total number of client requests that failed, by error_type',
  duration: 'Time from sending a request to the end of its response, on the client',
} as const;

/** One endpoint's client counters. */
export class ClientStats implements ClientObserver {
  requests = 0;
  readonly errors = new Float64Array(CLIENT_ERROR_TYPES.length);
  readonly duration: FixedHistogram;
  readonly attributes: Attributes;
  readonly errorAttributes: Attributes[];

  constructor(identity: EndpointIdentity, bounds: readonly number[]) {
    this.attributes = scopeAttributes(identity);
    this.errorAttributes = CLIENT_ERROR_TYPES.map((t) => ({ ...this.attributes, error_type: t }));
    this.duration = new FixedHistogram(bounds);
  }

  requestSent(): void {
    this.requests++;
  }

  requestEnded(seconds: number, error: ClientErrorType | undefined): void {
    this.duration.record(seconds);
    // biome-ignore lint/style/noNonNullAssertion: indexOf of a ClientErrorType in the table the type is made from is never -1
    if (error !== undefined) this.errors[CLIENT_ERROR_TYPES.indexOf(error)]!++;
  }
}

/** Every endpoint the process's clients talk to. */
export class ClientMetrics {
  private readonly stats = new Map<string, ClientStats>();
  private readonly attached = new WeakSet<MetricsPipeline>();
  private readonly startTime: HrTime = millisToHrTime(Date.now());

  constructor(private readonly bounds: () => readonly number[]) {}

  /** The observer of one endpoint's clients (a `ClientObserverFactory`). */
  readonly observer = (id: EndpointIdentity): ClientStats => {
    const key = `${id.namespace}\u0000${id.component}\u0000${id.endpoint}`;
    let s = this.stats.get(key);
    if (s === undefined) {
      s = new ClientStats(id, this.bounds());
      this.stats.set(key, s);
    }
    return s;
  };

  attach(pipeline: MetricsPipeline): void {
    if (this.attached.has(pipeline)) return;
    this.attached.add(pipeline);
    this.observeWith(pipeline.meter(CLIENT_METER_NAME));
    pipeline.snapshots.add(() => this.durationSnapshot());
  }

  private observeWith(meter: Meter): void {
    const requests = meter.createObservableCounter(CLIENT_METRIC_NAMES.requests, { description: CLIENT_METRIC_HELP.requests });
    const errors = meter.createObservableCounter(CLIENT_METRIC_NAMES.errors, { description: CLIENT_METRIC_HELP.errors });
    meter.addBatchObservableCallback(
      (r) => {
        for (const s of this.stats.values()) {
          r.observe(requests, s.requests, s.attributes);
          for (const [i, n] of s.errors.entries()) if (n > 0) r.observe(errors, n, s.errorAttributes[i]);
        }
      },
      [requests, errors],
    );
  }

  durationSnapshot(): ScopeMetrics {
    const m = histogramMetric(
      CLIENT_METRIC_NAMES.duration,
      CLIENT_METRIC_HELP.duration,
      's',
      [...this.stats.values()].map((s) => ({ attributes: s.attributes, h: s.duration })),
      this.startTime,
      millisToHrTime(Date.now()),
    );
    return { scope: { name: CLIENT_METER_NAME }, metrics: m === undefined ? [] : [m] };
  }
}

/** The process's client metrics, with the process's duration bucket layout. */
export const processClientMetrics = new ClientMetrics(() => processEndpointMetrics.buckets);
