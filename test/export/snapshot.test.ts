/**
 * Snapshot sources under each temporality: cumulative everywhere by default; an OTLP reader that
 * prefers delta gets deltas of snapshot counters and histograms too (resets and departed series
 * handled), decoded from the wire with the official schema.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AggregationTemporality, DataPointType, type MetricData, type ScopeMetrics } from '@opentelemetry/sdk-metrics';
import { loadExportConfig } from '../../src/export/options.ts';
import { MetricsPipeline } from '../../src/export/index.ts';
import { OtlpReceiver } from '../support/otlpReceiver.ts';

function snapshot(values: Map<string, number>): ScopeMetrics {
  const endTime: [number, number] = [Math.floor(Date.now() / 1000), 0];
  const points = [...values].map(([w, v]) => ({ attributes: { worker_id: w }, startTime: [1, 0] as [number, number], endTime, value: v }));
  const hist = [...values].map(([w, v]) => ({
    attributes: { worker_id: w },
    startTime: [1, 0] as [number, number],
    endTime,
    value: { buckets: { boundaries: [1, 10], counts: [v, 2 * v, 0] }, sum: 5 * v, count: 3 * v },
  }));
  return {
    scope: { name: 'snap' },
    metrics: [
      {
        descriptor: { name: 'snap_events_total', description: 'd', unit: '', valueType: 1 },
        dataPointType: DataPointType.SUM,
        aggregationTemporality: AggregationTemporality.CUMULATIVE,
        isMonotonic: true,
        dataPoints: points,
      } as MetricData,
      {
        descriptor: { name: 'snap_seconds', description: 'd', unit: 's', valueType: 1 },
        dataPointType: DataPointType.HISTOGRAM,
        aggregationTemporality: AggregationTemporality.CUMULATIVE,
        dataPoints: hist,
      } as MetricData,
    ],
  };
}

for (const temporality of ['delta', 'cumulative'] as const) {
  test(`snapshot counters and histograms over OTLP with ${temporality} temporality`, async (t) => {
    const rx = await new OtlpReceiver().start();
    t.after(() => rx.stop());
    const p = new MetricsPipeline(
      loadExportConfig(
        { argv: ['--exporters', 'otlp', '--otlp-endpoint', rx.url, '--otlp-interval', '60s', '--otlp-temporality', temporality], env: {} },
        { serviceName: 's' },
      ),
      { global: false },
    );
    t.after(() => p.shutdown());
    const values = new Map<string, number>([
      ['a', 3],
      ['b', 1],
    ]);
    p.snapshots.add(() => snapshot(values));
    const steps: [string, number | undefined][][] = [];
    const record = (): void => {
      const e = rx.exports.at(-1)!;
      const c = e.metrics.find((m) => m.name === 'snap_events_total')!;
      const h = e.metrics.find((m) => m.name === 'snap_seconds')!;
      assert.equal(c.temporality, temporality === 'delta' ? 'DELTA' : 'CUMULATIVE');
      assert.equal(h.temporality, temporality === 'delta' ? 'DELTA' : 'CUMULATIVE');
      for (const pt of h.points)
        assert.equal(
          pt.count,
          pt.bucketCounts!.reduce((x, y) => x + y, 0),
          'histogram buckets add up to its count',
        );
      steps.push(c.points.map((pt) => [String(pt.attributes.worker_id), pt.value]));
    };
    await p.forceFlush();
    record();
    values.set('a', 10);
    await p.forceFlush();
    record();
    values.set('a', 4); // the source restarted
    values.delete('b'); // a worker left
    await p.forceFlush();
    record();
    values.set('b', 2); // and came back
    await p.forceFlush();
    record();
    if (temporality === 'delta') {
      assert.deepEqual(steps, [
        [
          ['a', 3],
          ['b', 1],
        ],
        [
          ['a', 7],
          ['b', 0],
        ],
        [['a', 4]],
        [
          ['a', 0],
          ['b', 1],
        ], // b kept its baseline while away: 1 + 0 + 1 delivered = its total 2
      ]);
    } else {
      assert.deepEqual(steps, [
        [
          ['a', 3],
          ['b', 1],
        ],
        [
          ['a', 10],
          ['b', 1],
        ],
        [['a', 4]],
        [
          ['a', 4],
          ['b', 2],
        ],
      ]);
    }
  });
}
