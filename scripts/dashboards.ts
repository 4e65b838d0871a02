/**
 * Generates the Grafana dashboards in config/grafana/dashboards from the panel lists below.
 *
 *   node --import tsx scripts/dashboards.ts
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

interface Target {
  expr: string;
  legend: string;
}
interface Panel {
  title: string;
  description: string;
  unit: string;
  targets: Target[];
  type?: 'timeseries' | 'stat';
  width?: number;
}

const DS = { type: 'prometheus', uid: 'prometheus' };

function variable(
  name: string,
  label: string,
  query: string,
  includeAll: boolean,
  current?: string,
  description?: string,
): Record<string, unknown> {
  return {
    name,
    label,
    ...(description !== undefined ? { description } : {}),
    type: 'query',
    datasource: DS,
    query: { query, refId: `${name}-var` },
    definition: query,
    refresh: 2,
    includeAll,
    multi: includeAll,
    allValue: includeAll ? '.*' : undefined,
    current: current === undefined ? {} : { text: current, value: current },
    sort: 1,
  };
}

/**
 * The Prometheus job the panels read: one scrape path per series (config/prometheus.yml), the
 * direct scrape by default; the Collector's job (service.namespace/service.name) when the
 * process pushes OTLP instead.
 */
function jobVariable(metric: string, direct: string): Record<string, unknown> {
  return variable(
    'job',
    'Job',
    `label_values(${metric}, job)`,
    false,
    direct,
    `Which scrape path the panels read: ${direct} (Prometheus scrapes the processes directly) or the job of OTLP data through the Collector`,
  );
}

function dashboard(
  uid: string,
  title: string,
  description: string,
  vars: Record<string, unknown>[],
  panels: Panel[],
): Record<string, unknown> {
  let x = 0;
  let y = 0;
  const out = panels.map((p, i) => {
    const w = p.width ?? 12;
    if (x + w > 24) {
      x = 0;
      y += 8;
    }
    const gridPos = { x, y, w, h: 8 };
    x += w;
    return {
      id: i + 1,
      type: p.type ?? 'timeseries',
      title: p.title,
      description: p.description,
      datasource: DS,
      gridPos,
      fieldConfig: { defaults: { unit: p.unit }, overrides: [] },
      options:
        p.type === 'stat'
          ? { reduceOptions: { calcs: ['lastNotNull'] } }
          : { legend: { displayMode: 'list', placement: 'bottom' }, tooltip: { mode: 'multi' } },
      targets: p.targets.map((t, j) => ({ datasource: DS, expr: t.expr, legendFormat: t.legend, refId: String.fromCharCode(65 + j) })),
    };
  });
  return {
    uid,
    title,
    description,
    tags: ['dynamo', 'llm'],
    timezone: 'browser',
    schemaVersion: 39,
    version: 1,
    refresh: '5s',
    time: { from: 'now-15m', to: 'now' },
    templating: { list: vars },
    panels: out,
  };
}

const W = '{job="$job",component="$component",endpoint="$endpoint"}';
const J = '{job="$job"}';

