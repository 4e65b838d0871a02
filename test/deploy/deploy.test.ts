/**
 * The deployment files are what operators copy into production: the compose file validates with
 * its profiles, Prometheus accepts its config, the Collector config references only components
 * that exist, and every dashboard query returns data from a real Prometheus scraping a live
 * `metrics` with mock workers and a live `system_server` with traffic.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { connectInstrumented } from '../../instrumentation/index.ts';
import { cleanups, freePort, tempDir, waitUntil, ManagedProcess } from '../support/process.ts';
import { PrometheusServer, testCluster } from '../support/servers.ts';
import { startMetrics, startMockWorker } from '../support/aggregator.ts';
import { clusterEnv, startScript, waitForLine } from '../support/workers.ts';
import { collectorConfigErrors, expandEnv, mergeConfigs, type CollectorConfig } from '../support/collectorConfig.ts';
import { runLoad } from '../../src/loadgen/LoadGenerator.ts';
import { workload } from '../../src/loadgen/workload.ts';
import { startSimulatedWorkers, startTestFrontend, waitForModel } from '../support/llm.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const read = (p: string): string => readFileSync(join(ROOT, p), 'utf8');

/**
 * Components of the OpenTelemetry Collector contrib distribution 0.135.0 (its builder manifest,
 * distributions/otelcol-contrib/manifest.yaml in opentelemetry-collector-releases) that this
 * project's config may use. docker-compose.yml pins the same version.
 */
const CONTRIB_VERSION = '0.135.0';
const CONTRIB: Record<string, string[]> = {
  receivers: [
    'otlp',
    'prometheus',
    'hostmetrics',
    'filelog',
    'kafka',
    'jaeger',
    'zipkin',
    'nop',
    'statsd',
    'carbon',
    'influxdb',
    'prometheus_simple',
    'k8s_cluster',
    'kubeletstats',
    'docker_stats',
  ],
  processors: [
    'batch',
    'memory_limiter',
    'attributes',
    'resource',
    'filter',
    'transform',
    'cumulativetodelta',
    'deltatocumulative',
    'metricstransform',
    'resourcedetection',
    'k8sattributes',
    'groupbyattrs',
    'interval',
  ],
  exporters: [
    'debug',
    'nop',
    'otlp',
    'otlphttp',
    'prometheus',
    'prometheusremotewrite',
    'file',
    'kafka',
    'loadbalancing',
    'datadog',
    'elasticsearch',
    'googlecloud',
    'googlemanagedprometheus',
    'awsemf',
    'azuremonitor',
    'influxdb',
    'signalfx',
    'splunk_hec',
    'zipkin',
  ],
  extensions: ['health_check', 'pprof', 'zpages', 'basicauth', 'bearertokenauth', 'headers_setter', 'oauth2client', 'file_storage'],
};

test('docker-compose.yml is valid with its profiles; images are pinned', () => {
  const normalized = execFileSync('docker-compose', ['-f', join(ROOT, 'docker-compose.yml'), '--profile', 'metrics', 'config'], {
    encoding: 'utf8',
    cwd: ROOT,
  });
  const cfg = parseYaml(normalized) as { services: Record<string, { image: string; profiles?: string[]; ports?: unknown[] }> };
  const always = Object.entries(cfg.services)
    .filter(([, s]) => !s.profiles?.length)
    .map(([n]) => n)
    .sort();
  const metrics = Object.entries(cfg.services)
    .filter(([, s]) => s.profiles?.includes('metrics'))
    .map(([n]) => n)
    .sort();
  assert.deepEqual(always, ['etcd', 'nats']);
  assert.deepEqual(metrics, ['grafana', 'metrics', 'otel-collector', 'prometheus', 'pushgateway']);
  for (const [name, s] of Object.entries(cfg.services)) {
    assert.match(s.image, /:[^:]+$/, `${name} has a tag`);
    assert.doesNotMatch(s.image, /:latest$/, `${name} is pinned`);
  }
  assert.match(cfg.services['otel-collector']!.image, new RegExp(`contrib:${CONTRIB_VERSION.replaceAll('.', '\\.')}$`));
  const raw = read('docker-compose.yml');
  assert.match(raw, /"-js"/, 'JetStream on');
  assert.match(raw, /8222/, 'NATS monitoring port');
  for (const port of ['9090:9090', '4317:4317', '4318:4318', '3001:3000']) assert.ok(raw.includes(port), port);
});

