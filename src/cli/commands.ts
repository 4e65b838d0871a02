/**
 * The commands this package installs, each with its usage line, what it does and its option
 * table: `--help`, docs/configuration.md and config/example.yaml are all rendered from here.
 */
import { metricsOptions } from '../aggregator/options.ts';
import { connectionOptions, namespaceOption, nameParser } from '../config/commonOptions.ts';
import type { OptionTable } from '../config/schema.ts';
import { parseBool, parseInteger } from '../config/values.ts';
import { frontendOptions } from '../frontend/options.ts';
import { loadgenOptions } from '../loadgen/options.ts';
import { mockWorkerOptions } from '../mock/options.ts';

export interface Command<S extends OptionTable = OptionTable> {
  name: string;
  usage: string;
  about: string;
  options: () => S;
}

/** The example's names, as in the seed's example output. */
export const EXAMPLE_NAMESPACE = 'example_namespace';
export const EXAMPLE_COMPONENT = 'example_component';
export const EXAMPLE_ENDPOINT = 'example_endpoint';
export const DEFAULT_CLIENT_REQUESTS = 10;
export const MAX_CLIENT_REQUESTS = 1_000_000;

function systemServerOptions() {
  return {
    namespace: namespaceOption(EXAMPLE_NAMESPACE, 'namespace of the example endpoint'),
    component: {
      flag: 'component',
      parse: nameParser('component'),
      default: EXAMPLE_COMPONENT,
      description: 'component of the example endpoint',
    },
    endpoint: { flag: 'endpoint', parse: nameParser('endpoint'), default: EXAMPLE_ENDPOINT, description: 'name of the example endpoint' },
    client: {
      flag: 'client',
      boolean: true,
      parse: parseBool,
      default: false as boolean,
      description: 'send requests to the endpoint instead of serving it',
    },
    requests: {
      flag: 'requests',
      parse: (v: unknown) => parseInteger(v, 1, MAX_CLIENT_REQUESTS),
      default: DEFAULT_CLIENT_REQUESTS,
      description: 'with --client: how many requests to send',
    },
    ...connectionOptions(),
  } satisfies OptionTable;
}

export const METRICS_COMMAND = {
  name: 'metrics',
  usage: 'metrics (--component NAME --endpoint NAME | --target NS/COMP/EP ... | --all-endpoints) [options]',
  about:
    'Aggregates the load (ForwardPassMetrics from stats and load events) of every worker of each namespace/component/endpoint target and their KV hit-rate events, and exports them to Prometheus (pull), a PushGateway (--push) or an OpenTelemetry Collector / APM (OTLP). Several targets share one process, one port and one export; replicas of the process spread the targets between them through etcd.',
  options: metricsOptions,
} satisfies Command;

export const MOCK_WORKER_COMMAND = {
  name: 'mock_worker',
  usage: 'mock_worker [options]',
  about:
    'Mock LLM worker(s): random ForwardPassMetrics v3 stats, an echo endpoint, and a KV hit-rate event every interval; with --model NAME (or --engine simulated) a simulated engine serving that model, whose stats, KV blocks, prefix-cache hits and token streams follow from the requests it gets.',
  options: mockWorkerOptions,
} satisfies Command;

export const SYSTEM_SERVER_COMMAND = {
  name: 'system_server',
  usage: 'system_server [--client] [options]',
  about:
    'Example component: serves an endpoint that streams back the words of each request, with automatic metrics and dynamo_component_bytes_processed_total. Enable its status server with DYN_SYSTEM_ENABLED=true DYN_SYSTEM_PORT=8081.',
  options: systemServerOptions,
} satisfies Command;

export const FRONTEND_COMMAND = {
  name: 'frontend',
  usage: 'frontend [--http-port 8000] [options]',
  about:
    "OpenAI-compatible HTTP server (/v1/chat/completions, /v1/completions, /v1/models) in front of the workers that serve models in a namespace (mock_worker --model): forwards each request to a worker of its model, relays the tokens (server-sent events or whole), cancels the worker's stream when the client goes away, and measures every request as Dynamo's frontend does (dynamo_frontend_*), served at /metrics on the same port and exported like the other commands.",
  options: frontendOptions,
} satisfies Command;

export const LOADGEN_COMMAND = {
  name: 'loadgen',
  usage: 'loadgen [--url http://127.0.0.1:8000] [--rate R | --concurrency C] [options]',
  about:
    'Load generator for an OpenAI-compatible server: chat completions at a rate or a concurrency, prompt and output lengths from normal distributions, a share of prompts reusing shared prefixes; prints TTFT, ITL, end-to-end latency (p50/p90/p99) and throughput as serving benchmarks do.',
  options: loadgenOptions,
} satisfies Command;

export const COMMANDS: readonly Command[] = [
  METRICS_COMMAND,
  MOCK_WORKER_COMMAND,
  SYSTEM_SERVER_COMMAND,
  FRONTEND_COMMAND,
  LOADGEN_COMMAND,
];
