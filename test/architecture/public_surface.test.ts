/**
 * The public surface: package.json `exports` names the library entry points, each resolves by the
 * package's own name, and every index lists its exports by name (no `export *`, which would make
 * any new internal export public by accident); the root entry point re-exports the three others.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');
type Entry = string | { development: string; types: string; default: string };
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; exports: Record<string, Entry> };

test('exports names the runtime, instrumentation and export entry points', () => {
  assert.deepEqual(Object.keys(pkg.exports).sort(), ['.', './export', './instrumentation', './package.json', './runtime']);
});

test('the root entry point offers everything of the three others', async () => {
  const root = (await import(pkg.name)) as Record<string, unknown>;
  for (const sub of ['runtime', 'instrumentation', 'export']) {
    const m = (await import(`${pkg.name}/${sub}`)) as Record<string, unknown>;
    for (const name of Object.keys(m)) assert.equal(root[name], m[name], `${sub}.${name}`);
  }
});

test('each entry point imports by the package name and offers what its docs promise', async () => {
  const runtime = (await import(`${pkg.name}/runtime`)) as Record<string, unknown>;
  const instrumentation = (await import(`${pkg.name}/instrumentation`)) as Record<string, unknown>;
  const exp = (await import(`${pkg.name}/export`)) as Record<string, unknown>;
  for (const name of [
    'DistributedRuntime',
    'Client',
    'NOOP_INSTRUMENTATION',
    'DynamoError',
    'InstanceGoneError',
    'parseJson',
    'validateName',
  ])
    assert.ok(name in runtime, `runtime.${name}`);
  for (const name of ['connectInstrumented', 'processInstrumentation']) assert.ok(name in instrumentation, `instrumentation.${name}`);
  for (const name of ['MetricsPipeline', 'loadExportConfig']) assert.ok(name in exp, `export.${name}`);
  assert.equal(typeof runtime.DistributedRuntime, 'function');
});

test('each library entry has its sources, compiled JavaScript and declarations, and lists its exports by name', () => {
  for (const [name, entry] of Object.entries(pkg.exports)) {
    if (typeof entry === 'string') continue;
    assert.equal(entry.types, entry.default.replace(/\.js$/, '.d.ts'), name);
    assert.equal(entry.default, `./dist/${entry.development.slice(2).replace(/\.ts$/, '.js')}`, name);
    const text = readFileSync(join(ROOT, entry.development), 'utf8');
    // the root may re-export whole entry points (each lists its own names); nothing else may use export *
    const stars = [...text.matchAll(/export \* from '([^']+)'/g)].map((m) => m[1]);
    if (name === '.') assert.deepEqual(stars, ['./src/runtime/index.ts', './instrumentation/index.ts', './src/export/index.ts']);
    else assert.deepEqual(stars, [], entry.development);
  }
});