export const llmWorkerMetrics = dashboard(
  'dynamo-llm-workers',
  'LLM Worker Metrics',
  'Per-worker KV cache and request slots, load balance and KV hit rate, from the `metrics` aggregator.',
  [
    jobVariable('llm_kv_blocks_active', 'dynamo_metrics'),
    variable('component', 'Component', 'label_values(llm_kv_blocks_active{job="$job"}, component)', false),
    variable('endpoint', 'Endpoint', 'label_values(llm_kv_blocks_active{job="$job",component="$component"}, endpoint)', false),
  ],
  [
    {
      title: 'KV cache utilization per worker',
      description: 'Active over total KV blocks',
      unit: 'percent',
      targets: [{ expr: `100 * llm_kv_blocks_active${W} / llm_kv_blocks_total${W}`, legend: 'worker {{worker_id}}' }],
    },
    {
      title: 'Request slot utilization per worker',
      description: 'Active over total request slots',
      unit: 'percent',
      targets: [{ expr: `100 * llm_requests_active_slots${W} / llm_requests_total_slots${W}`, legend: 'worker {{worker_id}}' }],
    },
    {
      title: 'Average utilization',
      description: 'Mean across workers of KV cache and slot utilization',
      unit: 'percent',
      targets: [
        { expr: `avg(100 * llm_kv_blocks_active${W} / llm_kv_blocks_total${W})`, legend: 'KV cache' },
        { expr: `avg(100 * llm_requests_active_slots${W} / llm_requests_total_slots${W})`, legend: 'request slots' },
      ],
    },
    {
      title: 'Load average and deviation',
      description: 'Mean and population standard deviation of active KV blocks across workers (llm_load_avg, llm_load_std)',
      unit: 'short',
      targets: [
        { expr: `llm_load_avg${W}`, legend: 'load average' },
        { expr: `llm_load_std${W}`, legend: 'load deviation' },
      ],
    },
    {
      title: 'Available resources',
      description: 'Free KV blocks and request slots across all workers',
      unit: 'short',
      targets: [
        { expr: `sum(llm_kv_blocks_total${W} - llm_kv_blocks_active${W})`, legend: 'free KV blocks' },
        { expr: `sum(llm_requests_total_slots${W} - llm_requests_active_slots${W})`, legend: 'free request slots' },
      ],
    },
    {
      title: 'Workers',
      description: 'Workers reporting stats',
      unit: 'short',
      type: 'stat',
      width: 6,
      targets: [{ expr: `count(llm_kv_blocks_active${W})`, legend: 'workers' }],
    },
    {
      title: 'Requests waiting',
      description: 'Queued requests per worker',
      unit: 'short',
      width: 6,
      targets: [{ expr: `llm_requests_waiting${W}`, legend: 'worker {{worker_id}}' }],
    },
    {
      title: 'KV hit rate per worker',
      description: 'Cumulative share of request blocks already cached on the worker',
      unit: 'percent',
      targets: [{ expr: `llm_kv_hit_rate_percent${W}`, legend: 'worker {{worker_id}}' }],
    },
    {
      title: 'KV hit rate, overall',
      description: 'Overlapping over input blocks across all workers, over the dashboard interval and cumulative',
      unit: 'percent',
      targets: [
        {
          expr: `100 * sum(rate(llm_kv_hit_rate_overlap_blocks_total${W}[$__rate_interval])) / sum(rate(llm_kv_hit_rate_isl_blocks_total${W}[$__rate_interval]))`,
          legend: 'recent',
        },
        { expr: `100 * sum(llm_kv_hit_rate_overlap_blocks_total${W}) / sum(llm_kv_hit_rate_isl_blocks_total${W})`, legend: 'cumulative' },
      ],
    },
    {
      title: 'GPU KV cache usage per worker',
      description: 'As reported by the engine (gpu_cache_usage_perc)',
      unit: 'percent',
      targets: [{ expr: `llm_gpu_cache_usage_percent${W}`, legend: 'worker {{worker_id}}' }],
    },
    {
      title: 'Aggregator health',
      description: 'Workers seen, leader, and stats replies rejected by reason',
      unit: 'short',
      targets: [
        { expr: `max(dynamo_metrics_workers${J})`, legend: 'workers seen' },
        { expr: `max(dynamo_metrics_leader${J})`, legend: 'leader' },
        { expr: `sum(rate(dynamo_metrics_scrape_cycles_total${J}[$__rate_interval]))`, legend: 'scrape cycles/s' },
        { expr: `min(dynamo_metrics_nats_connected${J})`, legend: 'NATS connected' },
        { expr: `max(dynamo_metrics_view_current${J})`, legend: 'view current' },
      ],
    },
  ],
);

const E = '{job="$job",dynamo_namespace="$namespace",dynamo_component=~"$component",dynamo_endpoint=~"$endpoint"}';

/** p50, p95 and p99 by endpoint of a seconds histogram of the component endpoints. */
function quantiles(title: string, description: string, metric: string): Panel {
  return {
    title,
    description,
    unit: 's',
    targets: [0.5, 0.95, 0.99].map((q) => ({
      expr: `histogram_quantile(${q}, sum by (le, dynamo_endpoint) (rate(${metric}_bucket${E}[$__rate_interval])))`,
      legend: `p${Math.round(q * 100)} {{dynamo_endpoint}}`,
    })),
  };
}

