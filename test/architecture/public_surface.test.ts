/**
 * The public surface: package.json `exports` names the library entry points, each resolves by the
 * package's own name, and every index lists its exports by name (no `export *`, which would make
 * any new internal export public by accident).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');
type Entry = string | { development: string; types: string; default: string };
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; exports: Record<string, Entry> };

test('exports names the runtime, instrumentation and export entry points', () => {
  assert.deepEqual(Object.keys(pkg.exports).sort(), ['./export', './instrumentation', './package.json', './runtime']);
});

test('each entry point imports by the package name and offers what its docs promise', async () => {
  const runtime = (await import(`${pkg.name}/runtime`)) as Record<string, unknown>;
  const instrumentation = (await import(`${pkg.name}/instrumentation`)) as Record<string, unknown>;
  const exp = (await import(`${pkg.name}/export`)) as Record<string, unknown>;
  for (const name of ['DistributedRuntime', 'Client', 'NOOP_INSTRUMENTATION', 'DynamoError', 'InstanceGoneError', 'parseJson', 'validateName']) assert.ok(name in runtime, `runtime.${name}`);
  for (const name of ['connectInstrumented', 'processInstrumentation', 'MetricsRegistry', 'SystemStatusServer']) assert.ok(name in instrumentation, `instrumentation.${name}`);
  for (const name of ['MetricsPipeline', 'EXPORTERS', 'exportOptions', 'serializePrometheus', 'SnapshotProducer']) assert.ok(name in exp, `export.${name}`);
  assert.equal(typeof runtime.DistributedRuntime, 'function');
});

test('each library entry has its sources, compiled JavaScript and declarations, and lists its exports by name', () => {
  for (const [name, entry] of Object.entries(pkg.exports)) {
    if (typeof entry === 'string') continue;
    assert.equal(entry.types, entry.default.replace(/\.js$/, '.d.ts'), name);
    assert.equal(entry.default, `./dist/${entry.development.slice(2).replace(/\.ts$/, '.js')}`, name);
    const text = readFileSync(join(ROOT, entry.development), 'utf8');
    assert.doesNotMatch(text, /export \*/, entry.development);
  }
});