test('promtool accepts config/prometheus.yml; the PushGateway job honours labels', () => {
  execFileSync('promtool', ['check', 'config', join(ROOT, 'config', 'prometheus.yml')], { stdio: 'pipe' });
  const cfg = parseYaml(read('config/prometheus.yml')) as { scrape_configs: { job_name: string; honor_labels?: boolean }[] };
  const jobs = Object.fromEntries(cfg.scrape_configs.map((j) => [j.job_name, j]));
  assert.deepEqual(Object.keys(jobs).sort(), ['dynamo_frontend', 'dynamo_metrics', 'dynamo_workers', 'otel_collector', 'pushgateway']);
  assert.equal(jobs.pushgateway!.honor_labels, true);
  assert.equal(jobs.otel_collector!.honor_labels, true, 'the job and instance the Collector gives each pushing process');
});

/** The environment docker-compose gives the Collector (its defaults resolved), for the given compose files and variables. */
function collectorEnv(files: string[], vars: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string | undefined> = { ...process.env, ...vars };
  for (const k of ['APM_OTLP_ENDPOINT', 'APM_API_KEY']) if (!(k in vars)) delete env[k];
  const out = execFileSync('docker-compose', [...files.flatMap((f) => ['-f', join(ROOT, f)]), '--profile', 'metrics', 'config'], {
    encoding: 'utf8',
    cwd: ROOT,
    env,
    stdio: 'pipe',
  });
  const svc = (
    parseYaml(out) as {
      services: Record<
        string,
        { environment?: Record<string, string>; command?: string[]; volumes?: { source: string; target: string }[] }
      >;
    }
  ).services['otel-collector']!;
  return svc.environment ?? {};
}

function checkComponentsExist(cfg: CollectorConfig): void {
  for (const kind of ['receivers', 'processors', 'exporters', 'extensions'] as const) {
    for (const id of Object.keys(cfg[kind] ?? {}))
      assert.ok(CONTRIB[kind]!.includes(id.split('/')[0]!), `${kind} ${id} is not in otelcol-contrib ${CONTRIB_VERSION}`);
  }
  for (const [name, p] of Object.entries(cfg.service.pipelines)) {
    assert.match(name, /^metrics(\/|$)/);
    assert.equal(p.processors?.[0], 'memory_limiter', `${name}: memory_limiter first`);
    assert.ok(p.processors?.includes('batch'));
  }
}

test("otel-collector.yaml starts under compose's defaults: every component the contrib distribution has, the Collector's validation rules met", () => {
  const raw = parseYaml(read('otel-collector.yaml')) as CollectorConfig;
  checkComponentsExist(raw);
  const cfg = expandEnv(raw, collectorEnv(['docker-compose.yml']));
  assert.deepEqual(collectorConfigErrors(cfg), []);
  // one path per series: the Collector reads OTLP only (Prometheus scrapes /metrics directly)
  assert.deepEqual(Object.keys(cfg.receivers ?? {}), ['otlp']);
});

test('the vendor pipeline is opt-in: docker-compose.vendor.yml adds it, refuses to start without its endpoint and key, and the merged config is valid', () => {
  const base = parseYaml(read('otel-collector.yaml')) as CollectorConfig;
  const vendor = parseYaml(read('config/otel-collector.vendor.yaml')) as CollectorConfig;
  const merged = mergeConfigs(base, vendor) as CollectorConfig;
  checkComponentsExist(merged);
  assert.deepEqual(Object.keys(merged.service.pipelines).sort(), ['metrics', 'metrics/vendor']);
  const exporter = merged.exporters!['otlphttp/vendor'] as { endpoint: string; headers: Record<string, string> };
  assert.match(exporter.endpoint, /^\$\{env:[A-Z_]+\}$/);
  assert.ok(
    Object.values(exporter.headers).every((v) => /^\$\{env:[A-Z_]+\}$/.test(v)),
    'API key from the environment',
  );
  const files = ['docker-compose.yml', 'docker-compose.vendor.yml'];
  const env = collectorEnv(files, { APM_OTLP_ENDPOINT: 'https://otlp.vendor.example', APM_API_KEY: 'k' });
  assert.deepEqual(collectorConfigErrors(expandEnv(merged, env)), []);
  // without the variables compose itself refuses, with a line saying which
  assert.throws(
    () => collectorEnv(files),
    (err: { stderr?: string }) => /APM_OTLP_ENDPOINT/.test(String(err.stderr)),
  );
  // and the Collector would refuse the vendor pipeline with an empty endpoint (what compose's
  // default of "" gave the exporter in the single-file config before)
  assert.deepEqual(collectorConfigErrors(expandEnv(merged, {})), ['exporters::otlphttp/vendor: at least one endpoint must be specified']);
});