export const componentEndpoints = dashboard(
  'dynamo-component-endpoints',
  'Component Endpoints',
  'Request rate, latency, bytes, errors and in-flight requests of every endpoint served through the runtime (workers\u2019 system status servers).',
  [
    jobVariable('dynamo_component_requests_total', 'dynamo_workers'),
    variable('namespace', 'Namespace', 'label_values(dynamo_component_requests_total{job="$job"}, dynamo_namespace)', false),
    variable(
      'component',
      'Component',
      'label_values(dynamo_component_requests_total{job="$job",dynamo_namespace="$namespace"}, dynamo_component)',
      true,
    ),
    variable(
      'endpoint',
      'Endpoint',
      'label_values(dynamo_component_requests_total{job="$job",dynamo_namespace="$namespace",dynamo_component=~"$component"}, dynamo_endpoint)',
      true,
    ),
  ],
  [
    {
      title: 'Request rate',
      description: 'Requests per second by endpoint',
      unit: 'reqps',
      targets: [
        {
          expr: `sum by (dynamo_component, dynamo_endpoint) (rate(dynamo_component_requests_total${E}[$__rate_interval]))`,
          legend: '{{dynamo_component}}/{{dynamo_endpoint}}',
        },
      ],
    },
    quantiles(
      'Latency p50 / p95 / p99',
      'From dynamo_component_request_duration_seconds (to the end of the response stream)',
      'dynamo_component_request_duration_seconds',
    ),
    {
      title: 'Bytes in / out',
      description: 'Request and response payload bytes per second',
      unit: 'Bps',
      targets: [
        {
          expr: `sum by (dynamo_endpoint) (rate(dynamo_component_request_bytes_total${E}[$__rate_interval]))`,
          legend: 'in {{dynamo_endpoint}}',
        },
        {
          expr: `sum by (dynamo_endpoint) (rate(dynamo_component_response_bytes_total${E}[$__rate_interval]))`,
          legend: 'out {{dynamo_endpoint}}',
        },
      ],
    },
    {
      title: 'Errors by type',
      description: 'Errors per second by error_type',
      unit: 'short',
      targets: [{ expr: `sum by (error_type) (rate(dynamo_component_errors_total${E}[$__rate_interval]))`, legend: '{{error_type}}' }],
    },
    {
      title: 'In-flight requests',
      description: 'Requests being processed',
      unit: 'short',
      targets: [
        {
          expr: `sum by (dynamo_component, dynamo_endpoint) (dynamo_component_inflight_requests${E})`,
          legend: '{{dynamo_component}}/{{dynamo_endpoint}}',
        },
      ],
    },
    {
      title: 'Mean latency',
      description: 'Duration sum over count',
      unit: 's',
      targets: [
        {
          expr: `sum by (dynamo_endpoint) (rate(dynamo_component_request_duration_seconds_sum${E}[$__rate_interval])) / sum by (dynamo_endpoint) (rate(dynamo_component_request_duration_seconds_count${E}[$__rate_interval]))`,
          legend: '{{dynamo_endpoint}}',
        },
      ],
    },
    quantiles(
      'Time to first chunk p50 / p95 / p99',
      'From a streamed request\u2019s arrival to its first chunk (time to first token), dynamo_component_time_to_first_chunk_seconds',
      'dynamo_component_time_to_first_chunk_seconds',
    ),
    quantiles(
      'Inter-chunk latency p50 / p95 / p99',
      'Between consecutive chunks of streamed responses (inter-token latency), dynamo_component_inter_chunk_latency_seconds',
      'dynamo_component_inter_chunk_latency_seconds',
    ),
    {
      title: 'Cancellations',
      description: 'Requests cancelled by their client per second (dynamo_component_cancellation_total)',
      unit: 'short',
      targets: [
        {
          expr: `sum by (dynamo_endpoint) (rate(dynamo_component_cancellation_total${E}[$__rate_interval]))`,
          legend: '{{dynamo_endpoint}}',
        },
      ],
    },
    {
      title: 'Client errors by type',
      description: 'Failed requests per second seen by instrumented clients, by error_type (dynamo_client_errors_total)',
      unit: 'short',
      targets: [{ expr: `sum by (error_type) (rate(dynamo_client_errors_total${E}[$__rate_interval]))`, legend: '{{error_type}}' }],
    },
    {
      title: 'Chunks per streamed response (mean)',
      description: 'dynamo_component_response_chunks sum over count',
      unit: 'short',
      targets: [
        {
          expr: `sum by (dynamo_endpoint) (rate(dynamo_component_response_chunks_sum${E}[$__rate_interval])) / sum by (dynamo_endpoint) (rate(dynamo_component_response_chunks_count${E}[$__rate_interval]))`,
          legend: '{{dynamo_endpoint}}',
        },
      ],
    },
  ],
);

