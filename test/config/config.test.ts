import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, loadOptions, renderHelp, type Option } from '../../src/config/index.ts';
import { exportConfigFrom, exportOptions, loadExportConfig } from '../../src/export/options.ts';
import { tempDir } from '../support/process.ts';

const DEFAULTS = { serviceName: 'dynamo-metrics' };

function file(yaml: string): string {
  const f = join(tempDir(), 'config.yaml');
  writeFileSync(f, yaml);
  return f;
}

test('defaults', () => {
  const c = loadExportConfig({ argv: [], env: {} }, DEFAULTS);
  assert.deepEqual(c.exporters, ['prometheus']);
  assert.equal(c.serviceName, 'dynamo-metrics');
  assert.equal(c.prometheus.host, '0.0.0.0');
  assert.equal(c.prometheus.port, 9091);
  assert.equal(c.otlp.protocol, 'http/protobuf');
  assert.equal(c.otlp.endpoint, 'http://localhost:4318/v1/metrics');
  assert.equal(c.otlp.intervalMs, 60_000);
  assert.equal(c.pushgateway.job, 'dynamo_metrics');
  assert.equal(c.pushgateway.intervalMs, 2000);
});

test('flags win over environment, environment over file, file over defaults', () => {
  const f = file(
    'exporters: [prometheus, otlp]\notlp:\n  endpoint: http://file:4318/v1/metrics\n  timeout: 3s\n  headers:\n    x-file: "1"\nprometheus:\n  port: 9100\n',
  );
  const env = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://env:4318', OTEL_EXPORTER_OTLP_TIMEOUT: '2500', OTEL_SERVICE_NAME: 'from-env' };
  const c = loadExportConfig({ argv: ['--config', f, '--otlp-timeout', '7s'], env }, DEFAULTS);
  assert.deepEqual(c.exporters, ['prometheus', 'otlp']);
  assert.equal(c.otlp.endpoint, 'http://env:4318/v1/metrics', 'OTEL_EXPORTER_OTLP_ENDPOINT is a base URL');
  assert.equal(c.otlp.timeoutMs, 7000, 'flag beats env');
  assert.deepEqual(c.otlp.headers, { 'x-file': '1' });
  assert.equal(c.prometheus.port, 9100);
  assert.equal(c.serviceName, 'from-env');
  const c2 = loadExportConfig({ argv: ['--config', f], env }, DEFAULTS);
  assert.equal(c2.otlp.timeoutMs, 2500, 'env (milliseconds) beats file');
});

test('the OTel SDK environment variables are read as the SDK defines them', () => {
  const c = loadExportConfig(
    {
      argv: [],
      env: {
        OTEL_METRICS_EXPORTER: 'otlp,prometheus',
        OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'https://vendor.example/otlp/v1/metrics',
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://ignored:4318',
        OTEL_EXPORTER_OTLP_HEADERS: 'api-key=s%3Dcret,x-team=a',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip',
        OTEL_METRIC_EXPORT_INTERVAL: '1500',
        OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: 'delta',
        OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=prod,team=llm',
      },
    },
    DEFAULTS,
  );
  assert.deepEqual(c.exporters, ['otlp', 'prometheus']);
  assert.equal(c.otlp.endpoint, 'https://vendor.example/otlp/v1/metrics', 'the signal-specific endpoint is used as is');
  assert.deepEqual(c.otlp.headers, { 'api-key': 's=cret', 'x-team': 'a' });
  assert.equal(c.otlp.protocol, 'http/json');
  assert.equal(c.otlp.compression, 'gzip');
  assert.equal(c.otlp.intervalMs, 1500);
  assert.equal(c.otlp.temporality, 'delta');
  assert.deepEqual(c.resourceAttributes, { 'deployment.environment': 'prod', team: 'llm' });
  assert.deepEqual(loadExportConfig({ argv: [], env: { OTEL_METRICS_EXPORTER: 'none' } }, DEFAULTS).exporters, []);
});

