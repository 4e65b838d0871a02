/**
 * The aggregator at scale: `mock_worker --workers 1000` in its own process; one full scrape
 * cycle (request to updated snapshot) and its CPU; `/metrics` size and render time; KV hit-rate
 * events ingested per second with exact counts; churn of 10,000 worker ids with RSS before and
 * after.
 *
 *   npm run bench -- bench/aggregator.bench.ts        (BENCH_WORKERS=1000 by default)
 */
import { connect } from '@nats-io/transport-node';
import { Aggregator } from '../src/aggregator/Aggregator.ts';
import { AggregatorMetrics, type AggregateView } from '../src/aggregator/AggregatorMetrics.ts';
import { HitRateTracker } from '../src/aggregator/HitRateTracker.ts';
import { loadStatistics } from '../src/aggregator/statistics.ts';
import type { WorkerStats } from '../src/aggregator/statsReply.ts';
import { loadExportConfig } from '../src/export/options.ts';
import { MetricsPipeline } from '../src/export/index.ts';
import { DistributedRuntime } from '../src/runtime/index.ts';
import { freePort, waitUntil } from '../test/support/process.ts';
import { startCluster } from '../test/support/servers.ts';
import { clusterEnv, startScript, waitForLine } from '../test/support/workers.ts';
import { fmt, machine, summarize, table } from './stats.ts';

const WORKERS = Number(process.env.BENCH_WORKERS ?? 1000);
const EVENTS = Number(process.env.BENCH_EVENTS ?? 500_000);
const rows: (string | number)[][] = [];

const cluster = await startCluster();
const mock = startScript('src/cli/mock_worker.ts', ['--workers', String(WORKERS), '--hit-rate-interval', '1h'], clusterEnv(cluster));
try {
  await waitForLine(mock, /mock worker\(s\) ready/, 300_000);
  const port = await freePort();
  const pipeline = new MetricsPipeline(
    loadExportConfig({ argv: ['--prometheus-host', '127.0.0.1', '--prometheus-port', String(port)], env: {} }, { serviceName: 'bench' }),
    { global: false },
  );
  await pipeline.start();
  const drt = await DistributedRuntime.connect({ nats: { servers: [cluster.nats.url] }, etcd: { endpoints: [cluster.etcd.url] } });
  const agg = new Aggregator(drt, { namespace: 'dynamo', component: 'my_component', endpoint: 'my_endpoint', pollIntervalMs: 3_600_000 });
  agg.attach(pipeline);
  await agg.start();
  await waitUntil('leadership', () => agg.election.isLeader, 15_000);
  await waitUntil(`${WORKERS} instances in etcd`, () => drt.discovery('dynamo', 'my_component').list('my_endpoint').length >= WORKERS, 120_000, 200);

  // scrape cycles
  await agg.cycle();
  const times: number[] = [];
  const cpus: number[] = [];
  let complete = 0;
  for (let i = 0; i < 20; i++) {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const r = await agg.cycle();
    times.push(performance.now() - t0);
    const cpu = process.cpuUsage(cpu0);
    cpus.push((cpu.user + cpu.system) / 1000);
    if (r?.complete && r.workers === WORKERS) complete++;
  }
  const c = summarize(times);
  rows.push([`scrape cycle, ${WORKERS} workers (request to updated snapshot)`, `median ${fmt(c.median)} ms, p90 ${fmt(c.p90)} ms; ${complete}/20 cycles ended early with every worker in`]);
  rows.push(['aggregator CPU per cycle', `median ${fmt(summarize(cpus).median)} ms`]);

  // /metrics
  const renders: number[] = [];
  let size = 0;
  for (let i = 0; i < 10; i++) {
    const t0 = performance.now();
    const body = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    renders.push(performance.now() - t0);
    size = body.length;
  }
  rows.push([`/metrics of ${WORKERS} workers`, `${(size / 1024).toFixed(0)} KiB, median ${fmt(summarize(renders).median)} ms per scrape`]);

  // hit-rate events: published from a separate connection in batches of 10,000 with a flush each
  const pub = await connect({ servers: cluster.nats.url });
  const ids = agg.view ? [...agg.view.workers.keys()] : [];
  const bodies = ids.map((id, i) => new TextEncoder().encode(`{"worker_id":${id},"isl_blocks":${(i % 100) + 1},"overlap_blocks":${i % 50}}`));
  const acceptedBefore = agg.tracker.accepted;
  let expectedIsl = 0;
  const t0 = performance.now();
  for (let sent = 0; sent < EVENTS; ) {
    const n = Math.min(10_000, EVENTS - sent);
    for (let j = 0; j < n; j++) {
      const k = (sent + j) % bodies.length;
      expectedIsl += (k % 100) + 1;
      pub.publish('namespace.dynamo.kv-hit-rate', bodies[k]!);
    }
    sent += n;
    await pub.flush();
  }
  await waitUntil('all events ingested', () => agg.tracker.accepted - acceptedBefore >= EVENTS, 120_000, 5);
  const secs = (performance.now() - t0) / 1000;
  let islSum = 0;
  for (const id of ids) islSum += agg.tracker.get(id)?.islBlocks ?? 0;
  rows.push([`KV hit-rate events ingested`, `${fmt(EVENTS / secs, 0)} events/s (${EVENTS} events in ${fmt(secs, 2)} s); counted ${agg.tracker.accepted - acceptedBefore}, Σisl ${islSum === expectedIsl ? 'exact' : `WRONG: ${islSum} vs ${expectedIsl}`}`]);
  await pub.close();
  await agg.stop();
  await pipeline.shutdown();
  await drt.shutdown();
} finally {
  await mock.stop(20_000);
  await cluster.stop();
}