test('the Collector validation rules refuse what the Collector refuses', () => {
  const ok = parseYaml(read('otel-collector.yaml')) as CollectorConfig;
  const broken = (patch: Record<string, unknown>): string[] => collectorConfigErrors(mergeConfigs(ok, patch) as CollectorConfig);
  assert.deepEqual(broken({ receivers: { otlp: { protocols: null } } }), [
    'receivers::otlp: must specify at least one protocol when using the OTLP receiver',
  ]);
  assert.deepEqual(broken({ processors: { memory_limiter: { check_interval: '0s' } } }), [
    "processors::memory_limiter: 'check_interval' must be greater than zero",
  ]);
  assert.deepEqual(broken({ processors: { memory_limiter: { spike_limit_percentage: 80 } } }), [
    "processors::memory_limiter: 'spike_limit_percentage' must be smaller than 'limit_percentage'",
  ]);
  assert.deepEqual(broken({ processors: { batch: { send_batch_max_size: 100 } } }), [
    'processors::batch: send_batch_max_size must be greater or equal to send_batch_size',
  ]);
  assert.deepEqual(broken({ exporters: { prometheus: { endpoint: ' ' } } }), [
    'exporters::prometheus: expecting a non-blank address to run the Prometheus metrics handler',
  ]);
  assert.deepEqual(broken({ service: { pipelines: { metrics: { exporters: [] } } } }), [
    'service::pipelines::metrics: must have at least one exporter',
  ]);
  assert.deepEqual(broken({ service: { pipelines: { metrics: { exporters: ['otlp/nowhere'] } } } }), [
    'service::pipelines::metrics: references exporter "otlp/nowhere" which is not configured',
  ]);
});

interface Dashboard {
  uid: string;
  title: string;
  templating: { list: { name: string; query: { query: string }; datasource: { uid: string } }[] };
  panels: { id: number; title: string; datasource: { uid: string }; targets: { expr: string; datasource: { uid: string } }[] }[];
}

function dashboards(): Dashboard[] {
  const dir = join(ROOT, 'config', 'grafana', 'dashboards');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as Dashboard);
}

test('the dashboards in config/ are what scripts/dashboards.ts generates (edit the script, not the JSON)', async () => {
  const { DASHBOARD_FILES } = await import('../../scripts/dashboards.ts');
  const dir = join(ROOT, 'config', 'grafana', 'dashboards');
  assert.deepEqual(
    readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .sort(),
    Object.keys(DASHBOARD_FILES).sort(),
  );
  for (const [file, d] of Object.entries(DASHBOARD_FILES))
    assert.equal(
      readFileSync(join(dir, file), 'utf8'),
      `${JSON.stringify(d, null, 2)}\n`,
      `${file}: run node --import tsx scripts/dashboards.ts`,
    );
});

