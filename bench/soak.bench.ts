/**
 * Soak: sustained traffic through an instrumented endpoint (bounded rate) and a 1,000-worker
 * aggregation with hit-rate events, for several minutes on loopback, scraping /metrics every
 * second. Every 15 s: RSS, heap, active handles, the longest event-loop stall, scrape latency.
 * Bounded loops, loopback only; stops by itself.
 *
 *   SOAK_SECONDS=180 npm run bench -- bench/soak.bench.ts
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Aggregator } from '../src/aggregator/Aggregator.ts';
import { loadExportConfig } from '../src/config/index.ts';
import { MetricsPipeline } from '../src/export/index.ts';
import { processEndpointMetrics } from '../instrumentation/EndpointMetrics.ts';
import { DistributedRuntime } from '../src/runtime/index.ts';
import { freePort, sleep, waitUntil } from '../test/support/process.ts';
import { startCluster } from '../test/support/servers.ts';
import { clusterEnv, startScript, waitForLine } from '../test/support/workers.ts';
import { fmt, machine, table } from './stats.ts';

const SECONDS = Number(process.env.SOAK_SECONDS ?? 180);
const WORKERS = Number(process.env.SOAK_WORKERS ?? 1000);
const RATE = Number(process.env.SOAK_RATE ?? 1000); // requests per second through the instrumented endpoint
const WINDOW_S = 15;

const cluster = await startCluster();
const mock = startScript('src/cli/mock_worker.ts', ['--workers', String(WORKERS), '--hit-rate-interval', '1s'], clusterEnv(cluster));
const rows: (string | number)[][] = [];
let failedScrapes = 0;
let scrapes = 0;
try {
  await waitForLine(mock, /mock worker\(s\) ready/, 300_000);
  const port = await freePort();
  const pipeline = new MetricsPipeline(loadExportConfig({ argv: ['--prometheus-host', '127.0.0.1', '--prometheus-port', String(port)], env: {} }, { serviceName: 'soak' }), { global: true });
  processEndpointMetrics.attach(pipeline);
  await pipeline.start();
  const env = { nats: { servers: [cluster.nats.url] }, etcd: { endpoints: [cluster.etcd.url] }, systemStatus: false };
  const drt = await DistributedRuntime.connect(env);
  const agg = new Aggregator(drt, { namespace: 'dynamo', component: 'my_component', endpoint: 'my_endpoint' });
  agg.attach(pipeline);
  await agg.start();
  await drt.namespace('soak').component('svc').endpoint('echo').serve(async function* (req: { n: number }) {
    for (let i = 0; i < 4; i++) yield { i, n: req.n };
  });
  const client = await drt.namespace('soak').component('svc').endpoint('echo').client();
  await client.waitForInstances(1);
  await waitUntil('the aggregator to see every worker', () => (agg.view?.workers.size ?? 0) >= WORKERS, 120_000, 500);

  const started = Date.now();
  let stop = false;
  let sent = 0;
  let failed = 0;
  const traffic = (async () => {
    // bounded: RATE per second in 10 ms ticks, until the soak ends
    while (!stop) {
      const tick = Date.now();
      const batch = Math.max(1, Math.round(RATE / 100));
      await Promise.all(
        Array.from({ length: batch }, async () => {
          sent++;
          try {
            await client.random({ n: sent }).collect();
          } catch {
            failed++;
          }
        }),
      );
      await sleep(Math.max(0, 10 - (Date.now() - tick)));
    }
  })();
  let lastScrapeMs = 0;
  let maxScrapeMs = 0;
  const scraper = (async () => {
    while (!stop) {
      const t0 = performance.now();
      try {
        const res = await fetch(`http://127.0.0.1:${port}/metrics`);
        await res.text();
        if (res.status !== 200) failedScrapes++;
      } catch {
        failedScrapes++;
      }
      scrapes++;
      lastScrapeMs = performance.now() - t0;
      maxScrapeMs = Math.max(maxScrapeMs, lastScrapeMs);
      await sleep(1000);
    }
  })();
  while (Date.now() - started < SECONDS * 1000) {
    const h = monitorEventLoopDelay({ resolution: 5 });
    h.enable();
    maxScrapeMs = 0;
    await sleep(WINDOW_S * 1000);
    h.disable();
    global.gc?.();
    const mem = process.memoryUsage();
    const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles().length;
    rows.push([
      `${Math.round((Date.now() - started) / 1000)} s`,
      (mem.rss / 1048576).toFixed(0),
      (mem.heapUsed / 1048576).toFixed(1),
      handles,
      fmt(h.max / 1e6, 1),
      fmt(maxScrapeMs, 0),
      agg.view?.workers.size ?? 0,
      sent,
      failed,
    ]);
  }
  stop = true;
  await Promise.all([traffic, scraper]);
  await agg.stop();
  await pipeline.shutdown();
  await drt.shutdown();
} finally {
  await mock.stop(30_000);
  await cluster.stop();
}
console.log(`# soak (${machine()}, ${SECONDS} s, ${WORKERS} mock workers in another process with 1 event/s each, ${RATE} streamed requests/s through an instrumented endpoint, /metrics scraped every second)\n`);
console.log(table(['at', 'RSS MiB', 'heap MiB', 'handles', 'max event-loop stall ms', 'slowest scrape ms', 'workers', 'requests sent', 'requests failed'], rows));
console.log(`\nscrapes: ${scrapes}, failed: ${failedScrapes}`);
