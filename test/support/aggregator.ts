/** Starting `metrics` and `mock_worker` processes for tests, and reading their output. */
import { freePort, waitUntil, type ManagedProcess } from './process.ts';
import { clusterEnv, startScript, type Endpoints } from './workers.ts';

export const TARGET = ['--component', 'my_component', '--endpoint', 'my_endpoint'];
export const LABELS = { component: 'my_component', endpoint: 'my_endpoint' };
/** The longest a test scrape may take. */
export const SCRAPE_TIMEOUT_MS = 30_000;

export interface MetricsProcess {
  proc: ManagedProcess;
  port: number;
  url: string;
  scrape(): Promise<string>;
}

export interface StartMetricsOptions {
  /**
   * Whether the process is ready, given its port. Default: its status API (`/api/status`) says
   * `started`. A server behind TLS or basic auth needs its own probe.
   */
  ready?: (port: number) => Promise<boolean>;
  /** The target flags. Default: `TARGET` (one target, the mock worker's). */
  target?: string[];
}

/** `/api/status` of a metrics process on `port` says it has started. */
export async function statusStarted(port: number): Promise<boolean> {
  const res = await fetch(`http://127.0.0.1:${port}/api/status`, { signal: AbortSignal.timeout(5_000) }).catch(() => undefined);
  if (res?.status !== 200) return false;
  return ((await res.json()) as { started?: boolean }).started === true;
}

/** Starts `metrics` on a free port; resolves once its status API (or `opts.ready`) says it runs. */
export async function startMetrics(
  cluster: Endpoints,
  extra: string[] = [],
  env: NodeJS.ProcessEnv = {},
  opts: StartMetricsOptions = {},
): Promise<MetricsProcess> {
  const port = await freePort();
  const proc = startScript(
    'src/cli/metrics.ts',
    [...(opts.target ?? TARGET), '--host', '127.0.0.1', '--port', String(port), ...extra],
    clusterEnv(cluster, env),
  );
  const ready = opts.ready ?? statusStarted;
  await waitUntil(
    `metrics on port ${port} to start`,
    async () => {
      if (!proc.running) throw new Error(`metrics exited before it started: ${proc.output().slice(-1500)}`);
      return ready(port);
    },
    30_000,
    50,
  );
  const url = `http://127.0.0.1:${port}/metrics`;
  // a scrape that never answers fails the test instead of hanging it
  return { proc, port, url, scrape: async () => (await fetch(url, { signal: AbortSignal.timeout(SCRAPE_TIMEOUT_MS) })).text() };
}

/**
 * Starts a mock_worker process with its system status server on (a free port unless `env` sets
 * one); resolves with the ids of its workers once its /health says they all serve (the ids from
 * its /api/status).
 */
export async function startMockWorker(
  cluster: Endpoints,
  extra: string[] = [],
  env: NodeJS.ProcessEnv = {},
): Promise<{ proc: ManagedProcess; ids: bigint[]; statusUrl: string }> {
  const port = env.DYN_SYSTEM_PORT ?? String(await freePort());
  const statusUrl = `http://127.0.0.1:${port}`;
  const proc = startScript(
    'src/cli/mock_worker.ts',
    extra,
    clusterEnv(cluster, { DYN_SYSTEM_ENABLED: 'true', DYN_SYSTEM_HOST: '127.0.0.1', ...env, DYN_SYSTEM_PORT: port }),
  );
  const workersFlag = extra.indexOf('--workers');
  const expected = workersFlag === -1 ? 1 : Number(extra[workersFlag + 1]);
  const ids = await waitUntil(
    `mock_worker's /health at ${statusUrl}`,
    async () => {
      if (!proc.running) throw new Error(`mock_worker exited before it served: ${proc.output().slice(-1500)}`);
      const health = await fetch(`${statusUrl}/health`).catch(() => undefined);
      if (health?.status !== 200) return undefined;
      const status = (await (await fetch(`${statusUrl}/api/status`)).json()) as { instances: string[] };
      return status.instances.length === expected ? status.instances.map((id) => BigInt(id)) : undefined;
    },
    600_000,
    100,
  );
  return { proc, ids, statusUrl };
}

export async function waitForScrape<T>(
  m: MetricsProcess,
  what: string,
  check: (text: string) => T | undefined | false,
  timeoutMs = 20_000,
): Promise<T> {
  return waitUntil(what, async () => check(await m.scrape()), timeoutMs, 200);
}
