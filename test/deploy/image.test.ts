/**
 * There is no Docker engine here, so the Dockerfile's own steps run in a temp directory: each
 * stage gets a root folder, WORKDIR/COPY/ENV/RUN are carried out as written (absolute paths of
 * the image mapped under the stage's root, `npm --global` under a prefix of the test's), then the
 * ENTRYPOINT runs from the result against real servers and the HEALTHCHECK command is run
 * against it. The compose file's bridge services use this image.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { cleanups, freePort, ManagedProcess, tempDir, waitUntil } from '../support/process.ts';
import { statusStarted } from '../support/aggregator.ts';
import { startCluster } from '../support/servers.ts';
import { clusterEnv } from '../support/workers.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const run = promisify(execFile);

interface Stage {
  name: string | undefined;
  root: string;
  workdir: string;
  env: Record<string, string>;
}

interface Image {
  env: Record<string, string>;
  user: string | undefined;
  entrypoint: string[];
  healthcheck: string[];
  /** Where `npm install --global` put the bins. */
  binDir: string;
  stages: string[];
}

/** Dockerfile instructions, continuation lines joined, comments dropped. */
function instructions(text: string): [string, string][] {
  const joined = text.replace(/\\\n\s*/g, ' ');
  return joined
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const sp = l.indexOf(' ');
      return [l.slice(0, sp).toUpperCase(), l.slice(sp + 1).trim()];
    });
}

