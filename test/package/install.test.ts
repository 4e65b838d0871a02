/**
 * The package as a user gets it: `npm pack`, then `npm install --omit=dev` of the tarball in an
 * empty directory. From that install, the JavaScript example worker (importing the package by
 * name) and the `metrics` command run against real NATS and etcd: the worker's series appear on
 * the aggregator, and its endpoint metrics on its own status server.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DistributedRuntime } from '../../src/runtime/index.ts';
import { cleanups, freePort, ManagedProcess, tempDir, waitUntil } from '../support/process.ts';
import { statusStarted } from '../support/aggregator.ts';
import { startCluster } from '../support/servers.ts';
import { clusterEnv, waitForLine } from '../support/workers.ts';
import { sample } from '../support/exposition.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const run = promisify(execFile);

/**
 * Packs the project (prepack builds dist/) and installs the tarball with production dependencies
 * only; returns the app folder and what the install warned about.
 */
async function installPackage(): Promise<{ app: string; warnings: string }> {
  const packDir = tempDir('dyn-pack-');
  const { stdout } = await run('npm', ['pack', '--pack-destination', packDir, '--loglevel=error'], {
    cwd: ROOT,
    maxBuffer: 16 * 1024 * 1024,
  });
  const tarball = join(packDir, stdout.trim().split('\n').at(-1)!);
  assert.ok(existsSync(tarball), `npm pack wrote ${tarball}`);
  const app = tempDir('dyn-app-');
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'user-app', version: '1.0.0', private: true, type: 'module' }));
  const { stderr } = await run('npm', ['install', '--omit=dev', '--no-audit', '--no-fund', '--loglevel=warn', tarball], {
    cwd: app,
    maxBuffer: 16 * 1024 * 1024,
  });
  return { app, warnings: stderr };
}

/** The first Node.js line every dependency supports (`@nats-io/nuid` 3 asks for 22); Node 20 reached its end of life in April 2026. */
const FIRST_LINE_WITHOUT_ENGINE_WARNINGS = 22;

