/**
 * `/metrics` render time at 1,000 and 10,000 series: our pipeline (OTel SDK collection + our
 * serializer, for SDK instruments and for snapshot gauges) against prom-client rendering the same
 * series in the same run; the longest event-loop stall during a real HTTP scrape; and what a
 * scrape with basic auth answers an unknown user against a known user with a wrong password (bcrypt
 * cost 10 and 12, each request from its own loopback address so that the per-source failure limit
 * never answers for the comparison).
 *
 *   npm run bench -- bench/export.bench.ts
 */
import { request } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import bcrypt from 'bcryptjs';
import { DataPointType, type ScopeMetrics } from '@opentelemetry/sdk-metrics';
import client from 'prom-client';
import { loadExportConfig } from '../src/export/options.ts';
import { MetricsPipeline } from '../src/export/index.ts';
import type { PullMetricReader } from '../src/export/PullMetricReader.ts';
import { serializePrometheus } from '../src/export/PrometheusSerializer.ts';
import { freePort, tempDir } from '../test/support/process.ts';
import { fmt, machine, summarize, table } from './stats.ts';
import { goal, goalRows, verdict } from './goals.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 30);

async function time(n: number, fn: () => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn();
    out.push(performance.now() - t);
  }
  return out;
}

function workerId(i: number): string {
  return (7587884888253033398n + BigInt(i)).toString();
}

const rows: (string | number)[][] = [];
for (const n of [1_000, 10_000]) {
  // our pipeline: SDK counter + snapshot gauges, n series each
  const port = await freePort();
  const p = new MetricsPipeline(
    loadExportConfig(
      { argv: ['--prometheus-host', '127.0.0.1', '--prometheus-port', String(port), '--cardinality-limit', '100000'], env: {} },
      { serviceName: 'bench' },
    ),
    { global: false },
  );
  const counter = p.meter('bench').createCounter('bench_requests_total', { description: 'requests' });
  for (let i = 0; i < n; i++) counter.add(i, { component: 'backend', endpoint: 'generate', worker_id: workerId(i) });
  const points = Array.from({ length: n }, (_, i) => ({
    attributes: { component: 'backend', endpoint: 'generate', worker_id: workerId(i) },
    startTime: [0, 0] as [number, number],
    endTime: [0, 0] as [number, number],
    value: i % 100,
  }));
  let snapshotOn = false;
  p.snapshots.add(
    (): ScopeMetrics => ({
      scope: { name: 'bench-snapshot' },
      metrics: snapshotOn
        ? [
            {
              descriptor: { name: 'bench_kv_blocks_active', description: 'blocks', unit: '', valueType: 1 },
              dataPointType: DataPointType.GAUGE,
              aggregationTemporality: 1,
              dataPoints: points,
            },
          ]
        : [],
    }),
  );
  await p.start();
  const reader = (p.prometheusServer as unknown as { reader: PullMetricReader }).reader;
  const render = async (): Promise<string> => serializePrometheus(await reader.collectAll(10_000));

  // prom-client: the same n counter series
  const registry = new client.Registry();
  const pc = new client.Counter({
    name: 'bench_requests_total',
    help: 'requests',
    labelNames: ['component', 'endpoint', 'worker_id'],
    registers: [registry],
  });
  for (let i = 0; i < n; i++) pc.inc({ component: 'backend', endpoint: 'generate', worker_id: workerId(i) }, i);
  const pcGauge = new client.Gauge({
    name: 'bench_kv_blocks_active',
    help: 'blocks',
    labelNames: ['component', 'endpoint', 'worker_id'],
    registers: [],
  });
  for (let i = 0; i < n; i++) pcGauge.set({ component: 'backend', endpoint: 'generate', worker_id: workerId(i) }, i % 100);
  const gaugeRegistry = new client.Registry();
  gaugeRegistry.registerMetric(pcGauge);

  await time(5, render);
  await time(5, () => registry.metrics());
  const ours: number[] = [];
  const theirs: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    ours.push(...(await time(1, render)));
    theirs.push(...(await time(1, () => registry.metrics())));
  }
  snapshotOn = true;
  const oursSnap: number[] = [];
  const theirsGauge: number[] = [];
  const onlySnapshots = async (): Promise<string> => {
    const rm = await reader.collectAll(10_000);
    return serializePrometheus({ ...rm, scopeMetrics: rm.scopeMetrics.filter((s) => s.scope.name === 'bench-snapshot') });
  };
  await time(5, onlySnapshots);
  for (let r = 0; r < ROUNDS; r++) {
    oursSnap.push(...(await time(1, onlySnapshots)));
    theirsGauge.push(...(await time(1, () => gaugeRegistry.metrics())));
  }
  // real scrapes over HTTP, watching the event loop: n series (the SDK counter), then 2n (with the gauges)
  const scrape = async (): Promise<{ ms: number[]; bytes: number; maxDelayMs: number }> => {
    const h = monitorEventLoopDelay({ resolution: 1 });
    h.enable();
    const ms: number[] = [];
    let bytes = 0;
    for (let r = 0; r < 10; r++) {
      const t0 = performance.now();
      const body = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      ms.push(performance.now() - t0);
      bytes = body.length;
    }
    h.disable();
    return { ms, bytes, maxDelayMs: h.max / 1e6 };
  };
  snapshotOn = false;
  const single = await scrape();
  snapshotOn = true;
  const double = await scrape();
  const o = summarize(ours);
  const t = summarize(theirs);
  const os = summarize(oursSnap);
  const tg = summarize(theirsGauge);

  rows.push([`${n} counter series (SDK instrument)`, fmt(o.median, 2), fmt(t.median, 2), fmt(o.median / t.median, 2), '']);
  rows.push([`${n} gauge series (snapshot producer)`, fmt(os.median, 2), fmt(tg.median, 2), fmt(os.median / tg.median, 2), '']);
  goal(`render of ${n} counter series / prom-client's`, o.median / t.median, '<=', 1, 'x');
  goal(`render of ${n} gauge series / prom-client's`, os.median / tg.median, '<=', 1, 'x');
  if (n >= 10_000) goal(`longest event-loop stall during scrapes of ${n} series`, single.maxDelayMs, '<=', 50, 'ms');
  for (const [count, r] of [
    [n, single],
    [2 * n, double],
  ] as const) {
    rows.push([
      `HTTP scrape of ${count} series (${(r.bytes / 1024).toFixed(0)} KiB)`,
      fmt(summarize(r.ms).median, 2),
      '',
      '',
      `${fmt(r.maxDelayMs, 1)} ms`,
    ]);
  }
  await p.shutdown();
}

