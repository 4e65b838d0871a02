/** The LLM stack for tests: simulated workers serving a model, and a frontend in front of them. */
import { loadOptions } from '../../src/config/schema.ts';
import { frontendConfigFrom, frontendOptions } from '../../src/frontend/options.ts';
import { type RunningFrontend, startFrontend } from '../../src/frontend/startFrontend.ts';
import type { EngineConfig } from '../../src/mock/engine/SimulatedEngine.ts';
import { MockWorkers } from '../../src/mock/MockWorker.ts';
import type { RuntimeInstrumentation } from '../../src/runtime/observer.ts';
import { waitUntil } from './process.ts';
import type { Endpoints } from './workers.ts';

/** `workers` simulated workers serving `model` on dynamo/backend/generate (in this process). */
export function startSimulatedWorkers(
  cluster: Endpoints,
  model: string,
  workers: number,
  config: Partial<EngineConfig> = {},
  /** What the workers report to (their automatic endpoint metrics). @default nothing */
  instrumentation?: RuntimeInstrumentation,
): Promise<MockWorkers> {
  return MockWorkers.start({
    namespace: 'dynamo',
    component: 'backend',
    endpoint: 'generate',
    workers,
    hitRateIntervalMs: 1000,
    nats: { servers: [cluster.nats.url] },
    etcd: { endpoints: [cluster.etcd.url] },
    engine: { model, config },
    ...(instrumentation !== undefined ? { instrumentation } : {}),
  });
}

/** A frontend on a free loopback port with `args` (flags) and `env`, pointed at the test servers. */
export function startTestFrontend(cluster: Endpoints, args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<RunningFrontend> {
  const argv = [
    '--http-host',
    '127.0.0.1',
    '--http-port',
    '0',
    '--nats-server',
    cluster.nats.url,
    '--etcd-endpoints',
    cluster.etcd.url,
    ...args,
  ];
  return startFrontend(frontendConfigFrom(loadOptions(frontendOptions(), { argv, env })), env);
}

/** Waits until the frontend routes `model` to `instances` workers. */
export async function waitForModel(fe: RunningFrontend, model: string, instances: number): Promise<void> {
  await waitUntil(`${model} served by ${instances} workers`, () => fe.registry.model(model)?.instances.length === instances, 10_000);
}
