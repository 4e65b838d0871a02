/**
 * Our own processes under test: started with `node --import tsx`, pointed at the test servers,
 * waited for until they print their ready line.
 */
import { join } from 'node:path';
import { ManagedProcess, freePort, waitUntil } from './process.ts';

const ROOT = join(import.meta.dirname, '..', '..');

export interface Endpoints {
  nats: { url: string };
  etcd: { url: string };
}

/** Environment that points a process at the test servers. */
export function clusterEnv(servers: Endpoints, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...process.env, NATS_SERVER: servers.nats.url, ETCD_ENDPOINTS: servers.etcd.url, DYN_LOG: 'info', ...extra };
}

/** Starts a TypeScript entry point of this repo (path relative to the repo root). */
export function startScript(script: string, args: string[], env: NodeJS.ProcessEnv): ManagedProcess {
  return new ManagedProcess(process.execPath, ['--import', 'tsx', join(ROOT, script), ...args], { cwd: ROOT, env });
}

/** Waits until `proc` prints a line matching `re`; returns the match. Fails fast if it exits. */
export async function waitForLine(proc: ManagedProcess, re: RegExp, timeoutMs = 20_000): Promise<RegExpMatchArray> {
  return waitUntil(
    `${re} from ${proc.args.join(' ')}`,
    () => {
      const m = proc.output().match(re);
      if (m) return m;
      if (!proc.running) throw new Error(`process exited before printing ${re}: ${proc.output().slice(-1500)}`);
      return undefined;
    },
    timeoutMs,
  );
}

/** Starts the echo worker fixture on `ns/comp/ep` and resolves with its instance id once it serves. */
export async function startEchoWorker(
  servers: Endpoints,
  path: [string, string, string] = ['test', 'echo', 'generate'],
  extraEnv: NodeJS.ProcessEnv = {},
): Promise<{ proc: ManagedProcess; id: bigint; statusUrl: string }> {
  // its system status server tells when it serves (/health) and its instance id (/api/status)
  const port = await freePort();
  const statusUrl = `http://127.0.0.1:${port}`;
  const proc = startScript(
    'test/fixtures/echo_worker.ts',
    path,
    clusterEnv(servers, { ...extraEnv, DYN_SYSTEM_ENABLED: 'true', DYN_SYSTEM_HOST: '127.0.0.1', DYN_SYSTEM_PORT: String(port) }),
  );
  const id = await waitUntil(
    `the echo worker's /health at ${statusUrl}`,
    async () => {
      if (!proc.running) throw new Error(`the echo worker exited: ${proc.output().slice(-1500)}`);
      const health = await fetch(`${statusUrl}/health`).catch(() => undefined);
      if (health?.status !== 200) return undefined;
      const status = (await (await fetch(`${statusUrl}/api/status`)).json()) as { instance_id: string | null };
      return status.instance_id === null ? undefined : BigInt(status.instance_id);
    },
    20_000,
    50,
  );
  return { proc, id, statusUrl };
}

/** Requests in flight on the echo worker's endpoints (its status server's /api/status). */
export async function echoInflight(statusUrl: string): Promise<number> {
  const s = (await (await fetch(`${statusUrl}/api/status`)).json()) as { endpoints: { inflight: number }[] };
  return s.endpoints.reduce((a, e) => a + e.inflight, 0);
}
