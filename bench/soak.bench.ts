/**
 * Soak: sustained traffic through an instrumented endpoint (bounded rate) and a 1,000-worker
 * aggregation with hit-rate events, for several minutes on loopback, scraping /metrics every
 * second, from a separate load process. Every 15 s, in the measured process (aggregator, pipeline,
 * instrumented endpoint): RSS, heap, active handles, the longest event-loop stall; from the load
 * process: slowest scrape, requests sent and failed. Bounded loops, loopback only; stops by itself.
 * Goals (RELIABILITY.md, "Load"): no request or scrape fails, every window sees every worker, the
 * longest event-loop stall under 100 ms, and memory flat (RSS and heap of the last window within
 * 10 % of the second's, the first being warm-up).
 *
 *   SOAK_SECONDS=180 npm run bench -- bench/soak.bench.ts
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Aggregator } from '../src/aggregator/Aggregator.ts';
import { loadExportConfig } from '../src/export/options.ts';
import { MetricsPipeline } from '../src/export/index.ts';
import { processEndpointMetrics } from '../instrumentation/EndpointMetrics.ts';
import { DistributedRuntime } from '../src/runtime/index.ts';
import { freePort, sleep, waitUntil } from '../test/support/process.ts';
import { startCluster } from '../test/support/servers.ts';
import { clusterEnv, startScript, waitForLine } from '../test/support/workers.ts';
import { goal, goalRows, verdict } from './goals.ts';
import { fmt, machine, table } from './stats.ts';

const SECONDS = Number(process.env.SOAK_SECONDS ?? 180);
const WORKERS = Number(process.env.SOAK_WORKERS ?? 1000);
const RATE = Number(process.env.SOAK_RATE ?? 1000); // requests per second through the instrumented endpoint
const WINDOW_S = 15;

const cluster = await startCluster();
const mock = startScript('src/cli/mock_worker.ts', ['--workers', String(WORKERS), '--hit-rate-interval', '1s'], clusterEnv(cluster));
const rows: (string | number)[][] = [];
const windows: { rss: number; heap: number; handles: number; stallMs: number; workers: number }[] = [];
let requestsFailed = 0;
let failedScrapes = 0;
let scrapes = 0; // reported by the load process
try {
  await waitForLine(mock, /mock worker\(s\) ready/, 300_000);
  const port = await freePort();
  const pipeline = new MetricsPipeline(
    loadExportConfig({ argv: ['--prometheus-host', '127.0.0.1', '--prometheus-port', String(port)], env: {} }, { serviceName: 'soak' }),
    { global: true },
  );
  processEndpointMetrics.attach(pipeline);
  await pipeline.start();
  const env = { nats: { servers: [cluster.nats.url] }, etcd: { endpoints: [cluster.etcd.url] } };
  const drt = await DistributedRuntime.connect(env);
  const agg = new Aggregator(drt, { namespace: 'dynamo', component: 'my_component', endpoint: 'my_endpoint' });
  agg.attach(pipeline);
  await agg.start();
  await drt
    .namespace('soak')
    .component('svc')
    .endpoint('echo')
    .serve(async function* (req: { n: number }) {
      for (let i = 0; i < 4; i++) yield { i, n: req.n };
    });
  await waitUntil('the aggregator to see every worker', () => (agg.view?.workers.size ?? 0) >= WORKERS, 120_000, 500);

  // the load runs in its own process: what is measured here is the product alone
  const load = startScript(
    'bench/soak-load.ts',
    [cluster.nats.url, cluster.etcd.url, String(port), String(RATE), String(SECONDS), String(WINDOW_S)],
    clusterEnv(cluster, { DYN_LOG: 'warn' }),
  );
  const started = Date.now();
  while (Date.now() - started < SECONDS * 1000 - 1000) {
    const h = monitorEventLoopDelay({ resolution: 5 });
    h.enable();
    await sleep(WINDOW_S * 1000);
    h.disable();
    global.gc?.();
    const mem = process.memoryUsage();
    windows.push({
      rss: mem.rss / 1048576,
      heap: mem.heapUsed / 1048576,
      handles: (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles().length,
      stallMs: h.max / 1e6,
      workers: agg.view?.workers.size ?? 0,
    });
  }
  await load.exited;
  const reports = load
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { sent: number; failed: number; scrapes: number; failedScrapes: number; slowestScrapeMs: number });
  windows.forEach((w, i) => {
    const r = reports[i];
    rows.push([
      `${(i + 1) * WINDOW_S} s`,
      w.rss.toFixed(0),
      w.heap.toFixed(1),
      w.handles,
      fmt(w.stallMs, 1),
      r ? fmt(r.slowestScrapeMs, 0) : '-',
      w.workers,
      r?.sent ?? '-',
      r?.failed ?? '-',
    ]);
  });
  const last = reports.at(-1);
  scrapes = last?.scrapes ?? 0;
  failedScrapes = last?.failedScrapes ?? 0;
  requestsFailed = last?.failed ?? 0;
  await agg.stop();
  await pipeline.shutdown();
  await drt.shutdown();
} finally {
  await mock.stop(30_000);
  await cluster.stop();
}
console.log(
  `# soak (${machine()}, ${SECONDS} s, ${WORKERS} mock workers in another process with 1 event/s each, ${RATE} streamed requests/s through an instrumented endpoint, /metrics scraped every second)\n`,
);
console.log(
  table(
    ['at', 'RSS MiB', 'heap MiB', 'handles', 'max event-loop stall ms', 'slowest scrape ms', 'workers', 'requests sent', 'requests failed'],
    rows,
  ),
);
console.log(`\nscrapes: ${scrapes}, failed: ${failedScrapes}`);
if (windows.length >= 2) {
  const second = windows[1]!;
  const lastWindow = windows.at(-1)!;
  goal('requests failed', requestsFailed, '<=', 0, '');
  goal('scrapes failed (of one a second)', failedScrapes, '<=', 0, '');
  goal(
    `windows in which the aggregator held fewer than ${WORKERS} workers`,
    windows.filter((w) => w.workers < WORKERS).length,
    '<=',
    0,
    '',
  );
  goal('longest event-loop stall of the run', Math.max(...windows.map((w) => w.stallMs)), '<=', 100, 'ms');
  goal('RSS of the last window / the second (memory flat)', lastWindow.rss / second.rss, '<=', 1.1, 'x');
  goal('heap of the last window / the second (memory flat)', lastWindow.heap / second.heap, '<=', 1.1, 'x');
  console.log(`\n${table(['goal', 'figure', 'target', 'verdict'], goalRows())}`);
  verdict();
}
