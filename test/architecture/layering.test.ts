/**
 * The layering rules of .dependency-cruiser.cjs hold for the product's code, and they bite: a
 * back-edge added to a copy of the tree fails them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const ROOT = join(import.meta.dirname, '..', '..');
const DEPCRUISE = join(ROOT, 'node_modules', '.bin', 'depcruise');

interface Violation {
  rule: { name: string };
  from: string;
  to: string;
}

async function cruise(
  cwd: string,
): Promise<{ violations: Violation[]; modules: { source: string; dependencies: { resolved: string }[] }[] }> {
  const run = promisify(execFile);
  const { stdout } = await run(DEPCRUISE, ['--config', '.dependency-cruiser.cjs', '--output-type', 'json', 'src', 'instrumentation'], {
    cwd,
    maxBuffer: 64 * 1024 * 1024,
  }).catch(
    (err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }), // exits non-zero when rules are broken; the JSON says which
  );
  const out = JSON.parse(stdout) as {
    summary: { violations: Violation[] };
    modules: { source: string; dependencies: { resolved: string }[] }[];
  };
  return { violations: out.summary.violations, modules: out.modules };
}

test('no module imports a layer above its own, nothing is circular, nothing points outside the repository', async () => {
  const { violations, modules } = await cruise(ROOT);
  assert.deepEqual(
    violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`),
    [],
  );
  assert.ok(modules.length > 50, `cruised ${modules.length} modules`);
});

test('the runtime entry point loads only the runtime and the shared leaves', async () => {
  const { modules } = await cruise(ROOT);
  const deps = new Map(modules.map((m) => [m.source, m.dependencies.map((d) => d.resolved)]));
  const seen = new Set<string>();
  const visit = (m: string): void => {
    if (seen.has(m) || !deps.has(m)) return;
    seen.add(m);
    for (const d of deps.get(m)!) visit(d);
  };
  visit('src/runtime/index.ts');
  const project = [...seen].filter((m) => /^(src|instrumentation)\//.test(m));
  assert.deepEqual(
    project.filter((m) => !/^src\/(runtime\/|[^/]+\.ts$)/.test(m)),
    [],
  );
  assert.ok(project.length > 10, `${project.length} modules`);
  const packages = [...seen]
    .filter((m) => m.startsWith('node_modules/'))
    .map((m) =>
      m
        .split('/')
        .slice(1, m.startsWith('node_modules/@') ? 3 : 2)
        .join('/'),
    );
  // cockatiel: etcd3's fault-handling library (the same copy), given shorter waits (connections.ts)
  assert.deepEqual(
    [...new Set(packages)].sort(),
    ['@nats-io/transport-node', 'cockatiel', 'etcd3'],
    'the runtime needs only the NATS and etcd clients',
  );
});

test('a back-edge added to a copy of the tree is caught', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'layering-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const p of ['src', 'instrumentation', 'tsconfig.json', 'package.json', '.dependency-cruiser.cjs'])
    cpSync(join(ROOT, p), join(dir, p), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  writeFileSync(
    join(dir, 'src', 'runtime', 'backEdge.ts'),
    "import { MetricsRegistry } from '../../instrumentation/CustomMetrics.ts';\nexport const x = MetricsRegistry;\n",
  );
  writeFileSync(
    join(dir, 'src', 'config', 'backEdge.ts'),
    "import { MetricsPipeline } from '../export/MetricsPipeline.ts';\nexport const y = MetricsPipeline;\n",
  );
  const { violations } = await cruise(dir);
  const names = violations.map((v) => `${v.rule.name}: ${v.from}`).sort();
  assert.deepEqual(names, ['config-imports-upward: src/config/backEdge.ts', 'runtime-imports-upward: src/runtime/backEdge.ts']);
});
