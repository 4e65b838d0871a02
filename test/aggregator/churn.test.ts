/**
 * 10,000 worker ids coming and going: the series follow the live set on every exporter (no
 * departed worker lingers, no cardinality overflow) and memory stays flat. This is what the
 * SDK's observable gauges fail under cumulative temporality, and why the aggregator exports
 * through a snapshot producer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AggregatorMetrics, type AggregateView } from '../../src/aggregator/AggregatorMetrics.ts';
import { HitRateTracker } from '../../src/aggregator/HitRateTracker.ts';
import { loadStatistics } from '../../src/aggregator/statistics.ts';
import type { WorkerStats } from '../../src/aggregator/statsReply.ts';
import { loadExportConfig } from '../../src/export/options.ts';
import { MetricsPipeline } from '../../src/export/index.ts';
import { freePort } from '../support/process.ts';
import { OtlpReceiver } from '../support/otlpReceiver.ts';
import { series } from '../support/exposition.ts';

const LIVE = 200;
const CYCLES = 60; // 200 new ids per cycle: 12,000 distinct ids in all

test('churn of 12,000 worker ids: series follow the live set on every exporter; no overflow; flat memory', async (t) => {
  const rx = await new OtlpReceiver().start();
  t.after(() => rx.stop());
  const port = await freePort();
  const p = new MetricsPipeline(
    loadExportConfig(
      {
        argv: [
          '--exporters',
          'prometheus,otlp',
          '--prometheus-host',
          '127.0.0.1',
          '--prometheus-port',
          String(port),
          '--otlp-endpoint',
          rx.url,
          '--otlp-interval',
          '60s',
        ],
        env: {},
      },
      { serviceName: 'churn' },
    ),
    { global: false },
  );
  t.after(() => p.shutdown());
  await p.start();
  const tracker = new HitRateTracker(1000);
  let view: AggregateView | undefined;
  const metrics = new AggregatorMetrics('backend', 'generate', tracker, () => view);
  p.snapshots.add(metrics.snapshot);

  const base = 7587884888253033398n;
  let heapAfterWarmup = 0;
  for (let c = 0; c < CYCLES; c++) {
    const workers = new Map<bigint, WorkerStats>();
    for (let i = 0; i < LIVE; i++) {
      const id = base + BigInt(c * LIVE + i);
      workers.set(id, {
        workerId: id,
        subject: `s-${id}`,
        data: null,
        metrics: { kvActiveBlocks: i, kvTotalBlocks: 100, requestActiveSlots: 1, requestTotalSlots: 10 },
      });
      tracker.add({ workerId: id, islBlocks: 10, overlapBlocks: 5 });
    }
    view = { workers, stats: loadStatistics([...workers.values()].map((w) => w.metrics.kvActiveBlocks)) };
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const kv = series(text, 'llm_kv_blocks_active');
    assert.equal(kv.length, LIVE, `cycle ${c}: only the live workers`);
    assert.equal(series(text, 'llm_kv_hit_rate_isl_blocks_total').length, LIVE);
    assert.ok(
      kv.every((s) => BigInt(s.labels.worker_id!) >= base + BigInt(c * LIVE)),
      'no departed worker lingers',
    );
    assert.doesNotMatch(text, /otel_metric_overflow/);
    if (c % 10 === 9) {
      await p.forceFlush();
      const last = rx.exports.at(-1)!;
      const pts = last.metrics.find((m) => m.name === 'llm_kv_blocks_active')!.points;
      assert.equal(pts.length, LIVE, 'OTLP carries only the live workers too');
      assert.ok(pts.every((pt) => BigInt(String(pt.attributes.worker_id)) >= base + BigInt(c * LIVE)));
    }
    if (c === 10) {
      global.gc?.();
      heapAfterWarmup = process.memoryUsage().heapUsed;
    }
  }
  global.gc?.();
  const growth = process.memoryUsage().heapUsed - heapAfterWarmup;
  assert.ok(growth < 30 * 1024 * 1024, `heap grew ${(growth / 1048576).toFixed(1)} MiB over 50 cycles of churn`);
  assert.equal(tracker.size, 1000, 'hit-rate tracking stays within its cap');
  assert.equal(tracker.dropped, CYCLES * LIVE - 1000);
  view = undefined;
  const empty = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  assert.equal(series(empty, 'llm_kv_blocks_active').length, 0, 'a standby (no view) exports no worker series');
});