// churn of 10,000 worker ids through the export path
{
  const port = await freePort();
  const p = new MetricsPipeline(loadExportConfig({ argv: ['--prometheus-host', '127.0.0.1', '--prometheus-port', String(port)], env: {} }, { serviceName: 'bench' }), { global: false });
  await p.start();
  const tracker = new HitRateTracker();
  let view: AggregateView | undefined;
  p.snapshots.add(new AggregatorMetrics('backend', 'generate', tracker, () => view).snapshot);
  const base = 7587884888253033398n;
  const cycle = async (c: number): Promise<void> => {
    const workers = new Map<bigint, WorkerStats>();
    for (let i = 0; i < 1000; i++) {
      const id = base + BigInt(((c * 1000 + i) % 10_000) + Math.floor(c / 10) * 10_000);
      workers.set(id, { workerId: id, subject: 's', data: null, metrics: { kvActiveBlocks: i, kvTotalBlocks: 100, requestActiveSlots: 1, requestTotalSlots: 10 } });
      tracker.add({ workerId: id, islBlocks: 3, overlapBlocks: 1 });
    }
    view = { workers, stats: loadStatistics([...workers.values()].map((w) => w.metrics.kvActiveBlocks)) };
    await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  };
  for (let c = 0; c < 10; c++) await cycle(c);
  global.gc?.();
  const before = process.memoryUsage();
  for (let c = 10; c < 110; c++) await cycle(c);
  global.gc?.();
  const after = process.memoryUsage();
  rows.push([
    'churn: 100 cycles of 1,000 workers drawn from 110,000 ids (tracking cap 10,000)',
    `RSS ${(before.rss / 1048576).toFixed(0)} → ${(after.rss / 1048576).toFixed(0)} MiB, heap ${(before.heapUsed / 1048576).toFixed(0)} → ${(after.heapUsed / 1048576).toFixed(0)} MiB; tracked ${tracker.size}, dropped ${tracker.dropped}`,
  ]);
  await p.shutdown();
}

console.log(`# aggregator at scale (${machine()}, ${WORKERS} mock workers in a separate process, nats-server and etcd on loopback)\n`);
console.log(table(['what', 'result'], rows));