/** Carries out the Dockerfile in `dir`. */
async function buildInTemp(dir: string): Promise<Image> {
  const prefix = join(dir, 'npm-global');
  const stages: Stage[] = [];
  let stage: Stage | undefined;
  const image: Image = { env: {}, user: undefined, entrypoint: [], healthcheck: [], binDir: join(prefix, 'bin'), stages: [] };
  const inStage = (s: Stage, p: string): string => (p.startsWith('/') ? join(s.root, p) : join(s.workdir, p));
  for (const [op, arg] of instructions(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'))) {
    if (op === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(arg)!;
      assert.match(m[1]!, /^node:26[.\d]*-\S*slim$/, 'Node 26 (the current LTS line) slim');
      stage = { name: m[2], root: join(dir, `stage${stages.length}`), workdir: '', env: {} };
      stage.workdir = stage.root;
      mkdirSync(stage.root, { recursive: true });
      stages.push(stage);
      image.stages.push(m[1]!);
      continue;
    }
    assert.ok(stage, `${op} before FROM`);
    if (op === 'WORKDIR') {
      stage.workdir = inStage(stage, arg);
      mkdirSync(stage.workdir, { recursive: true });
    } else if (op === 'ENV') {
      const [k, ...v] = arg.split('=');
      stage.env[k!] = v.join('=');
    } else if (op === 'COPY') {
      const parts = arg.split(/\s+/);
      const from = parts[0]!.startsWith('--from=') ? stages.find((s) => s.name === parts.shift()!.slice('--from='.length)) : undefined;
      const dest = parts.pop()!;
      for (const src of parts) {
        const source = from ? join(from.root, src) : join(ROOT, src);
        const target = dest.endsWith('/') ? join(inStage(stage, dest), basename(src)) : inStage(stage, dest);
        cpSync(source, target, { recursive: true });
      }
    } else if (op === 'RUN') {
      const cmd = arg.replace(/(^|[\s=])\/(pkg|build|app)\b/g, (_m, pre: string, p: string) => `${pre}${join(stage!.root, p)}`);
      await run('sh', ['-c', cmd], {
        cwd: stage.workdir,
        env: { ...process.env, ...stage.env, npm_config_prefix: prefix },
        maxBuffer: 64 * 1024 * 1024,
      });
    } else if (op === 'USER') {
      image.user = arg;
    } else if (op === 'ENTRYPOINT') {
      image.entrypoint = JSON.parse(arg) as string[];
    } else if (op === 'HEALTHCHECK') {
      image.healthcheck = JSON.parse(arg.slice(arg.indexOf('CMD') + 3).trim()) as string[];
    }
  }
  image.env = stage!.env;
  return image;
}

test('the Dockerfile builds and runs: production dependencies only, non-root, a working HEALTHCHECK', async (t) => {
  const defer = cleanups(t);
  const dir = tempDir('dyn-image-');
  const image = await buildInTemp(dir);
  assert.equal(image.stages.length, 2, 'multi-stage');
  assert.equal(image.user, 'node', 'runs as the unprivileged node user');
  assert.equal(image.env.NODE_ENV, 'production');
  assert.deepEqual(image.entrypoint, ['metrics']);
  const installed = join(dir, 'npm-global', 'lib', 'node_modules');
  const deps = execFileSync('ls', [join(installed, 'dynamo-otel-metrics', 'node_modules')], { encoding: 'utf8' }).split('\n');
  assert.ok(!deps.includes('typescript') && !deps.includes('tsx'), 'no development dependency in the image');
  const ignore = readFileSync(join(ROOT, '.dockerignore'), 'utf8');
  for (const p of ['node_modules', '.git', 'dist']) assert.match(ignore, new RegExp(`^${p.replace('.', '\\.')}$`, 'm'));

  const bin = (name: string): string => join(image.binDir, name);
  const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  assert.equal((await run(bin(image.entrypoint[0]!), ['--version'])).stdout.trim(), `metrics ${version}`);

  const cluster = await startCluster();
  defer(() => cluster.stop());
  const port = await freePort();
  assert.equal(image.env.HEALTHCHECK_URL, 'http://127.0.0.1:9091/health', 'the probe never renders /metrics');
  const healthEnv = { ...process.env, ...image.env, HEALTHCHECK_URL: image.env.HEALTHCHECK_URL!.replace(':9091', `:${port}`) };
  const health = (): Promise<number> =>
    run(process.execPath, image.healthcheck.slice(1), { env: healthEnv }).then(
      () => 0,
      (err: { code?: number }) => err.code ?? 1,
    );
  assert.equal(await health(), 1, 'unhealthy while nothing listens');
  const metrics = new ManagedProcess(
    bin('metrics'),
    ['--component', 'c', '--endpoint', 'e', '--host', '127.0.0.1', '--port', String(port)],
    { env: clusterEnv(cluster, image.env) },
  );
  defer(() => metrics.stop());
  await waitUntil('the installed metrics to start (its /api/status)', () => statusStarted(port), 30_000, 100);
  assert.equal(image.healthcheck[0], 'node');
  await waitUntil('healthy once the aggregator leads with a view', async () => ((await health()) === 0 ? true : undefined), 15_000, 200);
  // the status page's files are in the image (static/ ships with the package)
  for (const path of ['/', '/status/aggregator.js', '/status/common.js', '/status/status.css']) {
    assert.equal((await fetch(`http://127.0.0.1:${port}${path}`)).status, 200, `${path} from the installed image`);
  }
});

test('compose runs the bridge from this image: metrics in the metrics profile, mock workers and traffic in the demo profile', () => {
  const out = execFileSync(
    'docker-compose',
    ['-f', join(ROOT, 'docker-compose.yml'), '--profile', 'metrics', '--profile', 'demo', 'config'],
    { encoding: 'utf8', cwd: ROOT },
  );
  const cfg = parseYaml(out) as {
    services: Record<
      string,
      { image: string; build?: { context: string }; profiles?: string[]; entrypoint?: string[]; environment?: Record<string, string> }
    >;
  };
  const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  const ours = Object.entries(cfg.services).filter(([, s]) => s.image.startsWith('dynamo-otel-metrics:'));
  assert.deepEqual(ours.map(([n]) => n).sort(), [
    'example-client',
    'frontend',
    'llm-workers',
    'loadgen',
    'metrics',
    'mock-workers',
    'system-server',
  ]);
  for (const [name, s] of ours) {
    assert.equal(s.image, `dynamo-otel-metrics:${version}`, name);
    assert.equal(s.build?.context, ROOT, `${name} builds from the Dockerfile`);
    // every service that joins the cluster is pointed at its NATS (loadgen only speaks HTTP to the frontend)
    if (name !== 'loadgen') assert.equal(s.environment?.NATS_SERVER, 'nats://nats:4222', name);
  }
  assert.deepEqual(cfg.services.metrics!.profiles, ['metrics']);
  for (const n of ['mock-workers', 'system-server', 'example-client', 'llm-workers', 'frontend', 'loadgen'])
    assert.deepEqual(cfg.services[n]!.profiles, ['demo'], n);
  // Prometheus scrapes the compose services
  const prom = parseYaml(readFileSync(join(ROOT, 'config', 'prometheus.yml'), 'utf8')) as {
    scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
  };
  const targets = Object.fromEntries(prom.scrape_configs.map((j) => [j.job_name, j.static_configs.flatMap((s) => s.targets)]));
  assert.deepEqual(targets.dynamo_metrics, ['metrics:9091']);
  assert.deepEqual(targets.dynamo_workers!.sort(), ['llm-workers:8081', 'mock-workers:8081', 'system-server:8081']);
  assert.deepEqual(targets.dynamo_frontend, ['frontend:8000']);
});
