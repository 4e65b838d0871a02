/**
 * `mock_worker`: stands in for LLM workers. Registers a stats handler on
 * dynamo/my_component/my_endpoint answering random ForwardPassMetrics, serves an echo endpoint
 * and publishes a KV hit-rate event every second under its own worker id; with `--model` (or
 * `--engine simulated`) it serves that model with the simulated engine instead.
 */
import { parseCommand } from './args.ts';
import { connectionSettings } from '../config/commonOptions.ts';
import { MOCK_WORKER_COMMAND } from './commands.ts';
import { onShutdownSignal, runCommand } from './run.ts';
import { getLogger } from '../log.ts';
import { DEFAULT_SIMULATED_MODEL } from '../mock/options.ts';

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
    engine:
      v.model !== '' || v.engine === 'simulated'
        ? {
            model: v.model !== '' ? v.model : DEFAULT_SIMULATED_MODEL,
            config: {
              slots: v.slots,
              kvBlocks: v.kv_blocks,
              blockSize: v.block_size,
              prefillTokensPerSecond: v.prefill_tps,
              decodeTokensPerSecond: v.decode_tps,
              jitter: v.jitter,
              seed: v.seed,
              contextLength: v.context_length,
            },
          }
        : undefined,
    nats: { ...natsOptionsFromEnv(), ...connectionSettings(v).nats },
    etcd: { ...etcdOptionsFromEnv(), ...connectionSettings(v).etcd },
    // automatic endpoint metrics, and the status server when DYN_SYSTEM_ENABLED=true
    instrumentation: await processInstrumentation(),
  });
  onShutdownSignal('mock_worker', () => workers.stop());
  log.info(`${workers.runtimes.length} mock worker(s) ready`);
});
