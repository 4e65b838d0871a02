/**
 * Per-request cost of the automatic endpoint instrumentation: the same handler called in-process
 * bare, wrapped the way the runtime wraps it (our observer), and wrapped by an equivalent
 * prom-client instrumentation; then end-to-end NATS request throughput through the runtime with
 * the instrumentation against without it, on the same server in the same run.
 *
 *   npm run bench -- bench/instrumentation.bench.ts
 */
import client from 'prom-client';
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { connectInstrumented } from '../instrumentation/index.ts';
import { EndpointMetrics } from '../instrumentation/EndpointMetrics.ts';
import { DistributedRuntime } from '../src/runtime/index.ts';
import { startCluster } from '../test/support/servers.ts';
import { fmt, machine, summarize, table } from './stats.ts';
import { goal, goalRows, verdict } from './goals.ts';

const N = Number(process.env.BENCH_CALLS ?? 2_000_000);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 120_000);
/** Pairs of end-to-end blocks, one bare and one instrumented each. */
const PAIRS = 12;
const CONCURRENCY = 64;

const payload = new Uint8Array(120);
let sink = 0;
function handler(req: Uint8Array): Uint8Array {
  sink += req.length;
  return req;
}

// ours: exactly the calls EndpointServer makes around a handler
const stats = new EndpointMetrics().observer({ namespace: 'dynamo', component: 'backend', endpoint: 'generate' });
function ours(): void {
  const start = performance.now();
  stats.requestStarted(payload.length);
  const out = handler(payload);
  stats.responseBytes(out.length);
  stats.requestFinished((performance.now() - start) / 1000);
}

// prom-client: the same six metrics, the same three labels
const reg = new client.Registry();
const labelNames = ['dynamo_namespace', 'dynamo_component', 'dynamo_endpoint'];
const pRequests = new client.Counter({ name: 'r_total', help: 'r', labelNames, registers: [reg] });
const pReqBytes = new client.Counter({ name: 'rb_total', help: 'rb', labelNames, registers: [reg] });
const pRespBytes = new client.Counter({ name: 'sb_total', help: 'sb', labelNames, registers: [reg] });
const pInflight = new client.Gauge({ name: 'i', help: 'i', labelNames, registers: [reg] });
const pDuration = new client.Histogram({
  name: 'd_seconds',
  help: 'd',
  labelNames,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [reg],
});
const labels = { dynamo_namespace: 'dynamo', dynamo_component: 'backend', dynamo_endpoint: 'generate' };
const cRequests = pRequests.labels(labels);
const cReqBytes = pReqBytes.labels(labels);
const cRespBytes = pRespBytes.labels(labels);
const cInflight = pInflight.labels(labels);
const cDuration = pDuration.labels(labels);
function promClient(): void {
  const start = performance.now();
  cRequests.inc();
  cReqBytes.inc(payload.length);
  cInflight.inc();
  const out = handler(payload);
  cRespBytes.inc(out.length);
  cInflight.dec();
  cDuration.observe((performance.now() - start) / 1000);
}
// the OTel SDK's synchronous instruments: the same six metrics through a MeterProvider (what the
// request path would cost had it recorded through OTel instruments instead of plain numbers)
const otelMeter = new MeterProvider({
  readers: [
    new PeriodicExportingMetricReader({
      exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE),
      exportIntervalMillis: 3_600_000,
    }),
  ],
}).getMeter('bench');
const oRequests = otelMeter.createCounter('r_total');
const oReqBytes = otelMeter.createCounter('rb_total');
const oRespBytes = otelMeter.createCounter('sb_total');
const oInflight = otelMeter.createUpDownCounter('i');
const oDuration = otelMeter.createHistogram('d_seconds', {
  advice: { explicitBucketBoundaries: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] },
});
function otelSdk(): void {
  const start = performance.now();
  oRequests.add(1, labels);
  oReqBytes.add(payload.length, labels);
  oInflight.add(1, labels);
  const out = handler(payload);
  oRespBytes.add(out.length, labels);
  oInflight.add(-1, labels);
  oDuration.record((performance.now() - start) / 1000, labels);
}
function bare(): void {
  handler(payload);
}

function nsPerCall(fn: () => void, n: number): number {
  const t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn();
  return Number(process.hrtime.bigint() - t) / n;
}

for (const fn of [bare, ours, promClient, otelSdk]) nsPerCall(fn, 200_000);
const results: Record<string, number[]> = { bare: [], ours: [], promClient: [], otelSdk: [] };
for (let r = 0; r < 5; r++) {
  results.bare!.push(nsPerCall(bare, N / 5));
  results.ours!.push(nsPerCall(ours, N / 5));
  results.promClient!.push(nsPerCall(promClient, N / 5));
  results.otelSdk!.push(nsPerCall(otelSdk, N / 10));
}
// per chunk of a stream: exactly what EndpointServer adds for the streaming histograms (a clock
// read and the observer call) against the same loop without them
const streamStats = new EndpointMetrics().observer({ namespace: 'dynamo', component: 'backend', endpoint: 'stream' });
let chunkStart = performance.now();
let lastChunk = 0;
let chunkNo = 0;
function chunkWith(): void {
  streamStats.responseBytes(payload.length);
  const now = performance.now();
  streamStats.streamChunk((now - chunkStart) / 1000, chunkNo === 0 ? undefined : (now - lastChunk) / 1000);
  lastChunk = now;
  if (++chunkNo === 100) {
    streamStats.streamFinished(chunkNo);
    chunkNo = 0;
    chunkStart = now;
  }
}
function chunkWithout(): void {
  streamStats.responseBytes(payload.length);
  if (++chunkNo === 100) chunkNo = 0;
}
for (const fn of [chunkWith, chunkWithout]) nsPerCall(fn, 200_000);
const chunkResults: Record<string, number[]> = { with: [], without: [] };
for (let r = 0; r < 5; r++) {
  chunkResults.without!.push(nsPerCall(chunkWithout, N / 5));
  chunkResults.with!.push(nsPerCall(chunkWith, N / 5));
}
const perChunk = summarize(chunkResults.with!).median - summarize(chunkResults.without!).median;
goal('added per streamed chunk by time-to-first-chunk / inter-chunk recording', perChunk, '<=', 300, 'ns');