test('Grafana provisioning: the datasource uid the dashboards use; dashboards from the mounted folder', () => {
  const ds = parseYaml(read('config/grafana/provisioning/datasources/prometheus.yml')) as { datasources: { uid: string; url: string }[] };
  const dp = parseYaml(read('config/grafana/provisioning/dashboards/dashboards.yml')) as { providers: { options: { path: string } }[] };
  assert.equal(dp.providers[0]!.options.path, '/var/lib/grafana/dashboards');
  assert.ok(read('docker-compose.yml').includes('./config/grafana/dashboards:/var/lib/grafana/dashboards'));
  const uid = ds.datasources[0]!.uid;
  const all = dashboards();
  assert.deepEqual(all.map((d) => d.title).sort(), ['Component Endpoints', 'LLM Serving', 'LLM Worker Metrics', 'Worker KV Cache']);
  const jobs = (parseYaml(read('config/prometheus.yml')) as { scrape_configs: { job_name: string }[] }).scrape_configs.map(
    (j) => j.job_name,
  );
  for (const d of all) {
    assert.equal(new Set(d.panels.map((p) => p.id)).size, d.panels.length, `${d.title}: unique panel ids`);
    // one scrape path per series: every series a panel reads is of a job a variable of the dashboard
    // names (`job`, and `agg_job` for the aggregator's side of LLM Serving), each defaulting to a
    // direct scrape job
    const jobVars = d.templating.list.filter((v) => v.name === 'job' || v.name.endsWith('_job')) as unknown as {
      name: string;
      current: { value: string };
    }[];
    assert.ok(
      jobVars.some((v) => v.name === 'job'),
      `${d.title} has a job variable`,
    );
    for (const v of jobVars) assert.ok(jobs.includes(v.current.value), `${d.title}: ${v.name} reads a direct scrape job by default`);
    for (const p of d.panels) {
      for (const t of p.targets) {
        const selectors = t.expr.match(/[a-z_]+\{[^}]*\}/g) ?? [];
        assert.ok(
          selectors.length > 0 && selectors.every((sel) => jobVars.some((v) => sel.includes(`job="$${v.name}"`))),
          `${d.title} / ${p.title}: ${t.expr}`,
        );
      }
    }
    for (const p of d.panels) {
      assert.equal(p.datasource.uid, uid);
      assert.ok(p.targets.length > 0, p.title);
      for (const t of p.targets) assert.equal(t.datasource.uid, uid);
    }
  }
});