// basic auth: an unknown user and a known user's wrong password, interleaved, each from its own
// loopback address (127.0.0.2 and up): the answer must not tell them apart by its time
const AUTH_ROUNDS = Number(process.env.BENCH_AUTH_ROUNDS ?? 20);
const authRows: string[][] = [];
async function status(port: number, user: string, from: string): Promise<{ ms: number; code: number }> {
  const t0 = performance.now();
  const code = await new Promise<number>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/metrics', localAddress: from, auth: `${user}:wrong-password` }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
  return { ms: performance.now() - t0, code };
}
for (const cost of [10, 12]) {
  const dir = tempDir('bench-auth-');
  const file = join(dir, 'web.yml');
  writeFileSync(file, `basic_auth_users:\n  prometheus: ${JSON.stringify(bcrypt.hashSync('right-password', cost))}\n`);
  const port = await freePort();
  const p = new MetricsPipeline(
    loadExportConfig(
      { argv: ['--prometheus-host', '127.0.0.1', '--prometheus-port', String(port), '--web.config.file', file], env: {} },
      { serviceName: 'bench' },
    ),
    { global: false },
  );
  await p.start();
  const unknown: number[] = [];
  const wrong: number[] = [];
  let source = 2;
  const next = (): string => `127.0.${Math.floor(source / 250)}.${(source++ % 250) + 2}`;
  await status(port, 'prometheus', next()); // warm-up
  for (let r = 0; r < AUTH_ROUNDS; r++) {
    for (const [user, into] of r % 2 === 0
      ? ([
          ['nobody', unknown],
          ['prometheus', wrong],
        ] as const)
      : ([
          ['prometheus', wrong],
          ['nobody', unknown],
        ] as const)) {
      const a = await status(port, user, next());
      if (a.code !== 401) throw new Error(`basic auth bench: expected 401, got ${a.code}`);
      into.push(a.ms);
    }
  }
  await p.shutdown();
  const u = summarize(unknown).median;
  const w = summarize(wrong).median;
  authRows.push([`cost ${cost}`, fmt(u, 1), fmt(w, 1), fmt(u / w, 3)]);
  goal(`basic auth at cost ${cost}: unknown user / wrong password, median answer`, Math.max(u / w, w / u), '<=', 1.1, 'x (either way)');
}

console.log(`# /metrics render (${machine()}, median of ${ROUNDS} interleaved renders, ms)\n`);
console.log(table(['what', 'ours ms', 'prom-client ms', 'ratio', 'max event-loop delay'], rows));
console.log(`\n## basic auth: 401 answers, median of ${AUTH_ROUNDS} each, interleaved, one source address per request\n`);
console.log(table(['bcrypt', 'unknown user ms', 'wrong password ms', 'ratio'], authRows));
console.log('');
console.log(table(['goal', 'figure', 'target', 'verdict'], goalRows()));
verdict();