const b = summarize(results.bare!).median;
const o = summarize(results.ours!).median;
const p = summarize(results.promClient!).median;
const os = summarize(results.otelSdk!).median;
goal('added per request by our instrumentation, in-process', o - b, '<=', 1000, 'ns');

// end to end through NATS
const cluster = await startCluster();
const env = { nats: { servers: [cluster.nats.url] }, etcd: { endpoints: [cluster.etcd.url] } };
const withObs = await connectInstrumented({ ...env, systemStatus: false });
const without = await DistributedRuntime.connect(env); // no instrumentation: endpoints observed by a no-op
await withObs
  .namespace('bench')
  .component('c')
  .endpoint('instrumented')
  .serve((r: Uint8Array) => r, { decode: 'bytes' });
await without
  .namespace('bench')
  .component('c')
  .endpoint('bare')
  .serve((r: Uint8Array) => r, { decode: 'bytes' });
const clientRt = await DistributedRuntime.connect(env);
const cInstr = await clientRt.namespace('bench').component('c').endpoint('instrumented').client();
const cBare = await clientRt.namespace('bench').component('c').endpoint('bare').client();
await cInstr.waitForInstances(1);
await cBare.waitForInstances(1);
/** CPU time of this process (client and both servers) per request in the last block, µs. */
let lastCpuPerRequest = 0;
async function throughput(c: typeof cBare, total: number): Promise<number> {
  global.gc?.(); // each block starts from a collected heap, so no block pays for another's garbage
  let issued = 0;
  const cpu = process.cpuUsage();
  const t = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (issued++ < total) await c.roundRobin(payload).collect();
    }),
  );
  const elapsed = performance.now() - t;
  const used = process.cpuUsage(cpu);
  lastCpuPerRequest = (used.user + used.system) / total;
  return total / (elapsed / 1000);
}
await throughput(cInstr, 5000);
await throughput(cBare, 5000);
// pairs of blocks in ABBA order (bare first, then instrumented first, ...), so a drift of the
// machine's speed during the run weighs on both sides alike; the figure is the median of the
// per-pair ratios
const tpI: number[] = [];
const tpB: number[] = [];
const pairRatios: number[] = [];
const cpuI: number[] = [];
const cpuB: number[] = [];
for (let r = 0; r < PAIRS; r++) {
  const block = REQUESTS / PAIRS;
  let bare: number;
  let instr: number;
  if (r % 2 === 0) {
    bare = await throughput(cBare, block);
    cpuB.push(lastCpuPerRequest);
    instr = await throughput(cInstr, block);
    cpuI.push(lastCpuPerRequest);
  } else {
    instr = await throughput(cInstr, block);
    cpuI.push(lastCpuPerRequest);
    bare = await throughput(cBare, block);
    cpuB.push(lastCpuPerRequest);
  }
  tpB.push(bare);
  tpI.push(instr);
  pairRatios.push(instr / bare);
}
const ti = summarize(tpI).median;
const tb = summarize(tpB).median;
const ratio = summarize(pairRatios).median;
const cpuAdded = summarize(cpuI).median - summarize(cpuB).median;
goal(`end-to-end throughput with instrumentation / without (median of ${PAIRS} paired blocks)`, ratio, '>=', 0.97, 'x');
await clientRt.shutdown();
await withObs.shutdown();
await without.shutdown();
await cluster.stop();

console.log(
  `# endpoint instrumentation (${machine()}; in-process: median of 5 blocks of ${N / 5} calls; end to end: ${PAIRS} pairs of blocks in ABBA order, ${REQUESTS} requests at concurrency ${CONCURRENCY})\n`,
);
console.log(
  table(
    ['what', 'value'],
    [
      ['bare handler, ns/call', fmt(b, 1)],
      ['with our instrumentation, ns/call', fmt(o, 1)],
      ['with prom-client instrumentation, ns/call', fmt(p, 1)],
      ['added by ours, ns/request', fmt(o - b, 1)],
      ['added by prom-client, ns/request', fmt(p - b, 1)],
      ['added by the OTel SDK synchronous instruments (6 calls), ns/request', fmt(os - b, 1)],
      ['OTel SDK, ns per instrument call', fmt((os - b) / 6, 1)],
      ['end to end without instrumentation, req/s', fmt(tb, 0)],
      ['end to end with instrumentation, req/s', fmt(ti, 0)],
      ['throughput ratio with/without, median of the pairs', fmt(ratio, 3)],
      ['throughput ratio with/without, range of the pairs', `${fmt(Math.min(...pairRatios), 3)}–${fmt(Math.max(...pairRatios), 3)}`],
      ['end to end, CPU of the process per request without instrumentation, µs', fmt(summarize(cpuB).median, 2)],
      ['end to end, CPU of the process per request with instrumentation, µs', fmt(summarize(cpuI).median, 2)],
      ['end to end, CPU added per request by instrumentation, µs', fmt(cpuAdded, 2)],
      ['per streamed chunk: stream latency recording added, ns/chunk', fmt(perChunk, 1)],
    ],
  ),
);
console.log('');
console.log(table(['goal', 'figure', 'target', 'verdict'], goalRows()));
verdict();
if (sink < 0) console.log(sink);
