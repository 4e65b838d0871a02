/**
 * `mock_worker`: stands in for LLM workers. Registers a stats handler on
 * dynamo/my_component/my_endpoint answering random ForwardPassMetrics, serves an echo endpoint
 * and publishes a KV hit-rate event every second under its own worker id.
 */
import type { OptionSpec } from '../config/schema.ts';
import { parseDurationAtLeast, parseInteger } from '../config/values.ts';
import { connectionOptionSpecs, nameParser } from '../config/commonOptions.ts';
import { DEFAULT_NAMESPACE } from '../runtime/names.ts';
import { DEFAULT_HIT_RATE_INTERVAL_MS, DEFAULT_MOCK_COMPONENT, DEFAULT_MOCK_ENDPOINT, MockWorkers } from '../mock/MockWorker.ts';
import { etcdOptionsFromEnv, natsOptionsFromEnv } from '../runtime/connections.ts';
import { parseCommand } from './args.ts';
import { onShutdownSignal, runCommand } from './run.ts';
import { getLogger } from '../log.ts';

const log = getLogger('mock_worker');

const SPECS: OptionSpec[] = [
  { key: 'namespace', flag: 'namespace', env: [{ name: 'DYN_NAMESPACE' }], parse: nameParser('namespace'), default: DEFAULT_NAMESPACE, description: 'namespace to register in' },
  { key: 'component', flag: 'component', parse: nameParser('component'), default: DEFAULT_MOCK_COMPONENT, description: 'component to register' },
  { key: 'endpoint', flag: 'endpoint', parse: nameParser('endpoint'), default: DEFAULT_MOCK_ENDPOINT, description: 'endpoint to serve' },
  { key: 'workers', flag: 'workers', parse: (v) => parseInteger(v, 1, 100_000), default: 1, description: 'independent workers in this process (each its own lease and service instance)' },
  { key: 'hit_rate_interval', flag: 'hit-rate-interval', parse: parseDurationAtLeast(10), default: DEFAULT_HIT_RATE_INTERVAL_MS, defaultText: '1s', description: 'time between two KV hit-rate events of each worker' },
  ...connectionOptionSpecs(),
];

runCommand('mock_worker', async () => {
  const { values } = parseCommand(
    { name: 'mock_worker', usage: 'mock_worker [options]', about: 'Mock LLM worker(s): random ForwardPassMetrics v3 stats, an echo endpoint, and a KV hit-rate event every second.' },
    SPECS,
  );
  const get = <T>(k: string): T => values.get(k) as T;
  const workers = await MockWorkers.start({
    namespace: get('namespace'),
    component: get('component'),
    endpoint: get('endpoint'),
    workers: get('workers'),
    hitRateIntervalMs: get('hit_rate_interval'),
    nats: { ...natsOptionsFromEnv(), servers: get('nats_server') },
    etcd: { ...etcdOptionsFromEnv(), endpoints: get('etcd_endpoints') },
  });
  onShutdownSignal('mock_worker', () => workers.stop());
  log.info(`${workers.runtimes.length} mock worker(s) ready`);
});
