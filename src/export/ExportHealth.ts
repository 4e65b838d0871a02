/**
 * The bridge's own export health (docs/metrics.md §3): attempts, failures and the time of the last
 * success, per exporter. Plain numbers, observed at collection: exporters can count before the
 * MeterProvider that reports them exists.
 */
import type { Meter } from '@opentelemetry/api';
import { redactText } from '../redact.ts';
import type { ExporterName } from './options.ts';

/** Longest last-error text kept per exporter (the status page shows it). */
export const MAX_LAST_ERROR_CHARS = 300;

/** One exporter's health as the status page shows it. */
export interface ExporterStatus {
  exporter: ExporterName;
  attempts: number;
  failures: number;
  droppedPoints: number;
  /** Unix seconds. */
  lastSuccess: number | undefined;
  /** Unix seconds. */
  lastFailure: number | undefined;
  /** The latest failure's message, redacted (no URL userinfo nor credential parameters), one line. */
  lastError: string | undefined;
}

interface Counts extends Omit<ExporterStatus, 'exporter'> {
  attrs: { exporter: ExporterName };
}

/** `message` fit for a page or a log: redacted, first line, bounded. */
export function safeErrorText(message: string): string {
  const line = (redactText(message).split('\n', 1)[0] ?? '').trim();
  return line.length > MAX_LAST_ERROR_CHARS ? `${line.slice(0, MAX_LAST_ERROR_CHARS - 1)}…` : line;
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
      c = {
        attempts: 0,
        failures: 0,
        droppedPoints: 0,
        lastSuccess: undefined,
        lastFailure: undefined,
        lastError: undefined,
        attrs: { exporter },
      };
      this.counts.set(exporter, c);
    }
    return c;
  }

  /** Registers the instruments on `meter`. */
  observeWith(meter: Meter): void {
    meter
      .createObservableCounter('dynamo_metrics_export_attempts_total', {
        description: 'Export attempts by exporter (a Prometheus scrape counts as one)',
      })
      .addCallback((r) => {
        for (const c of this.counts.values()) r.observe(c.attempts, c.attrs);
      });
    meter
      .createObservableCounter('dynamo_metrics_export_failures_total', { description: 'Failed export attempts by exporter' })
      .addCallback((r) => {
        for (const c of this.counts.values()) r.observe(c.failures, c.attrs);
      });
    meter
      .createObservableCounter('dynamo_metrics_export_dropped_points_total', {
        description: 'Undelivered delta data points dropped because they exceeded what is carried into the next export',
      })
      .addCallback((r) => {
        for (const c of this.counts.values()) if (c.droppedPoints > 0) r.observe(c.droppedPoints, c.attrs);
      });
    meter
      .createObservableCounter('dynamo_metrics_http_connections_cut_total', {
        description: 'Connections to the /metrics server cut or refused to keep it within its limits, by reason',
      })
      .addCallback((r) => {
        for (const [reason, n] of this.connectionsCut) r.observe(n, this.cutAttrs.get(reason));
      });
    meter
      .createObservableGauge('dynamo_metrics_last_export_success_timestamp_seconds', {
        description: 'Unix time of the last successful export by exporter',
      })
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

  /** Counts a failed attempt; `error` (redacted here) is kept as the exporter's last error. */
  failure(exporter: ExporterName, error?: string): void {
    const c = this.of(exporter);
    c.failures++;
    c.lastFailure = Date.now() / 1000;
    if (error !== undefined) c.lastError = safeErrorText(error);
  }

  dropped(exporter: ExporterName, points: number): void {
    this.of(exporter).droppedPoints += points;
  }

  snapshot(exporter: ExporterName): Readonly<Omit<ExporterStatus, 'exporter'>> {
    const { attempts, failures, droppedPoints, lastSuccess, lastFailure, lastError } = this.of(exporter);
    return { attempts, failures, droppedPoints, lastSuccess, lastFailure, lastError };
  }

  /** Every exporter that has been attempted, in first-attempt order. */
  statuses(): ExporterStatus[] {
    return [...this.counts.keys()].map((exporter) => ({ exporter, ...this.snapshot(exporter) }));
  }
}
