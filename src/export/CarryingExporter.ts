/**
 * The exporter the periodic readers call: it delivers delta data exactly through any outage,
 * counts every export attempt, and logs failures (rate limited) without ever printing header
 * values (API keys).
 *
 * At most one export of the wrapped exporter is in flight. A batch handed over meanwhile waits,
 * merged with whatever else waits (`carryInto`: deltas added, gauges and cumulative data taken
 * from the newer batch), and the undelivered deltas of a failed export are merged in the same
 * way; the next export sends all of it. The reader is answered as soon as a batch is accepted:
 * a `PeriodicExportingMetricReader` stops waiting for an export after its timeout while the OTel
 * exporter may still be retrying it, so whether a batch was delivered is this class's to track,
 * never the reader's. One export in flight also keeps a recovering receiver from being hit by a
 * pile of retrying requests (the Collector's exporters queue the same way).
 */
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import {
  AggregationTemporality,
  AggregationType,
  type AggregationOption,
  type InstrumentType,
  type PushMetricExporter,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import { getLogger } from '../log.ts';
import { carryInto, MAX_CARRIED_POINTS, pointCount, undelivered } from './deltaCarry.ts';
import type { ExportHealth } from './ExportHealth.ts';

const log = getLogger('export::otlp');

/** What an exporter without a `selectAggregation` gets: the instrument's default aggregation. */
const DEFAULT_AGGREGATION: AggregationOption = { type: AggregationType.DEFAULT };

export class CarryingExporter implements PushMetricExporter {
  /** Data accepted and not yet sent: batches that came while an export was in flight, and the undelivered deltas of failed ones. */
  private pending: ResourceMetrics | undefined;
  private inFlight: Promise<void> | undefined;

  constructor(
    private readonly inner: PushMetricExporter,
    private readonly label: 'otlp' | 'console',
    private readonly health: ExportHealth,
    private readonly endpoint: string,
  ) {}

  export(metrics: ResourceMetrics, resultCallback: (result: ExportResult) => void): void {
    this.pending = this.pending === undefined ? metrics : carryInto(this.pending, metrics);
    if (this.inFlight === undefined) this.sendPending();
    resultCallback({ code: ExportResultCode.SUCCESS });
  }

  /** Sends what waits, if nothing is in flight. */
  private sendPending(): void {
    const batch = this.pending;
    if (batch === undefined || this.inFlight !== undefined) return;
    this.pending = undefined;
    this.health.attempt(this.label);
    let resolve!: () => void;
    let settled = false;
    // set before the export starts: an exporter may answer synchronously
    this.inFlight = new Promise<void>((r) => (resolve = r));
    const settle = (result: ExportResult): void => {
      if (settled) return; // an exporter that answers twice is counted once
      settled = true;
      this.inFlight = undefined;
      this.settled(batch, result);
      resolve();
    };
    try {
      this.inner.export(batch, settle);
    } catch (err) {
      settle({ code: ExportResultCode.FAILED, error: err instanceof Error ? err : new Error(String(err)) });
    }
  }

  private settled(batch: ResourceMetrics, result: ExportResult): void {
    if (result.code === ExportResultCode.SUCCESS) {
      this.health.success(this.label);
      return;
    }
    const error = result.error?.message ?? 'unknown error';
    this.health.failure(this.label, error);
    const carry = undelivered(batch);
    const points = pointCount(carry);
    if (points > MAX_CARRIED_POINTS) {
      this.health.dropped(this.label, points);
      log.rateLimited('error', `export-drop-${this.label}`, `undelivered delta data above ${MAX_CARRIED_POINTS} points dropped`, {
        exporter: this.label,
        points,
      });
    } else if (points > 0) {
      // the carried deltas are older than anything accepted since
      this.pending = this.pending === undefined ? carry : carryInto(carry, this.pending);
    }
    log.rateLimited(
      'warn',
      `export-${this.label}`,
      points > 0 ? 'export failed; its deltas go with the next export' : 'export failed; the next interval sends current totals',
      {
        exporter: this.label,
        endpoint: this.endpoint,
        error,
      },
    );
  }

  /** Waits for the export in flight, then sends what waits (once: a failure is carried again). */
  async forceFlush(): Promise<void> {
    await this.inFlight;
    this.sendPending();
    await this.inFlight;
    await this.inner.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  /** The wrapped exporter's choice; cumulative when it has none, as the SDK's readers default. */
  selectAggregationTemporality(instrumentType: InstrumentType): AggregationTemporality {
    return this.inner.selectAggregationTemporality?.(instrumentType) ?? AggregationTemporality.CUMULATIVE;
  }

  /**
   * The wrapped exporter's choice; the default aggregation when it has none (the console
   * exporter has none: called through a non-null assertion, it threw at the first collection).
   */
  selectAggregation(instrumentType: InstrumentType): AggregationOption {
    return this.inner.selectAggregation?.(instrumentType) ?? DEFAULT_AGGREGATION;
  }
}
