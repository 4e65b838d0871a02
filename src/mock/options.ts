/** The `mock_worker` command's options. */
import { connectionOptions, namespaceOption, nameParser } from '../config/commonOptions.ts';
import type { OptionTable } from '../config/schema.ts';
import { formatDuration, parseDurationAtLeast, parseInteger } from '../config/values.ts';
import { DEFAULT_NAMESPACE } from '../runtime/names.ts';

export const DEFAULT_MOCK_COMPONENT = 'my_component';
export const DEFAULT_MOCK_ENDPOINT = 'my_endpoint';
export const DEFAULT_HIT_RATE_INTERVAL_MS = 1_000;
export const MIN_HIT_RATE_INTERVAL_MS = 10;
export const DEFAULT_MOCK_WORKERS = 1;
export const MAX_MOCK_WORKERS = 100_000;

export function mockWorkerOptions() {
  return {
    namespace: namespaceOption(DEFAULT_NAMESPACE, 'namespace to register in'),
    component: { flag: 'component', parse: nameParser('component'), default: DEFAULT_MOCK_COMPONENT, description: 'component to register' },
    endpoint: { flag: 'endpoint', parse: nameParser('endpoint'), default: DEFAULT_MOCK_ENDPOINT, description: 'endpoint to serve' },
    workers: {
      flag: 'workers',
      parse: (v: unknown) => parseInteger(v, 1, MAX_MOCK_WORKERS),
      default: DEFAULT_MOCK_WORKERS,
      description: 'independent workers in this process (each its own lease and service instance)',
    },
    hit_rate_interval: {
      flag: 'hit-rate-interval',
      parse: parseDurationAtLeast(MIN_HIT_RATE_INTERVAL_MS),
      default: DEFAULT_HIT_RATE_INTERVAL_MS,
      format: formatDuration,
      description: 'time between two KV hit-rate events of each worker',
    },
    ...connectionOptions(),
  } satisfies OptionTable;
}
