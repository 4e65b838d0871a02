/**
 * The generated files are what the option tables say, and the example config loads as is.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { CONFIGURATION_DOC, EXAMPLE_CONFIG, configurationDoc, exampleConfig } from '../../scripts/docs.ts';
import { metricsConfigFrom, metricsOptions } from '../../src/aggregator/options.ts';
import { COMMANDS } from '../../src/cli/commands.ts';
import { ConfigError, loadOptions } from '../../src/config/schema.ts';

test("docs/configuration.md's option tables are the commands' option tables", () => {
  const doc = readFileSync(CONFIGURATION_DOC, 'utf8');
  for (const cmd of COMMANDS) assert.ok(doc.includes(`<!-- options:${cmd.name}:start -->`), `a table for ${cmd.name}`);
  assert.equal(doc, configurationDoc(doc), 'regenerate with: npm run docs');
});

test('config/example.yaml is generated from the option table and loads as is', () => {
  const text = readFileSync(EXAMPLE_CONFIG, 'utf8');
  assert.equal(text, exampleConfig(), 'regenerate with: npm run docs');
  const cfg = metricsConfigFrom(loadOptions(metricsOptions(), { argv: ['--config', EXAMPLE_CONFIG], env: {} }));
  assert.deepEqual(
    cfg.targets.map((t) => t.component),
    ['my_component'],
  );
  assert.equal(cfg.pollIntervalMs, 1000);
  assert.equal(cfg.export.otlp.intervalMs, 60_000);
  assert.deepEqual(cfg.export.resourceAttributes, { 'deployment.environment': 'production' });
  for (const key of Object.keys(metricsOptions())) {
    const leaf = key.split('.').at(-1)!;
    assert.ok(new RegExp(`^\\s*#?\\s*${leaf}:`, 'm').test(text), `${key} in the example`);
  }
});

test('--push: --host/--port address the PushGateway; exporters default to pushgateway', () => {
  const load = (argv: string[], env = {}): ReturnType<typeof metricsConfigFrom> =>
    metricsConfigFrom(loadOptions(metricsOptions(), { argv, env }));
  const cfg = load(['--component', 'c', '--endpoint', 'e', '--push', '--host', '10.0.0.5', '--port', '9092']);
  assert.deepEqual(cfg.export.exporters, ['pushgateway']);
  assert.equal(cfg.export.pushgateway.url, 'http://10.0.0.5:9092');
  assert.equal(cfg.export.pushgateway.job, 'dynamo_metrics');
  const both = load(['--component', 'c', '--endpoint', 'e', '--push', '--exporters', 'otlp']);
  assert.deepEqual(both.export.exporters, ['otlp', 'pushgateway']);
  const pull = load(['--component', 'c', '--endpoint', 'e', '--host', '::1', '--port', '9100'], { DYN_NAMESPACE: 'prod' });
  assert.equal(pull.export.prometheus.host, '::1');
  assert.equal(pull.export.prometheus.port, 9100);
  assert.equal(pull.namespace, 'prod');
});

test('a required option that is missing is one line naming the flag', () => {
  const table = { model: { flag: 'model', parse: (v: unknown) => String(v), required: true as const, description: 'a model' } };
  assert.throws(
    () => loadOptions(table, { argv: [], env: {} }),
    (err: unknown) => err instanceof ConfigError && err.message === '--model is required (or model: in the config file); see --help',
  );
});

test('metrics without a target, or with half of one, is one line saying what to give', () => {
  const load = (argv: string[]) => metricsConfigFrom(loadOptions(metricsOptions(), { argv, env: {} }));
  assert.throws(
    () => load(['--endpoint', 'e']),
    (err: unknown) => err instanceof ConfigError && err.message.startsWith('--endpoint needs --component'),
  );
  assert.throws(
    () => load(['--component', 'c']),
    (err: unknown) => err instanceof ConfigError && err.message.startsWith('--component needs --endpoint'),
  );
  assert.throws(
    () => load([]),
    (err: unknown) => err instanceof ConfigError && err.message.startsWith('no target: give --component and --endpoint'),
  );
  assert.throws(
    () => load(['--target', 'a/p/generate', '--target', 'b/d/generate']),
    (err: unknown) =>
      err instanceof ConfigError &&
      err.message ===
        '--target b/d/generate is not in namespace a: the targets of one process share a namespace (run one process per namespace)',
  );
  assert.throws(() => load(['--target', 'a/b/c/d']), /not NAMESPACE\/COMPONENT\/ENDPOINT/);
  assert.throws(() => load(['--target', 'dynamo/bad name/generate']), /invalid component name "bad name"/);
});

test('metrics targets: --target repeated, COMPONENT/ENDPOINT in --namespace, the seed flags as one more, repeats once', () => {
  const load = (argv: string[]) => metricsConfigFrom(loadOptions(metricsOptions(), { argv, env: {} }));
  const c = load([
    '--namespace',
    'prod',
    '--component',
    'decode',
    '--endpoint',
    'generate',
    '--target',
    'prod/prefill/generate',
    '--target',
    'decode/generate',
    '--target',
    'router/route',
  ]);
  assert.equal(c.namespace, 'prod');
  assert.deepEqual(
    c.targets.map((t) => `${t.namespace}/${t.component}/${t.endpoint}`),
    ['prod/decode/generate', 'prod/prefill/generate', 'prod/router/route'],
  );
  assert.equal(c.allEndpoints, false);
  const all = load(['--namespace', 'prod', '--all-endpoints']);
  assert.deepEqual([all.namespace, all.targets, all.allEndpoints], ['prod', [], true]);
  assert.match(all.export.serviceInstanceId as string, /\/prod\/\*$/);
  assert.match(load(['--component', 'c', '--endpoint', 'e']).export.serviceInstanceId as string, /\/dynamo\/c\/e$/);
});
