/**
 * `npm run demo`: the main job end to end on this machine. Starts nats-server and etcd on
 * loopback in a temp dir, the seed's mock workers, simulated LLM workers serving a model, the
 * OpenAI frontend, a load generator sending it traffic, and the `metrics` aggregator over both,
 * prints where to look and a few aggregated lines, and cleans everything up on Ctrl-C (or after
 * --duration).
 *
 *   npm run demo -- [--workers N] [--duration SECONDS] [--port N] [--push] [--with-prometheus]
 */
import { parseArgs } from 'node:util';
import { type ManagedProcess, freePort, sleep, tcpAccepts } from '../test/support/process.ts';
import { startEtcd, startNats, startPrometheus, startPushGateway, type Server } from '../test/support/servers.ts';
import { startScript, waitForLine } from '../test/support/workers.ts';
import { sample, series } from '../test/support/exposition.ts';

/** The model the simulated workers serve. */
const DEMO_MODEL = 'demo-llama';

const USAGE = `Usage: npm run demo -- [options]

Runs NATS, etcd, mock workers, simulated LLM workers behind the OpenAI frontend with a load
generator, and the metrics aggregator locally, and shows the aggregated metrics.

  --workers N          mock_worker processes to start (default 2)
  --workers-per-process N  workers inside each mock_worker process (default 1)
  --llm-workers N      simulated workers serving the model ${DEMO_MODEL} (default 4; 0: no frontend, no load)
  --frontend-port N    port of the OpenAI frontend (default 8000, or a free one if taken)
  --rate R             requests per second the load generator sends (default 4)
  --duration SECONDS   stop by itself after this long (default: run until Ctrl-C)
  --port N             port of the metrics /metrics server (default 9091, or a free one if taken)
  --push               also push to a local PushGateway (started here)
  --with-prometheus    also start a local Prometheus (UI on http://127.0.0.1:9090) scraping it all
  -h, --help           this help
`;

function fail(msg: string): never {
  process.stderr.write(`demo: error: ${msg}\n`);
  process.exit(2);
}

let args: ReturnType<typeof parseArgs>['values'];
try {
  args = parseArgs({
    options: {
      workers: { type: 'string', default: '2' },
      'workers-per-process': { type: 'string', default: '1' },
      duration: { type: 'string' },
      port: { type: 'string' },
      'llm-workers': { type: 'string', default: '4' },
      'frontend-port': { type: 'string' },
      rate: { type: 'string', default: '4' },
      push: { type: 'boolean', default: false },
      'with-prometheus': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  }).values;
} catch (err) {
  fail(`${(err as Error).message} (see --help)`);
}
if (args.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const int = (name: string, v: unknown, min: number, max: number): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) fail(`--${name} ${String(v)}: use a whole number ${min}..${max}`);
  return n;
};
const workerProcs = int('workers', args.workers, 1, 64);
const perProcess = int('workers-per-process', args['workers-per-process'], 1, 10_000);
const durationS = args.duration === undefined ? undefined : int('duration', args.duration, 1, 86_400);
const llmWorkers = int('llm-workers', args['llm-workers'], 0, 1_000);
const rate = int('rate', args.rate, 1, 1_000);

const servers: Server[] = [];
const procs: ManagedProcess[] = [];
let stopping = false;
async function cleanup(code: number): Promise<never> {
  if (stopping) process.exit(code);
  stopping = true;
  process.stdout.write('\nstopping everything...\n');
  for (const p of procs.reverse()) await p.stop(5000);
  for (const s of servers.reverse()) await s.stop();
  process.exit(code);
}
process.on('SIGINT', () => void cleanup(0));
process.on('SIGTERM', () => void cleanup(0));

/** Waits until the frontend lists the model (its workers' cards are read from etcd). */
async function waitForModel(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const res = await fetch(`http://127.0.0.1:${port}/v1/models`).catch(() => undefined);
    const ids = res?.ok ? ((await res.json()) as { data: { id: string }[] }).data.map((d) => d.id) : [];
    if (ids.includes(DEMO_MODEL)) return;
    await sleep(100);
  }
  throw new Error(`the frontend does not list ${DEMO_MODEL}`);
}