const K = '{job="$job",dynamo_namespace="$namespace",dynamo_component=~"$component"}';
const PER_WORKER = 'max by (dynamo_component, worker_id)';

/** From the gauges each worker exposes on its own /metrics: no aggregator needed. */
export const workerKvCache = dashboard(
  'dynamo-worker-kv',
  'Worker KV Cache',
  'KV cache of every worker from the dynamo_component_kvstats_* gauges on the workers\u2019 own status servers: works with no aggregator running.',
  [
    jobVariable('dynamo_component_kvstats_total_blocks', 'dynamo_workers'),
    variable('namespace', 'Namespace', 'label_values(dynamo_component_kvstats_total_blocks{job="$job"}, dynamo_namespace)', false),
    variable(
      'component',
      'Component',
      'label_values(dynamo_component_kvstats_total_blocks{job="$job",dynamo_namespace="$namespace"}, dynamo_component)',
      true,
    ),
  ],
  [
    {
      title: 'KV blocks in use per worker',
      description: 'dynamo_component_kvstats_active_blocks',
      unit: 'short',
      targets: [{ expr: `${PER_WORKER} (dynamo_component_kvstats_active_blocks${K})`, legend: '{{dynamo_component}} {{worker_id}}' }],
    },
    {
      title: 'KV cache utilization per worker',
      description: 'Active over total KV blocks',
      unit: 'percent',
      targets: [
        {
          expr: `100 * ${PER_WORKER} (dynamo_component_kvstats_active_blocks${K}) / ${PER_WORKER} (dynamo_component_kvstats_total_blocks${K})`,
          legend: '{{dynamo_component}} {{worker_id}}',
        },
      ],
    },
    {
      title: 'GPU cache usage per worker',
      description: 'dynamo_component_kvstats_gpu_cache_usage_percent (a fraction, as the worker reports it)',
      unit: 'percentunit',
      targets: [
        { expr: `${PER_WORKER} (dynamo_component_kvstats_gpu_cache_usage_percent${K})`, legend: '{{dynamo_component}} {{worker_id}}' },
      ],
    },
    {
      title: 'Prefix cache hit rate per worker',
      description: 'dynamo_component_kvstats_gpu_prefix_cache_hit_rate',
      unit: 'percentunit',
      targets: [
        { expr: `${PER_WORKER} (dynamo_component_kvstats_gpu_prefix_cache_hit_rate${K})`, legend: '{{dynamo_component}} {{worker_id}}' },
      ],
    },
    {
      title: 'KV blocks across workers',
      description: 'Sum of active and total KV blocks of all workers',
      unit: 'short',
      width: 24,
      targets: [
        { expr: `sum(dynamo_component_kvstats_active_blocks${K})`, legend: 'active' },
        { expr: `sum(dynamo_component_kvstats_total_blocks${K})`, legend: 'total' },
      ],
    },
  ],
);

const F = '{job="$job",model="$model"}';
const A = '{job="$agg_job",component="$component",endpoint="$endpoint"}';
const frontendQuantiles = (metric: string): Target[] =>
  [0.5, 0.9, 0.99].map((q) => ({
    expr: `histogram_quantile(${q}, sum by (le) (rate(${metric}_bucket${F}[$__rate_interval])))`,
    legend: `p${q * 100}`,
  }));