test('repeatable flags merge key=value pairs', () => {
  const c = loadExportConfig({ argv: ['--otlp-header', 'a=1', '--otlp-header', 'b=2,c=3'], env: {} }, DEFAULTS);
  assert.deepEqual(c.otlp.headers, { a: '1', b: '2', c: '3' });
});

// Each class of mistake: one line naming the key, the value, its source and what is allowed.
const BAD: [string, string[], NodeJS.ProcessEnv, RegExp][] = [
  [
    'unknown exporter',
    ['--exporters', 'prometheus,jaeger'],
    {},
    /^exporters: "prometheus,jaeger" \(from --exporters\) has "jaeger", which is not allowed; use a comma-separated subset of prometheus, otlp, pushgateway, console$/,
  ],
  ['empty exporters', ['--exporters', ''], {}, /^exporters: "" \(from --exporters\) is empty/],
  [
    'port out of range',
    ['--prometheus-port', '70000'],
    {},
    /^prometheus\.port: "70000" \(from --prometheus-port\) is out of range; use 0\.\.65535$/,
  ],
  [
    'port not a number',
    [],
    { OTEL_EXPORTER_PROMETHEUS_PORT: 'http' },
    /^prometheus\.port: "http" \(from OTEL_EXPORTER_PROMETHEUS_PORT\) is not a whole number/,
  ],
  [
    'host name instead of IP',
    ['--prometheus-host', 'localhost'],
    {},
    /^prometheus\.host: "localhost" \(from --prometheus-host\) is not an IPv4 or IPv6 address/,
  ],
  [
    'bad protocol',
    [],
    { OTEL_EXPORTER_OTLP_PROTOCOL: 'thrift' },
    /^otlp\.protocol: "thrift" \(from OTEL_EXPORTER_OTLP_PROTOCOL\) is not allowed; use one of http\/protobuf, http\/json, grpc$/,
  ],
  [
    'bad url',
    ['--otlp-endpoint', 'localhost:4318'],
    {},
    /^otlp\.endpoint: "localhost:4318" \(from --otlp-endpoint\) must be an http:\/\/ or https:\/\/ URL$/,
  ],
  ['bad duration', ['--otlp-timeout', 'soon'], {}, /^otlp\.timeout: "soon" \(from --otlp-timeout\) is not a duration/],
  [
    'env milliseconds',
    [],
    { OTEL_METRIC_EXPORT_INTERVAL: '5s' },
    /^otlp\.interval: "5s" \(from OTEL_METRIC_EXPORT_INTERVAL\) is not a whole number of milliseconds$/,
  ],
  [
    'push interval too short',
    ['--push-interval', '200ms'],
    {},
    /^pushgateway\.interval: "200ms" \(from --push-interval\) is too short; use at least 1s$/,
  ],
  [
    'bad header pair',
    [],
    { OTEL_EXPORTER_OTLP_HEADERS: 'novalue' },
    /^otlp\.headers: \(hidden\) \(from OTEL_EXPORTER_OTLP_HEADERS\) has an item that is not key=value \(item 1 of 1, not shown\)$/,
  ],
  ['unknown flag', ['--bogus', '1'], {}, /^unknown flag --bogus \(see --help\)$/],
  ['positional', ['extra'], {}, /extra.*\(see --help\)$/],
  ['missing file', ['--config', '/nonexistent/x.yaml'], {}, /^cannot read config file \/nonexistent\/x\.yaml: ENOENT$/],
  [
    'bad temporality',
    ['--otlp-temporality', 'sometimes'],
    {},
    /^otlp\.temporality: "sometimes" .* use one of cumulative, delta, lowmemory$/,
  ],
];

for (const [name, argv, env, re] of BAD) {
  test(`bad config: ${name}`, () => {
    assert.throws(
      () => loadExportConfig({ argv, env }, DEFAULTS),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError, String(err));
        assert.doesNotMatch(err.message, /\n/);
        assert.match(err.message, re);
        return true;
      },
    );
  });
}

