/** A real cluster and an instrumented runtime with its status server on a free loopback port. */
import type { TestContext } from 'node:test';
import { connectInstrumented } from '../../instrumentation/index.ts';
import type { DistributedRuntime } from '../../src/runtime/index.ts';
import { freePort } from './process.ts';
import { testCluster } from './servers.ts';
import { clusterEnv, type Endpoints } from './workers.ts';

export interface InstrumentedWorker {
  drt: DistributedRuntime;
  port: number;
  /** The cluster it is connected to (for a client runtime of the test). */
  cluster: Endpoints;
  /** The status server's /metrics text. */
  scrape(): Promise<string>;
}

/** Starts NATS and etcd and connects an instrumented runtime serving /metrics; all stopped after `t`. */
export async function startInstrumentedWorker(t: TestContext, env: NodeJS.ProcessEnv = {}): Promise<InstrumentedWorker> {
  const { cluster, defer } = await testCluster(t);
  const port = await freePort();
  const drt = await connectInstrumented({
    env: clusterEnv(cluster, { DYN_SYSTEM_ENABLED: 'true', DYN_SYSTEM_HOST: '127.0.0.1', DYN_SYSTEM_PORT: String(port), ...env }),
  });
  defer(() => drt.shutdown());
  return {
    drt,
    port,
    cluster,
    scrape: async () => (await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(10_000) })).text(),
  };
}
