/** The `mock_worker` command's options. */
import { connectionOptions, namespaceOption, nameParser } from '../config/commonOptions.ts';
import type { OptionTable } from '../config/schema.ts';
import { formatDuration, parseDurationAtLeast, parseEnum, parseInteger, parseLabelValue, parseNumber } from '../config/values.ts';
import { DEFAULT_NAMESPACE } from '../runtime/names.ts';
import {
  DEFAULT_CONTEXT_LENGTH,
  DEFAULT_DECODE_TOKENS_PER_SECOND,
  DEFAULT_ENGINE_BLOCK_SIZE,
  DEFAULT_ENGINE_JITTER,
  DEFAULT_ENGINE_KV_BLOCKS,
  DEFAULT_ENGINE_SEED,
  DEFAULT_ENGINE_SLOTS,
  DEFAULT_PREFILL_TOKENS_PER_SECOND,
} from './engine/SimulatedEngine.ts';

export const DEFAULT_MOCK_COMPONENT = 'my_component';
export const DEFAULT_MOCK_ENDPOINT = 'my_endpoint';
export const DEFAULT_HIT_RATE_INTERVAL_MS = 1_000;
export const MIN_HIT_RATE_INTERVAL_MS = 10;
export const DEFAULT_MOCK_WORKERS = 1;
export const MAX_MOCK_WORKERS = 100_000;
/** What the workers run: the seed's random stats and echo, or the simulated engine. */
export const MOCK_ENGINES = ['random', 'simulated'] as const;
export type MockEngine = (typeof MOCK_ENGINES)[number];
/** The model a simulated engine serves when `--engine simulated` is given without `--model`. */
export const DEFAULT_SIMULATED_MODEL = 'mock-model';
export const MAX_ENGINE_SLOTS = 100_000;
export const MAX_ENGINE_KV_BLOCKS = 100_000_000;
export const MAX_BLOCK_SIZE = 1024;
export const MAX_TOKENS_PER_SECOND = 1e9;
export const MAX_CONTEXT_LENGTH = 10_000_000;

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
    model: {
      flag: 'model',
      parse: (v: unknown) => parseLabelValue(v, true),
      default: '',
      description: 'serve this model with the simulated engine (implies --engine simulated); its model card goes to etcd for frontends',
    },
    engine: {
      flag: 'engine',
      parse: (v: unknown): MockEngine => parseEnum(v, MOCK_ENGINES),
      default: 'random' as MockEngine,
      description: `random: the seed's random stats, echo and interval hit-rate events; simulated: an engine whose stats, KV blocks and hit-rate events follow from the requests (model ${DEFAULT_SIMULATED_MODEL} unless --model)`,
    },
    slots: {
      flag: 'slots',
      parse: (v: unknown) => parseInteger(v, 1, MAX_ENGINE_SLOTS),
      default: DEFAULT_ENGINE_SLOTS,
      description: 'simulated engine: requests decoded at once (max_num_seqs); more wait in its queue',
    },
    kv_blocks: {
      flag: 'kv-blocks',
      parse: (v: unknown) => parseInteger(v, 1, MAX_ENGINE_KV_BLOCKS),
      default: DEFAULT_ENGINE_KV_BLOCKS,
      description: 'simulated engine: KV blocks in its pool',
    },
    block_size: {
      flag: 'block-size',
      parse: (v: unknown) => parseInteger(v, 1, MAX_BLOCK_SIZE),
      default: DEFAULT_ENGINE_BLOCK_SIZE,
      description: 'simulated engine: tokens per KV block',
    },
    prefill_tps: {
      flag: 'prefill-tps',
      parse: (v: unknown) => parseNumber(v, 1, MAX_TOKENS_PER_SECOND),
      default: DEFAULT_PREFILL_TOKENS_PER_SECOND,
      description: 'simulated engine: prompt tokens prefilled per second (cached ones are skipped)',
    },
    decode_tps: {
      flag: 'decode-tps',
      parse: (v: unknown) => parseNumber(v, 0.001, MAX_TOKENS_PER_SECOND),
      default: DEFAULT_DECODE_TOKENS_PER_SECOND,
      description: 'simulated engine: output tokens per second of each request',
    },
    jitter: {
      flag: 'jitter',
      parse: (v: unknown) => parseNumber(v, 0, 1),
      default: DEFAULT_ENGINE_JITTER,
      description: 'simulated engine: each step lasts its time scaled by a factor in 1 ± jitter',
    },
    seed: {
      flag: 'seed',
      parse: (v: unknown) => parseInteger(v, 0, 2 ** 32 - 1),
      default: DEFAULT_ENGINE_SEED,
      description: 'simulated engine: seed of its tokens and jitter (worker i of --workers uses seed + i)',
    },
    context_length: {
      flag: 'context-length',
      parse: (v: unknown) => parseInteger(v, 1, MAX_CONTEXT_LENGTH),
      default: DEFAULT_CONTEXT_LENGTH,
      description: 'simulated engine: longest prompt plus output it accepts',
    },
    ...connectionOptions(),
  } satisfies OptionTable;
}