test('bad config files: unknown keys, wrong shapes, bad YAML, wrong types', () => {
  const cases: [string, RegExp][] = [
    [
      'otlp:\n  endpont: http://x\n',
      /unknown key otlp\.endpont; known keys under otlp: protocol, endpoint, headers, timeout, compression, interval, histogram_aggregation, temporality$/,
    ],
    [
      'bogus: 1\n',
      /unknown key bogus; known keys: exporters, service_name, service_namespace, service_instance_id, resource_attributes, cardinality_limit, prometheus, otlp, pushgateway$/,
    ],
    ['otlp: 5\n', /otlp must be a mapping of keys$/],
    ['exporters: [prometheus\n', /^cannot parse config file .*: /],
    ['prometheus:\n  port: [1]\n', /^prometheus\.port: "\[1\]" \(from .*config\.yaml\) is not a whole number/],
    ['otlp:\n  headers: {a: {b: 1}}\n', /^otlp\.headers: \(hidden\) .* has a non-scalar value for a$/],
  ];
  for (const [yaml, re] of cases) {
    const f = file(yaml);
    assert.throws(
      () => loadExportConfig({ argv: ['--config', f], env: {} }, DEFAULTS),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.doesNotMatch(err.message, /\n/);
        assert.match(err.message, re, yaml);
        return true;
      },
    );
  }
});

test('secrets never appear in errors: every way a bad value may carry one', () => {
  const SECRET = 'Zq7-s3cr3t-Token';
  // each input is refused, and each holds SECRET where a user would have put a credential
  const cases: { argv?: string[]; env?: Record<string, string> }[] = [
    { argv: ['--otlp-header', `api-key=${SECRET},broken`] }, // a later pair without "="
    { argv: ['--otlp-header', `authorization: Bearer ${SECRET}`] }, // curl's syntax, not key=value
    { argv: ['--otlp-header', `api-key=${SECRET}\rX-Evil: 1`] }, // a control character in the value
    { argv: ['--otlp-header', `bad name=${SECRET}`] }, // an invalid header name beside the secret
    { env: { OTEL_EXPORTER_OTLP_HEADERS: `authorization=Bearer%20${SECRET},=x` } },
    { env: { OTEL_EXPORTER_OTLP_METRICS_HEADERS: `x-token=${SECRET},nokey` } },
    { argv: ['--otlp-endpoint', `http://user:${SECRET}@collector:notaport/v1/metrics`] },
    { argv: ['--otlp-endpoint', `ftp://user:${SECRET}@collector:4318/v1/metrics`] },
    { env: { OTEL_EXPORTER_OTLP_ENDPOINT: `http://user:${SECRET}@collector:99999` } },
    { argv: ['--otlp-endpoint', `http://collector:4318/v1/metrics?api_key=${SECRET}`, '--otlp-timeout', 'never'] },
    { argv: ['--pushgateway-url', `gopher://admin:${SECRET}@pushgateway:9091`] },
  ];
  for (const c of cases) {
    let message: string | undefined;
    try {
      loadExportConfig({ argv: c.argv ?? [], env: c.env ?? {} }, DEFAULTS);
    } catch (err) {
      assert.ok(err instanceof ConfigError, `${JSON.stringify(c)} threw ${String(err)}`);
      message = err.message;
    }
    assert.ok(message !== undefined, `${JSON.stringify(c)} is refused`);
    assert.ok(
      !message.includes(SECRET) && !message.includes(encodeURIComponent(SECRET)),
      `${JSON.stringify(c)} leaks the secret: ${message}`,
    );
  }
});

test('--help lists every option with its flag, environment variables and default', () => {
  const table = exportOptions(DEFAULTS);
  const loaded = loadOptions(table, { argv: ['--help'], env: {} });
  assert.equal(loaded.help, true);
  const help = renderHelp('metrics [options]', 'about', table);
  for (const s of Object.values(table) as Option<unknown>[]) {
    if (s.flag) assert.ok(help.includes(`--${s.flag}`), s.flag);
    for (const e of s.env ?? []) assert.ok(help.includes(e.name), e.name);
  }
  assert.ok(exportConfigFrom(loaded.values));
});