test('a production install of the packed tarball runs the example worker and metrics against real servers', async (t) => {
  const defer = cleanups(t);
  const { app, warnings } = await installPackage();
  if (Number(process.versions.node.split('.')[0]) >= FIRST_LINE_WITHOUT_ENGINE_WARNINGS)
    assert.doesNotMatch(warnings, /EBADENGINE/, `Node ${process.version}: ${warnings}`);
  const pkgDir = join(app, 'node_modules', 'dynamo-otel-metrics');
  assert.ok(existsSync(join(pkgDir, 'dist', 'src', 'runtime', 'index.d.ts')), 'declarations are shipped');
  assert.ok(!existsSync(join(app, 'node_modules', 'tsx')), 'tsx is a development dependency only');
  assert.ok(!existsSync(join(app, 'node_modules', 'typescript')), 'typescript is a development dependency only');
  const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  const bin = (name: string): string => join(app, 'node_modules', '.bin', name);
  assert.equal((await run(bin('metrics'), ['--version'])).stdout.trim(), `metrics ${version}`);
  assert.match((await run(bin('mock_worker'), ['--help'])).stdout, /^Usage: mock_worker/);

  // the root entry point and the three subpaths, at run time and for TypeScript under every
  // module resolution a user may have (node10 reads `typesVersions`)
  const rootImport = `const m = await import('dynamo-otel-metrics'); const r = await import('dynamo-otel-metrics/runtime'); console.log(m.DistributedRuntime === r.DistributedRuntime, typeof m.MetricsPipeline, typeof m.connectInstrumented)`;
  assert.equal(
    (await run(process.execPath, ['--input-type=module', '-e', rootImport], { cwd: app })).stdout.trim(),
    'true function function',
  );
  writeFileSync(
    join(app, 'use.ts'),
    [
      `import { DistributedRuntime, MetricsPipeline, connectInstrumented } from 'dynamo-otel-metrics';`,
      `import { DistributedRuntime as R } from 'dynamo-otel-metrics/runtime';`,
      `import { processInstrumentation } from 'dynamo-otel-metrics/instrumentation';`,
      `import { loadExportConfig } from 'dynamo-otel-metrics/export';`,
      `const same: typeof R = DistributedRuntime;`,
      `export const used = [same, MetricsPipeline, connectInstrumented, processInstrumentation, loadExportConfig];`,
      '',
    ].join('\n'),
  );
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  for (const [module, resolution] of [
    ['esnext', 'node10'],
    ['esnext', 'bundler'],
    ['nodenext', 'nodenext'],
    ['node16', 'node16'],
  ]) {
    const args = [
      tsc,
      '--noEmit',
      '--strict',
      '--skipLibCheck',
      '--types',
      'node',
      '--typeRoots',
      join(ROOT, 'node_modules', '@types'),
      '--module',
      module!,
      '--moduleResolution',
      resolution!,
      'use.ts',
    ];
    const r = await run(process.execPath, args, { cwd: app }).catch((err: { stdout: string }) => ({ stdout: err.stdout, failed: true }));
    assert.ok(!('failed' in r), `TypeScript, moduleResolution ${resolution}: ${r.stdout}`);
  }

  const cluster = await startCluster();
  defer(() => cluster.stop());
  copyFileSync(join(pkgDir, 'examples', 'worker.mjs'), join(app, 'worker.mjs'));
  const statusPort = await freePort();
  const worker = new ManagedProcess(process.execPath, [join(app, 'worker.mjs')], {
    cwd: app,
    env: clusterEnv(cluster, { DYN_SYSTEM_ENABLED: 'true', DYN_SYSTEM_HOST: '127.0.0.1', DYN_SYSTEM_PORT: String(statusPort) }),
  });
  defer(() => worker.stop());
  const id = BigInt((await waitForLine(worker, /READY (\d+)/, 30_000))[1]!);

  const metricsPort = await freePort();
  const metrics = new ManagedProcess(
    bin('metrics'),
    ['--component', 'backend', '--endpoint', 'generate', '--host', '127.0.0.1', '--port', String(metricsPort)],
    { cwd: app, env: clusterEnv(cluster) },
  );
  defer(() => metrics.stop());
  await waitUntil('the installed metrics to start (its /api/status)', () => statusStarted(metricsPort), 30_000, 100);

  const drt = await DistributedRuntime.connect({ nats: { servers: [cluster.nats.url] }, etcd: { endpoints: [cluster.etcd.url] } });
  defer(() => drt.shutdown());
  const client = await drt.namespace('dynamo').component('backend').endpoint('generate').client();
  await client.waitForInstances(1);
  const chunks = await client.random({ prompt: 'three little words' }).collect();
  assert.equal(chunks.length, 3);

  const labels = { component: 'backend', endpoint: 'generate', worker_id: id.toString() };
  await waitUntil(
    'the worker on the aggregator',
    async () => {
      const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      return sample(text, 'llm_kv_blocks_total', labels) === 100 && sample(text, 'llm_kv_hit_rate_percent', labels) === 40
        ? true
        : undefined;
    },
    30_000,
  );
  // the status pages come with the installed package
  assert.match(await (await fetch(`http://127.0.0.1:${metricsPort}/`)).text(), /<title>Dynamo metrics · status<\/title>/);
  assert.match(await (await fetch(`http://127.0.0.1:${statusPort}/`)).text(), /<title>Dynamo component · status<\/title>/);
  const own = await (await fetch(`http://127.0.0.1:${statusPort}/metrics`)).text();
  const ep = { dynamo_namespace: 'dynamo', dynamo_component: 'backend', dynamo_endpoint: 'generate' };
  assert.equal(sample(own, 'dynamo_component_requests_total', ep), 1);
  assert.equal(sample(own, 'dynamo_component_tokens_generated_total', ep), 3);
});
