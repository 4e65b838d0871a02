/**
 * The `metrics` command's singleton with hot standby, its three export paths at once, and its
 * shutdown, as separate processes against real servers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from '@nats-io/transport-node';
import { Etcd3 } from 'etcd3';
import { waitUntil } from '../support/process.ts';
import { startPrometheus, startPushGateway, testCluster } from '../support/servers.ts';
import { LABELS, startMetrics, startMockWorker, waitForScrape } from '../support/aggregator.ts';
import { sample, series } from '../support/exposition.ts';
import { OtlpReceiver } from '../support/otlpReceiver.ts';
import { dynamoShapedWorker, registerDynamoInstances } from '../support/dynamoStats.ts';

test('two aggregators on one target: one leads, the standby exports no worker series, and takes over after the leader is killed', async (t) => {
  const { cluster, defer } = await testCluster(t);
  const w = await startMockWorker(cluster, ['--workers', '2']);
  defer(() => w.proc.stop());
  const first = await startMetrics(cluster);
  defer(() => first.proc.stop());
  await waitForScrape(
    first,
    'the first to lead',
    (x) => sample(x, 'dynamo_metrics_leader') === 1 && series(x, 'llm_kv_blocks_active').length === 2,
  );
  const second = await startMetrics(cluster);
  defer(() => second.proc.stop());
  await waitUntil('the second to stand by', () => /standing by/.test(second.proc.output()), 10_000);
  const standby = await second.scrape();
  assert.equal(sample(standby, 'dynamo_metrics_leader'), 0);
  for (const name of ['llm_kv_blocks_active', 'llm_load_avg', 'llm_kv_hit_rate_isl_blocks_total'])
    assert.equal(series(standby, name).length, 0, `standby exports no ${name}`);

  const killedAt = Date.now();
  await first.proc.kill();
  const text = await waitForScrape(
    second,
    'the standby to lead',
    (x) => (sample(x, 'dynamo_metrics_leader') === 1 && series(x, 'llm_kv_blocks_active').length === 2 ? x : undefined),
    20_000,
  );
  const tookMs = Date.now() - killedAt;
  assert.ok(tookMs < 15_000, `take-over took ${tookMs} ms (lease TTL 10 s + check interval)`);
  assert.deepEqual(
    series(text, 'llm_kv_blocks_active')
      .map((s) => s.labels.worker_id)
      .sort(),
    w.ids.map(String).sort(),
  );
  // hit-rate totals continue: the standby counted events all along
  assert.ok((sample(text, 'dynamo_metrics_events_total') ?? 0) > 0);
});

test('pull, push through a real PushGateway into a real Prometheus, and OTLP, all from one metrics process; clean SIGTERM', async (t) => {
  const { cluster, defer } = await testCluster(t);
  const pgw = await startPushGateway();
  defer(() => pgw.stop());
  const rx = await new OtlpReceiver().start();
  defer(() => rx.stop());
  // fixed numbers, so that the three paths can be compared exactly
  const nc = await connect({ servers: cluster.nats.url });
  defer(() => nc.close());
  const ids = [7587884888253033398n, 7587884888253033399n];
  defer(await registerDynamoInstances(cluster.etcd.url, ids));
  dynamoShapedWorker(
    nc,
    ids.map((id, i) => ({
      id,
      data: `{"request_active_slots":${i + 1},"request_total_slots":10,"kv_active_blocks":${77 - 48 * i},"kv_total_blocks":100}`,
    })),
  );
  await nc.flush();
  const m = await startMetrics(cluster, [
    '--exporters',
    'prometheus,pushgateway,otlp',
    '--pushgateway-url',
    pgw.url,
    '--pushgateway-instance',
    'agg-1',
    '--push-interval',
    '1s',
    '--otlp-endpoint',
    rx.url,
    '--otlp-interval',
    '1s',
  ]);
  defer(() => m.proc.stop());
  const prom = await startPrometheus([{ job: 'pushgateway', target: `127.0.0.1:${pgw.port}`, honorLabels: true }]);
  defer(() => prom.stop());

  const pulled = await waitForScrape(m, 'both workers', (x) => (series(x, 'llm_kv_blocks_active').length === 2 ? x : undefined));
  // seed example: active blocks 77 and 29 -> avg 53, std 24
  assert.equal(sample(pulled, 'llm_load_avg', LABELS), 53);
  assert.equal(sample(pulled, 'llm_load_std', LABELS), 24);
  const viaPrometheus = await waitUntil(
    'pushed series in Prometheus',
    async () => {
      const r = await prom.query('llm_kv_blocks_active{job="dynamo_metrics",instance="agg-1"}');
      return r.length === 2 ? r : undefined;
    },
    30_000,
    500,
  );
  const otlp = await waitUntil(
    'an OTLP export with both workers',
    () => {
      const e = rx.exports.at(-1);
      const kv = e?.metrics.find((x) => x.name === 'llm_kv_blocks_active');
      return kv?.points.length === 2 ? e : undefined;
    },
    15_000,
  );
  for (const [i, id] of ids.entries()) {
    const expected = 77 - 48 * i;
    assert.equal(sample(pulled, 'llm_kv_blocks_active', { worker_id: String(id) }), expected);
    assert.equal(viaPrometheus.find((r) => r.metric.worker_id === String(id))?.value[1], String(expected));
    assert.equal(
      otlp.metrics.find((x) => x.name === 'llm_kv_blocks_active')!.points.find((p) => p.attributes.worker_id === String(id))?.value,
      expected,
    );
  }
  const avg = await prom.query('llm_load_avg{job="dynamo_metrics"}');
  assert.equal(avg[0]?.value[1], '53');
  assert.equal(otlp.metrics.find((x) => x.name === 'llm_load_std')?.points[0]?.value, 24);
  assert.equal(otlp.resource['service.name'], 'dynamo-metrics');

  // SIGTERM: final push/flush, PushGateway group deleted, leader key released, exit 0 promptly
  const exportsBefore = rx.exports.length;
  const t0 = Date.now();
  const { code } = await m.proc.stop(10_000);
  assert.equal(code, 0, m.proc.output().slice(-2000));
  assert.ok(Date.now() - t0 < 8000, `shutdown took ${Date.now() - t0} ms`);
  assert.ok(rx.exports.length > exportsBefore, 'an OTLP export around shutdown (the next test shows it is the final one)');
  const groups = (await (await fetch(`${pgw.url}/api/v1/metrics`)).json()) as { data: { labels: Record<string, string> }[] };
  assert.equal(groups.data.filter((g) => g.labels.job === 'dynamo_metrics').length, 0, 'PushGateway group deleted');
  const etcd = new Etcd3({ hosts: cluster.etcd.url });
  defer(() => etcd.close());
  assert.equal(await etcd.get('metrics/dynamo/my_component/my_endpoint/leader').string(), null, 'leader key released');
});

test('SIGTERM makes a final OTLP export: with an hour between exports, the only export is the one at shutdown, with the workers', async (t) => {
  const { cluster, defer } = await testCluster(t);
  const rx = await new OtlpReceiver().start();
  defer(() => rx.stop());
  const w = await startMockWorker(cluster, ['--workers', '2']);
  defer(() => w.proc.stop());
  const m = await startMetrics(cluster, ['--exporters', 'prometheus,otlp', '--otlp-endpoint', rx.url, '--otlp-interval', '1h']);
  defer(() => m.proc.stop());
  await waitForScrape(m, 'both workers', (x) => series(x, 'llm_kv_blocks_active').length === 2);
  assert.equal(rx.exports.length, 0, 'no export before the first interval (an hour)');
  const { code } = await m.proc.stop(10_000);
  assert.equal(code, 0, m.proc.output().slice(-2000));
  assert.equal(rx.exports.length, 1, 'exactly one export: the final one');
  const kv = rx.exports[0]!.metrics.find((x) => x.name === 'llm_kv_blocks_active');
  assert.deepEqual(
    kv?.points.map((p) => p.attributes.worker_id).sort(),
    w.ids.map(String).sort(),
    'it carries the workers of the last view',
  );
});

test('bad flags: one line, exit 2, before anything starts', async (t) => {
  const { cluster } = await testCluster(t);
  const { startScript, clusterEnv } = await import('../support/workers.ts');
  const cases: [string[], RegExp][] = [
    [['--endpoint', 'e'], /^metrics: error: --endpoint needs --component/],
    [
      [],
      /^metrics: error: no target: give --component and --endpoint, --target NAMESPACE\/COMPONENT\/ENDPOINT \(repeatable\), or --all-endpoints/,
    ],
    [['--target', 'a/b/c', '--target', 'x/b/c'], /^metrics: error: --target x\/b\/c is not in namespace a/],
    [
      ['--target', 'a/b/c/d'],
      /^metrics: error: target: .* \(from --target\) has "a\/b\/c\/d", which is not NAMESPACE\/COMPONENT\/ENDPOINT$/,
    ],
    [
      ['--component', 'c', '--endpoint', 'e', '--poll-interval', '0.5'],
      /^metrics: error: poll_interval: "0\.5" \(from --poll-interval\) is too short; use at least 1s$/,
    ],
    [
      ['--component', 'c', '--endpoint', 'e', '--host', 'example.com'],
      /^metrics: error: host: "example\.com" \(from --host\) is not an IPv4 or IPv6 address/,
    ],
    [['--component', 'bad name', '--endpoint', 'e'], /^metrics: error: invalid component name "bad name"/],
    [['--component', 'c', '--endpoint', 'e', '--nats-server', 'localhost'], /^metrics: error: nats_server: .* is not a URL/],
    [['--component', 'c', '--endpoint', 'e', '--frobnicate'], /^metrics: error: unknown flag --frobnicate \(see --help\)$/],
  ];
  for (const [args, re] of cases) {
    const p = startScript('src/cli/metrics.ts', args, clusterEnv(cluster));
    const { code } = await p.exited;
    assert.equal(code, 2, `${args.join(' ')}: ${p.output()}`);
    assert.match(p.output().trim(), re);
    assert.equal(p.output().trim().split('\n').length, 1, p.output());
  }
  const help = startScript('src/cli/metrics.ts', ['--help'], clusterEnv(cluster));
  assert.equal((await help.exited).code, 0);
  for (const flag of [
    '--component',
    '--endpoint',
    '--target',
    '--all-endpoints',
    '--namespace',
    '--poll-interval',
    '--host',
    '--port',
    '--push',
    '--push-interval',
    '--exporters',
    '--otlp-endpoint',
  ]) {
    assert.ok(help.output().includes(flag), flag);
  }
});
