/**
 * CarryingExporter alone: one export in flight, batches handed over meanwhile merged into the
 * next, failed deltas carried, the reader answered at once, a flush that sends what waits.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  DataPointType,
  type InstrumentType,
  type MetricData,
  type PushMetricExporter,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import { CarryingExporter } from '../../src/export/CarryingExporter.ts';
import { ExportHealth } from '../../src/export/ExportHealth.ts';

const batch = (value: number, gauge: number): ResourceMetrics => ({
  resource: resourceFromAttributes({}),
  scopeMetrics: [
    {
      scope: { name: 's' },
      metrics: [
        {
          descriptor: { name: 'n_total', description: '', unit: '', valueType: 1 },
          dataPointType: DataPointType.SUM,
          isMonotonic: true,
          aggregationTemporality: AggregationTemporality.DELTA,
          dataPoints: [{ attributes: { w: 'a' }, startTime: [1, 0], endTime: [2, 0], value }],
        } as MetricData,
        {
          descriptor: { name: 'g', description: '', unit: '', valueType: 1 },
          dataPointType: DataPointType.GAUGE,
          aggregationTemporality: AggregationTemporality.CUMULATIVE,
          dataPoints: [{ attributes: {}, startTime: [1, 0], endTime: [2, 0], value: gauge }],
        } as MetricData,
      ],
    },
  ],
});
const valueIn = (rm: ResourceMetrics, name: string): number | undefined =>
  rm.scopeMetrics[0]?.metrics.find((m) => m.descriptor.name === name)?.dataPoints[0]?.value as number | undefined;

/** An exporter whose exports wait until the test settles them. */
class HeldExporter implements PushMetricExporter {
  readonly calls: { batch: ResourceMetrics; settle: (r: ExportResult) => void }[] = [];
  export(b: ResourceMetrics, cb: (r: ExportResult) => void): void {
    this.calls.push({ batch: b, settle: cb });
  }
  forceFlush = async (): Promise<void> => undefined;
  shutdown = async (): Promise<void> => undefined;
  selectAggregationTemporality = (): AggregationTemporality => AggregationTemporality.DELTA;
}
const ok: ExportResult = { code: ExportResultCode.SUCCESS };
const failed: ExportResult = { code: ExportResultCode.FAILED, error: new Error('503') };

test('one export in flight: what comes meanwhile waits merged, a failed export is carried into it, nothing is lost or sent twice', () => {
  const inner = new HeldExporter();
  const health = new ExportHealth();
  const e = new CarryingExporter(inner, 'otlp', health, 'http://x');
  const answers: ExportResult[] = [];
  e.export(batch(1, 10), (r) => answers.push(r));
  e.export(batch(2, 20), (r) => answers.push(r));
  e.export(batch(4, 30), (r) => answers.push(r));
  assert.equal(answers.length, 3, 'the reader is answered at once, never left to time out');
  assert.ok(answers.every((r) => r.code === ExportResultCode.SUCCESS));
  assert.equal(inner.calls.length, 1, 'one export in flight');
  inner.calls[0]!.settle(failed);
  assert.equal(inner.calls.length, 1, 'a failure is not retried at once: the next interval sends it');
  e.export(batch(8, 40), () => undefined);
  assert.equal(inner.calls.length, 2);
  const second = inner.calls[1]!.batch;
  assert.equal(valueIn(second, 'n_total'), 1 + 2 + 4 + 8, 'every delta, the failed one included');
  assert.equal(valueIn(second, 'g'), 40, 'the newest gauge');
  inner.calls[1]!.settle(ok);
  inner.calls[1]!.settle(failed); // an exporter that answers twice counts once
  e.export(batch(16, 50), () => undefined);
  assert.equal(valueIn(inner.calls[2]!.batch, 'n_total'), 16, 'a delivered delta is not sent again');
  const s = health.snapshot('otlp');
  assert.equal(s.attempts, 3);
  assert.equal(s.failures, 1);
  assert.ok(s.lastSuccess !== undefined);
});

test('forceFlush waits for the export in flight, then sends what waits', async () => {
  const inner = new HeldExporter();
  const e = new CarryingExporter(inner, 'otlp', new ExportHealth(), 'http://x');
  e.export(batch(1, 1), () => undefined);
  e.export(batch(2, 2), () => undefined);
  let flushed = false;
  const flush = e.forceFlush().then(() => (flushed = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(flushed, false);
  inner.calls[0]!.settle(failed);
  await new Promise((r) => setImmediate(r));
  assert.equal(inner.calls.length, 2);
  assert.equal(valueIn(inner.calls[1]!.batch, 'n_total'), 3);
  inner.calls[1]!.settle(ok);
  await flush;
  assert.equal(flushed, true);
});

test('an exporter that throws is a failed export, carried', () => {
  const health = new ExportHealth();
  let n = 0;
  const throwing: PushMetricExporter = {
    export: (b, cb) => {
      if (n++ === 0) throw new Error('boom');
      assert.equal(valueIn(b, 'n_total'), 3);
      cb(ok);
    },
    forceFlush: async () => undefined,
    shutdown: async () => undefined,
    selectAggregationTemporality: (_t: InstrumentType) => AggregationTemporality.DELTA,
  };
  const e = new CarryingExporter(throwing, 'otlp', health, 'http://x');
  e.export(batch(1, 1), () => undefined);
  e.export(batch(2, 2), () => undefined);
  assert.equal(n, 2);
  assert.equal(health.snapshot('otlp').failures, 1);
  assert.equal(health.snapshot('otlp').lastError, 'boom');
});