/** Per model, from the frontend (dynamo_frontend_*), with the workers' side from the aggregator. */
export const llmServing = dashboard(
  'dynamo-llm-serving',
  'LLM Serving',
  'Per model: request rate by status, time to first token and inter-token latency percentiles, input and output lengths, tokens per second and queue from the frontend (dynamo_frontend_*); KV usage by worker, prefix hit rate and the load spread of the workers that serve it from the `metrics` aggregator.',
  [
    jobVariable('dynamo_frontend_requests_total', 'dynamo_frontend'),
    variable('model', 'Model', 'label_values(dynamo_frontend_requests_total{job="$job"}, model)', false),
    {
      ...variable('agg_job', 'Aggregator job', 'label_values(llm_kv_blocks_active, job)', false, 'dynamo_metrics'),
      description: "The aggregator's scrape job (the workers' side: KV usage, hit rate, load)",
    },
    variable('component', 'Component', 'label_values(llm_kv_blocks_active{job="$agg_job"}, component)', false, 'backend'),
    variable(
      'endpoint',
      'Endpoint',
      'label_values(llm_kv_blocks_active{job="$agg_job",component="$component"}, endpoint)',
      false,
      'generate',
    ),
  ],
  [
    {
      title: 'Requests by status',
      description: 'Finished requests per second by status and error_type (dynamo_frontend_requests_total)',
      unit: 'reqps',
      targets: [
        {
          expr: `sum by (status, error_type) (rate(dynamo_frontend_requests_total${F}[$__rate_interval]))`,
          legend: '{{status}} {{error_type}}',
        },
      ],
    },
    {
      title: 'Output tokens per second',
      description: 'Tokens sent to clients per second (dynamo_frontend_output_tokens_total)',
      unit: 'short',
      targets: [{ expr: `sum(rate(dynamo_frontend_output_tokens_total${F}[$__rate_interval]))`, legend: 'tokens/s' }],
    },
    {
      title: 'Time to first token',
      description: 'Percentiles of dynamo_frontend_time_to_first_token_seconds (interpolated within Dynamo\u2019s buckets)',
      unit: 's',
      targets: frontendQuantiles('dynamo_frontend_time_to_first_token_seconds'),
    },
    {
      title: 'Inter-token latency',
      description: 'Percentiles of dynamo_frontend_inter_token_latency_seconds',
      unit: 's',
      targets: frontendQuantiles('dynamo_frontend_inter_token_latency_seconds'),
    },
    {
      title: 'Input and output lengths (mean)',
      description: 'Mean prompt and output tokens per request (dynamo_frontend_input_sequence_tokens, _output_sequence_tokens)',
      unit: 'short',
      targets: [
        {
          expr: `sum(rate(dynamo_frontend_input_sequence_tokens_sum${F}[$__rate_interval])) / sum(rate(dynamo_frontend_input_sequence_tokens_count${F}[$__rate_interval]))`,
          legend: 'input (ISL)',
        },
        {
          expr: `sum(rate(dynamo_frontend_output_sequence_tokens_sum${F}[$__rate_interval])) / sum(rate(dynamo_frontend_output_sequence_tokens_count${F}[$__rate_interval]))`,
          legend: 'output (OSL)',
        },
      ],
    },
    {
      title: 'Active and queued requests',
      description: 'In the frontend: from arrival to the end (active) and to the first token (queued)',
      unit: 'short',
      targets: [
        { expr: `sum(dynamo_frontend_active_requests${F})`, legend: 'active' },
        { expr: `sum(dynamo_frontend_queued_requests${F})`, legend: 'queued' },
      ],
    },
    {
      title: 'KV cache usage by worker',
      description: 'Active over total KV blocks of each worker (from the aggregator)',
      unit: 'percent',
      targets: [{ expr: `100 * llm_kv_blocks_active${A} / llm_kv_blocks_total${A}`, legend: 'worker {{worker_id}}' }],
    },
    {
      title: 'Prefix cache hit rate',
      description: 'Overlapping over prompt blocks in the workers\u2019 KV hit-rate events, all workers (from the aggregator)',
      unit: 'percentunit',
      targets: [
        {
          expr: `sum(rate(llm_kv_hit_rate_overlap_blocks_total${A}[$__rate_interval])) / sum(rate(llm_kv_hit_rate_isl_blocks_total${A}[$__rate_interval]))`,
          legend: 'hit rate',
        },
      ],
    },
    {
      title: 'Load spread across workers',
      description: 'Mean and standard deviation of the workers\u2019 load (llm_load_avg, llm_load_std)',
      unit: 'short',
      width: 24,
      targets: [
        { expr: `llm_load_avg{job="$agg_job",component="$component",endpoint="$endpoint"}`, legend: 'mean' },
        { expr: `llm_load_std{job="$agg_job",component="$component",endpoint="$endpoint"}`, legend: 'std' },
      ],
    },
  ],
);

export const DASHBOARD_FILES: Record<string, Record<string, unknown>> = {
  'llm-serving.json': llmServing,
  'llm-worker-metrics.json': llmWorkerMetrics,
  'component-endpoints.json': componentEndpoints,
  'worker-kv.json': workerKvCache,
};

if (import.meta.url === `file://${process.argv[1]}`) {
  const dir = join(import.meta.dirname, '..', 'config', 'grafana', 'dashboards');
  for (const [file, d] of Object.entries(DASHBOARD_FILES)) writeFileSync(join(dir, file), `${JSON.stringify(d, null, 2)}\n`);
}
