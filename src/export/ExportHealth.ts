/**
 * The bridge's own export health (docs/metrics.md §3): attempts, failures and the time of the last
 * success, per exporter. Plain numbers, observed at collection: exporters can count before the
 * MeterProvider that reports them exists.
 */
import type { Meter } from '@opentelemetry/api';
import type { ExporterName } from './options.ts';

interface Counts {
  attempts: number;
  failures: number;
  droppedPoints: number;
  lastSuccess: number | undefined;
  attrs: { exporter: ExporterName };
}

export class ExportHealth {
  private readonly counts = new Map<ExporterName, Counts>();
  /** HTTP connections the pull server cut or refused, by reason. */
  readonly connectionsCut = new Map<string, number>();
  private readonly cutAttrs = new Map<string, { reason: string }>();

  connectionCut(reason: string): void {
    this.connectionsCut.set(reason, (this.connectionsCut.get(reason) ?? 0) + 1);
    if (!this.cutAttrs.has(reason)) this.cutAttrs.set(reason, { reason });
  }

  private of(exporter: ExporterName): Counts {
    let c = this.counts.get(exporter);
    if (c === undefined) {
      c = { attempts: 0, failures: 0, droppedPoints: 0, lastSuccess: undefined, attrs: { exporter } };
      this.counts.set(exporter, c);
    }
    return c;
  }

  /** Registers the instruments on `meter`. */
  observeWith(meter: Meter): void {
    meter
      .createObservableCounter('dynamo_metrics_export_attempts_total', { description: 'Export attempts by exporter (a Prometheus scrape counts as one)' })
      .addCallback((r) => {
        for (const c of this.counts.values()) r.observe(c.attempts, c.attrs);
      });
    meter
      .createObservableCounter('dynamo_metrics_export_failures_total', { description: 'Failed export attempts by exporter' })
      .addCallback((r) => {
        for (const c of this.counts.values()) r.observe(c.failures, c.attrs);
      });
    meter
      .createObservableCounter('dynamo_metrics_export_dropped_points_total', { description: 'Undelivered delta data points dropped because they exceeded what is carried into the next export' })
      .addCallback((r) => {
        for (const c of this.counts.values()) if (c.droppedPoints > 0) r.observe(c.droppedPoints, c.attrs);
      });
    meter
      .createObservableCounter('dynamo_metrics_http_connections_cut_total', { description: 'Connections to the /metrics server cut or refused to keep it within its limits, by reason' })
      .addCallback((r) => {
        for (const [reason, n] of this.connectionsCut) r.observe(n, this.cutAttrs.get(reason));
      });
    meter
      .createObservableGauge('dynamo_metrics_last_export_success_timestamp_seconds', { description: 'Unix time of the last successful export by exporter' })
      .addCallback((r) => {
        for (const c of this.counts.values()) if (c.lastSuccess !== undefined) r.observe(c.lastSuccess, c.attrs);
      });
  }

  attempt(exporter: ExporterName): void {
    this.of(exporter).attempts++;
  }

  success(exporter: ExporterName): void {
    this.of(exporter).lastSuccess = Date.now() / 1000;
  }

  failure(exporter: ExporterName): void {
    this.of(exporter).failures++;
  }

  dropped(exporter: ExporterName, points: number): void {
    this.of(exporter).droppedPoints += points;
  }

  snapshot(exporter: ExporterName): Readonly<Omit<Counts, 'attrs'>> {
    const { attempts, failures, droppedPoints, lastSuccess } = this.of(exporter);
    return { attempts, failures, droppedPoints, lastSuccess };
  }
}
