/** The `loadgen` command's options. */
import type { OptionTable } from '../config/schema.ts';
import { exportConfigFrom, exportOptions } from '../export/options.ts';
import type { ExporterName } from '../export/options.ts';
import {
  formatDuration,
  parseBool,
  parseDuration,
  parseEnum,
  parseHttpUrl,
  parseInteger,
  parseLabelValue,
  parseNumber,
} from '../config/values.ts';

export const DEFAULT_LOADGEN_URL = 'http://127.0.0.1:8000';
export const DEFAULT_LOADGEN_REQUESTS = 100;
export const DEFAULT_LOADGEN_CONCURRENCY = 8;
export const DEFAULT_INPUT_TOKENS = 256;
export const DEFAULT_OUTPUT_TOKENS = 64;
export const DEFAULT_PREFIX_SHARE = 0.5;
export const DEFAULT_PREFIX_TOKENS = 128;
export const DEFAULT_PREFIXES = 4;
export const DEFAULT_LOADGEN_BLOCK_SIZE = 16;
export const DEFAULT_LOADGEN_SEED = 1;
export const DEFAULT_LOADGEN_TIMEOUT_MS = 120_000;
export const MAX_LOADGEN_REQUESTS = 10_000_000;
export const MAX_LOADGEN_CONCURRENCY = 100_000;
export const MAX_LOADGEN_TOKENS = 1_000_000;
export const LOADGEN_APIS = ['chat', 'completions'] as const;

export const DEFAULT_LOADGEN_SERVICE_NAME = 'dynamo-loadgen';
/** Port of loadgen's own /metrics when `prometheus` is among its exporters. */
export const DEFAULT_LOADGEN_METRICS_PORT = 9095;

export function loadgenOptions() {
  const exp = exportOptions({ serviceName: DEFAULT_LOADGEN_SERVICE_NAME, port: DEFAULT_LOADGEN_METRICS_PORT });
  return {
    url: { flag: 'url', parse: parseHttpUrl, default: DEFAULT_LOADGEN_URL, description: 'base URL of the OpenAI-compatible server' },
    model: {
      flag: 'model',
      parse: (v: unknown) => parseLabelValue(v, true),
      default: '',
      description: 'model to ask; the first of /v1/models when empty',
    },
    api: {
      flag: 'api',
      parse: (v: unknown) => parseEnum(v, LOADGEN_APIS),
      default: 'chat' as (typeof LOADGEN_APIS)[number],
      description: 'chat (/v1/chat/completions) or completions (/v1/completions)',
    },
    stream: {
      flag: 'stream',
      parse: parseBool,
      default: true as boolean,
      description: 'stream the responses (server-sent events, usage in the last chunk)',
    },
    requests: {
      flag: 'requests',
      parse: (v: unknown) => parseInteger(v, 1, MAX_LOADGEN_REQUESTS),
      default: DEFAULT_LOADGEN_REQUESTS,
      description: 'requests to send',
    },
    concurrency: {
      flag: 'concurrency',
      parse: (v: unknown) => parseInteger(v, 1, MAX_LOADGEN_CONCURRENCY),
      default: DEFAULT_LOADGEN_CONCURRENCY,
      description: 'requests in flight at once (when --rate is 0)',
    },
    rate: {
      flag: 'rate',
      parse: (v: unknown) => parseNumber(v, 0, 1e6),
      default: 0,
      description: 'requests started per second (Poisson arrivals); 0: keep --concurrency in flight',
    },
    isl: {
      flag: 'isl',
      parse: (v: unknown) => parseInteger(v, 1, MAX_LOADGEN_TOKENS),
      default: DEFAULT_INPUT_TOKENS,
      description: 'mean prompt length, tokens',
    },
    isl_stddev: {
      flag: 'isl-stddev',
      parse: (v: unknown) => parseNumber(v, 0, MAX_LOADGEN_TOKENS),
      default: 0,
      description: 'standard deviation of the prompt length',
    },
    osl: {
      flag: 'osl',
      parse: (v: unknown) => parseInteger(v, 1, MAX_LOADGEN_TOKENS),
      default: DEFAULT_OUTPUT_TOKENS,
      description: 'mean output length asked (max_tokens), tokens',
    },
    osl_stddev: {
      flag: 'osl-stddev',
      parse: (v: unknown) => parseNumber(v, 0, MAX_LOADGEN_TOKENS),
      default: 0,
      description: 'standard deviation of the output length',
    },
    prefix_share: {
      flag: 'prefix-share',
      parse: (v: unknown) => parseNumber(v, 0, 1),
      default: DEFAULT_PREFIX_SHARE,
      description: 'share of requests whose prompt begins with one of the shared prefixes',
    },
    prefix_tokens: {
      flag: 'prefix-tokens',
      parse: (v: unknown) => parseInteger(v, 1, MAX_LOADGEN_TOKENS),
      default: DEFAULT_PREFIX_TOKENS,
      description: 'length of each shared prefix, tokens',
    },
    prefixes: {
      flag: 'prefixes',
      parse: (v: unknown) => parseInteger(v, 0, 100_000),
      default: DEFAULT_PREFIXES,
      description: 'how many distinct shared prefixes',
    },
    block_size: {
      flag: 'block-size',
      parse: (v: unknown) => parseInteger(v, 1, 1024),
      default: DEFAULT_LOADGEN_BLOCK_SIZE,
      description: "the workers' KV block size, to count the prefix reuse the workload holds in blocks",
    },
    seed: {
      flag: 'seed',
      parse: (v: unknown) => parseInteger(v, 0, 2 ** 32 - 1),
      default: DEFAULT_LOADGEN_SEED,
      description: 'seed of the workload and the arrivals',
    },
    duration: {
      flag: 'duration',
      parse: parseDuration,
      default: 0,
      format: formatDuration,
      description: 'start no request after this long (0: until --requests are sent)',
    },
    timeout: {
      flag: 'timeout',
      parse: parseDuration,
      default: DEFAULT_LOADGEN_TIMEOUT_MS,
      format: formatDuration,
      description: 'give up on a request after this long',
    },
    json: { flag: 'json', boolean: true, parse: parseBool, default: false as boolean, description: 'print the report as JSON' },
    ...exp,
    // nothing exported unless asked: the GenAI client instruments go where OTEL_METRICS_EXPORTER says
    exporters: { ...exp.exporters, default: [] as ExporterName[] },
  } satisfies OptionTable;
}

export { exportConfigFrom };
