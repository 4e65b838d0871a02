/**
 * `mock_worker`: stands in for LLM workers. Registers a stats handler on
 * dynamo/my_component/my_endpoint answering random ForwardPassMetrics, serves an echo endpoint
 * and publishes a KV hit-rate event every second under its own worker id.
 */
import { parseCommand } from './args.ts';
import { connectionSettings } from '../config/commonOptions.ts';
import { MOCK_WORKER_COMMAND } from './commands.ts';
import { onShutdownSignal, runCommand } from './run.ts';
import { getLogger } from '../log.ts';

const log = getLogger('mock_worker');

runCommand('mock_worker', async () => {
  const { values: v } = parseCommand(MOCK_WORKER_COMMAND);
  // Loaded once the flags are good, so that --help, --version and a bad flag answer at once.
  const [{ MockWorkers }, { etcdOptionsFromEnv, natsOptionsFromEnv }, { processInstrumentation }] = await Promise.all([
    import('../mock/MockWorker.ts'),
    import('../runtime/connections.ts'),
    import('../../instrumentation/index.ts'),
  ]);
  const workers = await MockWorkers.start({
    namespace: v.namespace,
    component: v.component,
    endpoint: v.endpoint,
    workers: v.workers,
    hitRateIntervalMs: v.hit_rate_interval,
    nats: { ...natsOptionsFromEnv(), ...connectionSettings(v).nats },
    etcd: { ...etcdOptionsFromEnv(), ...connectionSettings(v).etcd },
    // automatic endpoint metrics, and the status server when DYN_SYSTEM_ENABLED=true
    instrumentation: await processInstrumentation(),
  });
  onShutdownSignal('mock_worker', () => workers.stop());
  log.info(`${workers.runtimes.length} mock worker(s) ready`);
});