test('every dashboard query returns data from a real Prometheus scraping live processes', async (t) => {
  const { cluster, defer } = await testCluster(t);
  // the mock workers serve their own status server: the Worker KV dashboard reads it, not the aggregator
  const mockPort = await freePort();
  const workers = await startMockWorker(cluster, ['--workers', '3'], {
    DYN_SYSTEM_ENABLED: 'true',
    DYN_SYSTEM_HOST: '127.0.0.1',
    DYN_SYSTEM_PORT: String(mockPort),
  });
  defer(() => workers.proc.stop());
  const m = await startMetrics(cluster, ['--target', 'dynamo/backend/generate']);
  defer(() => m.proc.stop());
  // the LLM stack: simulated workers, the frontend and load with shared prefixes (LLM Serving)
  const llm = await startSimulatedWorkers(cluster, 'dash-llama', 2, { decodeTokensPerSecond: 200 });
  defer(() => llm.stop());
  const fe = await startTestFrontend(cluster, ['--router-mode', 'kv']);
  defer(() => fe.stop());
  await waitForModel(fe, 'dash-llama', 2);
  const loadStop = new AbortController();
  const load = (async () => {
    while (!loadStop.signal.aborted) {
      await runLoad(
        workload({
          requests: 20,
          inputTokens: 80,
          inputTokensStddev: 10,
          outputTokens: 10,
          outputTokensStddev: 2,
          prefixShare: 0.5,
          prefixTokens: 40,
          prefixes: 2,
          blockSize: 16,
          seed: 1,
        }),
        { url: fe.frontend.url, model: 'dash-llama', api: 'chat', stream: true, concurrency: 2, rate: 0, timeoutMs: 10_000, seed: 1 },
      );
    }
  })();
  defer(async () => {
    loadStop.abort();
    await load;
  });
  const sysPort = await freePort();
  const sys = startScript(
    'src/cli/system_server.ts',
    [],
    clusterEnv(cluster, { DYN_SYSTEM_ENABLED: 'true', DYN_SYSTEM_HOST: '127.0.0.1', DYN_SYSTEM_PORT: String(sysPort) }),
  );
  defer(() => sys.stop());
  await waitUntil(
    'system_server to serve (its /health)',
    async () => (await fetch(`http://127.0.0.1:${sysPort}/health`).catch(() => undefined))?.status === 200,
    30_000,
    100,
  );
  // traffic: a request every 50 ms, one in ten undecodable, so that every panel has data
  // the traffic's client is instrumented too (its own status server): the client-side panels read it
  const clientPort = await freePort();
  const drt = await connectInstrumented({
    nats: { servers: [cluster.nats.url] },
    etcd: { endpoints: [cluster.etcd.url] },
    env: { DYN_SYSTEM_ENABLED: 'true', DYN_SYSTEM_HOST: '127.0.0.1', DYN_SYSTEM_PORT: String(clientPort) },
  });
  defer(() => drt.shutdown());
  const client = await drt.namespace('example_namespace').component('example_component').endpoint('example_endpoint').client();
  await client.waitForInstances(1);
  let n = 0;
  const traffic = setInterval(() => {
    const body = n++ % 10 === 9 ? new Uint8Array([0xff]) : { text: `hello world number ${n}` };
    client
      .random(body)
      .collect()
      .catch(() => undefined);
  }, 50);
  defer(() => clearInterval(traffic));

  // Prometheus with config/prometheus.yml, its host targets pointed at the live processes
  const cfg = parseYaml(read('config/prometheus.yml')) as {
    global: Record<string, string>;
    rule_files: string[];
    scrape_configs: { job_name: string; scrape_interval?: string; scrape_timeout?: string; static_configs: { targets: string[] }[] }[];
  };
  const targets: Record<string, string[]> = {
    dynamo_metrics: [`127.0.0.1:${m.port}`],
    dynamo_frontend: [`127.0.0.1:${fe.frontend.port}`],
    dynamo_workers: [`127.0.0.1:${sysPort}`, `127.0.0.1:${mockPort}`, `127.0.0.1:${clientPort}`],
  };
  cfg.scrape_configs = cfg.scrape_configs
    .filter((j) => j.job_name in targets)
    .map((j) => ({ ...j, scrape_interval: '1s', scrape_timeout: '1s', static_configs: [{ targets: targets[j.job_name]! }] }));
  cfg.global = { ...cfg.global, scrape_interval: '1s', evaluation_interval: '1s', scrape_timeout: '1s' };
  cfg.rule_files = [join(ROOT, 'config', 'prometheus', 'alerts.yml')]; // the shipped alerts, evaluated live
  const dir = tempDir('dyn-prom-cfg-');
  const file = join(dir, 'prometheus.yml');
  writeFileSync(file, stringifyYaml(cfg));
  execFileSync('promtool', ['check', 'config', file], { stdio: 'pipe' });
  const port = await freePort();
  const prom = await new PrometheusServer(port, [], '1s', file).start();
  defer(() => prom.stop());

  const vars: Record<string, string> = {
    $component: 'my_component',
    $endpoint: 'my_endpoint',
    $namespace: 'example_namespace',
    $__rate_interval: '15s',
  };
  const fill = (expr: string, d: Dashboard): string => {
    let out = expr;
    if (d.title === 'Component Endpoints') out = out.replaceAll('$component', 'example_component').replaceAll('$endpoint', '.*');
    // the mock workers' own gauges: namespace dynamo
    if (d.title === 'Worker KV Cache') out = out.replaceAll('$namespace', 'dynamo');
    if (d.title === 'LLM Serving') {
      out = out.replaceAll('$agg_job', 'dynamo_metrics').replaceAll('$model', 'dash-llama');
      out = out.replaceAll('$component', 'backend').replaceAll('$endpoint', 'generate');
    }
    out = out.replaceAll(
      '$job',
      d.title === 'LLM Worker Metrics' ? 'dynamo_metrics' : d.title === 'LLM Serving' ? 'dynamo_frontend' : 'dynamo_workers',
    );
    for (const [k, v] of Object.entries(vars)) out = out.replaceAll(k, v);
    return out;
  };
  const exprs: { dashboard: string; panel: string; expr: string }[] = [];
  for (const d of dashboards())
    for (const p of d.panels) for (const tg of p.targets) exprs.push({ dashboard: d.title, panel: p.title, expr: fill(tg.expr, d) });
  for (const e of exprs) assert.doesNotMatch(e.expr, /\$/, `all variables filled: ${e.expr}`);
  let empty: string[] = [];
  await waitUntil(
    'every dashboard query to return data',
    async () => {
      empty = [];
      for (const e of exprs) {
        const r = await prom.query(e.expr);
        if (r.length === 0 || r.every((s) => s.value[1] === 'NaN')) empty.push(`${e.dashboard} / ${e.panel}: ${e.expr}`);
      }
      return empty.length === 0;
    },
    60_000,
    1000,
  ).catch((err: Error) => {
    throw new Error(`${err.message}; empty: ${empty.join(' | ')}`);
  });
  // the shipped alert rules load and evaluate against the live series; none fires on a healthy cluster
  const rules = (await (await fetch(`${prom.url}/api/v1/rules`)).json()) as {
    data: { groups: { rules: { name: string; health: string; state: string }[] }[] };
  };
  const loaded = rules.data.groups.flatMap((g) => g.rules);
  assert.equal(loaded.length, 11);
  await waitUntil(
    'every rule evaluated',
    async () => {
      const r = (await (await fetch(`${prom.url}/api/v1/rules`)).json()) as typeof rules;
      return r.data.groups.flatMap((g) => g.rules).every((x) => x.health === 'ok') ? true : undefined;
    },
    20_000,
    500,
  );
  const firing = (
    (await (await fetch(`${prom.url}/api/v1/alerts`)).json()) as { data: { alerts: { labels: { alertname: string } }[] } }
  ).data.alerts.map((a) => a.labels.alertname);
  assert.deepEqual(
    firing.filter((a) => a !== 'LlmKvCacheNearlyFull' && a !== 'LlmLoadImbalance'),
    [],
    "no bridge alert on a healthy cluster (the mock workers' random load may trip the load alerts)",
  );
  // the variables' own queries (label_values) have values too
  for (const d of dashboards()) {
    for (const v of d.templating.list) {
      const mm = /^label_values\((.*), (\w+)\)$/.exec(v.query.query);
      assert.ok(mm, v.query.query);
      const res = (await (
        await fetch(`${prom.url}/api/v1/label/${mm[2]}/values?match[]=${encodeURIComponent(fill(mm[1]!, d))}`)
      ).json()) as { data: string[] };
      assert.ok(res.data.length > 0, `${d.title} variable ${v.name} has values`);
    }
  }
});

