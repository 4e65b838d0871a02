/** Starting `metrics` and `mock_worker` processes for tests, and reading their output. */
import { freePort, waitUntil, type ManagedProcess } from './process.ts';
import { clusterEnv, startScript, waitForLine, type Endpoints } from './workers.ts';

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

export async function startMetrics(cluster: Endpoints, extra: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<MetricsProcess> {
  const port = await freePort();
  const proc = startScript('src/cli/metrics.ts', [...TARGET, '--host', '127.0.0.1', '--port', String(port), ...extra], clusterEnv(cluster, env));
  await waitForLine(proc, /Prometheus metrics server started at (https:\/\/)?127\.0\.0\.1:\d+\/metrics/, 30_000);
  await waitForLine(proc, /Scraping endpoint dynamo\/my_component\/my_endpoint for stats/, 30_000);
  const url = `http://127.0.0.1:${port}/metrics`;
  // a scrape that never answers fails the test instead of hanging it
  return { proc, port, url, scrape: async () => (await fetch(url, { signal: AbortSignal.timeout(SCRAPE_TIMEOUT_MS) })).text() };
}

/** Starts a mock_worker process; resolves with the ids of its workers once they serve. */
export async function startMockWorker(cluster: Endpoints, extra: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<{ proc: ManagedProcess; ids: bigint[] }> {
  const proc = startScript('src/cli/mock_worker.ts', extra, clusterEnv(cluster, env));
  await waitForLine(proc, /mock worker\(s\) ready/, 60_000);
  const ids = [...proc.output().matchAll(/mock worker (\d+) serving/g)].map((m) => BigInt(m[1]!));
  return { proc, ids };
}

export async function waitForScrape<T>(m: MetricsProcess, what: string, check: (text: string) => T | undefined | false, timeoutMs = 20_000): Promise<T> {
  return waitUntil(what, async () => check(await m.scrape()), timeoutMs, 200);
}