try {
  const port = args.port !== undefined ? int('port', args.port, 1, 65535) : (await tcpAccepts(9091)) ? await freePort() : 9091;
  // the page first: open it now, it fills in as soon as the aggregator runs
  console.log(`Status page: http://127.0.0.1:${port}/   (open it in a browser; live once the aggregator below has started)\n`);
  const [nats, etcd] = await Promise.all([startNats(), startEtcd()]);
  servers.push(nats, etcd);
  const env = { ...process.env, NATS_SERVER: nats.url, ETCD_ENDPOINTS: etcd.url };
  console.log(`nats-server  ${nats.url}   (logs in ${nats.process.logFile})`);
  console.log(`etcd         ${etcd.url}   (logs in ${etcd.process.logFile})`);

  for (let i = 0; i < workerProcs; i++) {
    const w = startScript('src/cli/mock_worker.ts', ['--workers', String(perProcess)], env);
    procs.push(w);
    await waitForLine(w, /mock worker\(s\) ready/, 60_000);
  }
  console.log(`mock_worker  ${workerProcs} process(es) x ${perProcess} worker(s) on dynamo/my_component/my_endpoint`);
  if (llmWorkers > 0) {
    const sim = startScript(
      'src/cli/mock_worker.ts',
      [
        '--model',
        DEMO_MODEL,
        '--component',
        'backend',
        '--endpoint',
        'generate',
        '--workers',
        String(llmWorkers),
        '--decode-tps',
        '40',
        '--slots',
        '8',
      ],
      env,
    );
    procs.push(sim);
    await waitForLine(sim, /mock worker\(s\) ready/, 60_000);
    console.log(`mock_worker  ${llmWorkers} simulated worker(s) serving ${DEMO_MODEL} on dynamo/backend/generate`);
  }

  const metricsArgs = ['--component', 'my_component', '--endpoint', 'my_endpoint', '--host', '127.0.0.1', '--port', String(port)];
  if (llmWorkers > 0) metricsArgs.push('--target', 'dynamo/backend/generate');
  let pgw: Server | undefined;
  if (args.push) {
    pgw = await startPushGateway();
    servers.push(pgw);
    metricsArgs.push('--exporters', 'prometheus,pushgateway', '--pushgateway-url', pgw.url, '--push-interval', '2s');
    console.log(`pushgateway  ${pgw.url}   (curl ${pgw.url}/metrics)`);
  }
  const metrics = startScript('src/cli/metrics.ts', metricsArgs, env);
  procs.push(metrics);
  await waitForLine(metrics, /Prometheus metrics server started/, 30_000);
  console.log(
    `metrics      aggregating dynamo/my_component/my_endpoint${llmWorkers > 0 ? ' and dynamo/backend/generate' : ''} (logs in ${metrics.logFile})`,
  );
  let frontendPort: number | undefined;
  if (llmWorkers > 0) {
    frontendPort =
      args['frontend-port'] !== undefined
        ? int('frontend-port', args['frontend-port'], 1, 65535)
        : (await tcpAccepts(8000))
          ? await freePort()
          : 8000;
    const frontend = startScript(
      'src/cli/frontend.ts',
      ['--http-host', '127.0.0.1', '--http-port', String(frontendPort), '--router-mode', 'kv'],
      {
        ...env,
        OTEL_SEMCONV_STABILITY_OPT_IN: 'gen_ai_latest_experimental',
      },
    );
    procs.push(frontend);
    await waitForLine(frontend, /OpenAI API at/, 30_000);
    console.log(`frontend     http://127.0.0.1:${frontendPort}/v1   (logs in ${frontend.logFile})`);
    await waitForModel(frontendPort);
    const load = startScript(
      'src/cli/loadgen.ts',
      [
        '--url',
        `http://127.0.0.1:${frontendPort}`,
        '--rate',
        String(rate),
        '--requests',
        '10000000',
        '--isl',
        '200',
        '--isl-stddev',
        '60',
        '--osl',
        '40',
        '--osl-stddev',
        '15',
        '--prefix-share',
        '0.5',
      ],
      env,
    );
    procs.push(load);
    console.log(`loadgen      ${rate} chat completions/s to ${DEMO_MODEL}, half of them reusing a shared prefix`);
  }
  if (args['with-prometheus']) {
    const prom = await startPrometheus(
      [
        { job: 'dynamo_metrics', target: `127.0.0.1:${port}` },
        ...(frontendPort !== undefined ? [{ job: 'dynamo_frontend', target: `127.0.0.1:${frontendPort}` }] : []),
        ...(pgw ? [{ job: 'pushgateway', target: `127.0.0.1:${pgw.port}`, honorLabels: true }] : []),
      ],
      '2s',
      (await tcpAccepts(9090)) ? undefined : 9090,
    );
    servers.push(prom);
    console.log(`prometheus   ${prom.url}   (open it in a browser; try llm_kv_blocks_active or llm_load_avg)`);
  }
  console.log(
    `\nWhere to look:\n  http://127.0.0.1:${port}/          the status page\n  curl 127.0.0.1:${port}/metrics   the metrics\n  curl 127.0.0.1:${port}/api/status the page's data as JSON\n${
      frontendPort !== undefined
        ? `  curl 127.0.0.1:${frontendPort}/v1/chat/completions -H 'Content-Type: application/json' -d '{"model":"${DEMO_MODEL}","messages":[{"role":"user","content":"hello"}],"max_tokens":8}'\n  curl -s 127.0.0.1:${frontendPort}/metrics | grep dynamo_frontend\n`
        : ''
    }\nPress Ctrl-C to stop.${durationS ? ` (stopping by itself after ${durationS}s)` : ''}\n`,
  );

  const deadline = durationS === undefined ? Infinity : Date.now() + durationS * 1000;
  while (Date.now() < deadline && !stopping) {
    await sleep(Math.min(3000, Math.max(0, deadline - Date.now())));
    if (stopping) break;
    try {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      const lbl = { component: 'my_component', endpoint: 'my_endpoint' };
      const mine = (name: string) => series(text, name).filter((x) => x.labels.component === 'my_component');
      const kv = mine('llm_kv_blocks_active');
      const hit = mine('llm_kv_hit_rate_percent');
      const avg = sample(text, 'llm_load_avg', lbl);
      const std = sample(text, 'llm_load_std', lbl);
      console.log(
        `${new Date().toISOString()}  workers=${kv.length}  llm_load_avg=${avg?.toFixed(2) ?? '-'}  llm_load_std=${std?.toFixed(2) ?? '-'}`,
      );
      for (const s of kv.slice(0, 4)) {
        const h = hit.find((x) => x.labels.worker_id === s.labels.worker_id);
        console.log(
          `    worker ${s.labels.worker_id}: llm_kv_blocks_active=${s.value}  llm_kv_hit_rate_percent=${h ? h.value.toFixed(1) : '-'}`,
        );
      }
      if (kv.length > 4) console.log(`    ... and ${kv.length - 4} more`);
      if (frontendPort !== undefined) {
        const fe = await (await fetch(`http://127.0.0.1:${frontendPort}/metrics`)).text();
        const m = { model: DEMO_MODEL };
        const requests = series(fe, 'dynamo_frontend_requests_total').reduce((n, p) => n + p.value, 0);
        const ttftSum = sample(fe, 'dynamo_frontend_time_to_first_token_seconds_sum', m) ?? 0;
        const ttftCount = sample(fe, 'dynamo_frontend_time_to_first_token_seconds_count', m) ?? 0;
        const llm = series(text, 'llm_kv_blocks_active').filter((x) => x.labels.component === 'backend');
        const isl = series(text, 'llm_kv_hit_rate_isl_blocks_total').filter((x) => x.labels.component === 'backend');
        const overlap = series(text, 'llm_kv_hit_rate_overlap_blocks_total').filter((x) => x.labels.component === 'backend');
        const blocks = isl.reduce((n, p) => n + p.value, 0);
        const hits = overlap.reduce((n, p) => n + p.value, 0);
        console.log(
          `    simulated workers: ${llm.length}  KV blocks active=${llm.reduce((n, p) => n + p.value, 0)}  prefix hit rate=${blocks > 0 ? ((100 * hits) / blocks).toFixed(1) : '-'}%`,
        );
        console.log(
          `    frontend ${DEMO_MODEL}: requests=${requests}  active=${sample(fe, 'dynamo_frontend_active_requests', m) ?? 0}  output_tokens=${sample(fe, 'dynamo_frontend_output_tokens_total', m) ?? 0}  mean TTFT=${ttftCount > 0 ? ((1000 * ttftSum) / ttftCount).toFixed(1) : '-'} ms`,
        );
      }
    } catch (err) {
      console.log(`cannot scrape yet: ${(err as Error).message}`);
    }
  }
  await cleanup(0);
} catch (err) {
  process.stderr.write(`demo: error: ${(err as Error).message.split('\n')[0]}\n`);
  await cleanup(1);
}
