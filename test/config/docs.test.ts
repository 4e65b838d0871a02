import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readmeOptionsTable } from '../../scripts/options-table.ts';
import { exampleConfig } from '../../scripts/example-config.ts';
import { aggregatorOptionSpecs, metricsConfigFrom } from '../../src/aggregator/options.ts';
import { loadOptions } from '../../src/config/schema.ts';

const ROOT = join(import.meta.dirname, '..', '..');

test("docs/configuration.md's option table is the option specs", () => {
  const doc = readFileSync(join(ROOT, 'docs', 'configuration.md'), 'utf8');
  const m = /<!-- options:start -->\n([\s\S]*?)\n<!-- options:end -->/.exec(doc);
  assert.ok(m, 'markers in docs/configuration.md');
  assert.equal(m[1], readmeOptionsTable(), 'regenerate with: node --import tsx scripts/options-table.ts');
});

test('config/example.yaml is generated from the option specs and loads as is', () => {
  const file = join(ROOT, 'config', 'example.yaml');
  assert.equal(readFileSync(file, 'utf8'), exampleConfig(), 'regenerate with: node --import tsx scripts/example-config.ts > config/example.yaml');
  const cfg = metricsConfigFrom(loadOptions(aggregatorOptionSpecs(), { argv: ['--config', file], env: {} }));
  assert.equal(cfg.component, 'my_component');
  assert.equal(cfg.export.otlp.intervalMs, 60_000);
  assert.deepEqual(cfg.export.resourceAttributes, { 'deployment.environment': 'production' });
  for (const spec of aggregatorOptionSpecs()) {
    const leaf = spec.key.split('.').at(-1)!;
    assert.ok(new RegExp(`^\\s*#?\\s*${leaf}:`, 'm').test(readFileSync(file, 'utf8')), `${spec.key} in the example`);
  }
});

test('--push: --host/--port address the PushGateway; exporters default to pushgateway', () => {
  const cfg = metricsConfigFrom(loadOptions(aggregatorOptionSpecs(), { argv: ['--component', 'c', '--endpoint', 'e', '--push', '--host', '10.0.0.5', '--port', '9092'], env: {} }));
  assert.deepEqual(cfg.export.exporters, ['pushgateway']);
  assert.equal(cfg.export.pushgateway.url, 'http://10.0.0.5:9092');
  assert.equal(cfg.export.pushgateway.job, 'dynamo_metrics');
  const both = metricsConfigFrom(loadOptions(aggregatorOptionSpecs(), { argv: ['--component', 'c', '--endpoint', 'e', '--push', '--exporters', 'otlp'], env: {} }));
  assert.deepEqual(both.export.exporters, ['otlp', 'pushgateway']);
  const pull = metricsConfigFrom(loadOptions(aggregatorOptionSpecs(), { argv: ['--component', 'c', '--endpoint', 'e', '--host', '::1', '--port', '9100'], env: { DYN_NAMESPACE: 'prod' } }));
  assert.equal(pull.export.prometheus.host, '::1');
  assert.equal(pull.export.prometheus.port, 9100);
  assert.equal(pull.namespace, 'prod');
});