test('npm run demo -- --with-prometheus starts a local Prometheus wired to the demo', async (t) => {
  const defer = cleanups(t);
  const port = await freePort();
  const demo = new ManagedProcess(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'scripts', 'demo.ts'), '--with-prometheus', '--duration', '60', '--port', String(port)],
    { cwd: ROOT },
  );
  defer(() => demo.stop(15_000));
  const line = await waitForLine(demo, /prometheus\s+(http:\/\/127\.0\.0\.1:\d+)/, 90_000);
  const promUrl = line[1]!;
  // the status page's URL is the first thing printed, and it serves the page
  assert.equal(
    demo.output().trimStart().split('\n')[0],
    `Status page: http://127.0.0.1:${port}/   (open it in a browser; live once the aggregator below has started)`,
  );
  const page = await waitUntil(
    'the status page',
    async () => {
      const r = await fetch(`http://127.0.0.1:${port}/`).catch(() => undefined);
      return r?.status === 200 ? r.text() : undefined;
    },
    30_000,
  );
  assert.match(page, /<title>Dynamo metrics · status<\/title>/);
  const result = await waitUntil(
    'demo series in Prometheus',
    async () => {
      const r = (await (await fetch(`${promUrl}/api/v1/query?query=llm_kv_blocks_active`)).json()) as { data: { result: unknown[] } };
      return r.data.result.length >= 2 ? r.data.result : undefined;
    },
    40_000,
    1000,
  );
  assert.ok(result.length >= 2);
  await waitForLine(demo, /workers=2\s+llm_load_avg=\d/, 30_000);
  const { code } = await demo.stop(15_000);
  assert.equal(code, 0, demo.output().slice(-1500));
});
