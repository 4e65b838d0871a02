/**
 * Our own processes under test: started with `node --import tsx`, pointed at the test servers,
 * waited for until they print their ready line.
 */
import { join } from 'node:path';
import { ManagedProcess, waitUntil } from './process.ts';

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
  return waitUntil(`${re} from ${proc.args.join(' ')}`, () => {
    const m = proc.output().match(re);
    if (m) return m;
    if (!proc.running) throw new Error(`process exited before printing ${re}: ${proc.output().slice(-1500)}`);
    return undefined;
  }, timeoutMs);
}

/** Starts the echo worker fixture on `ns/comp/ep` and resolves with its instance id once it serves. */
export async function startEchoWorker(
  servers: Endpoints,
  path: [string, string, string] = ['test', 'echo', 'generate'],
  extraEnv: NodeJS.ProcessEnv = {},
): Promise<{ proc: ManagedProcess; id: bigint }> {
  const proc = startScript('test/fixtures/echo_worker.ts', path, clusterEnv(servers, extraEnv));
  const m = await waitForLine(proc, /READY (\d+)/);
  return { proc, id: BigInt(m[1]!) };
}
