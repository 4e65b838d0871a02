/**
 * The frontend's status page (docs/status-page.md): `/` and `/api/status` with the models it
 * serves (from the workers' cards), each model's requests, in flight, queued, output tokens and
 * mean latencies (the numbers its /metrics reads), its instances with the load each last
 * published (`least-loaded`), and the exporters' health. Pure: the caller gathers the inputs.
 */
import type { ExporterStatus } from '../export/ExportHealth.ts';
import type { ModelSummary } from './FrontendMetrics.ts';
import type { ServedModel } from './ModelRegistry.ts';
import type { PublishedLoad } from './Router.ts';

/** The page and its files: path → file under `static/`. */
export const FRONTEND_PAGE_FILES: Readonly<Record<string, string>> = {
  '/': 'status/frontend.html',
  '/status/frontend.js': 'status/frontend.js',
  '/status/common.js': 'status/common.js',
  '/status/status.css': 'status/status.css',
  '/status/favicon.svg': 'status/favicon.svg',
};

/** Most instances listed per model (the answer stays small at any cluster size). */
export const MAX_STATUS_INSTANCES_PER_MODEL = 1_000;

export interface FrontendStatusInput {
  version: string;
  uptimeSeconds: number;
  routerMode: string;
  models: readonly ServedModel[];
  summaries: readonly ModelSummary[];
  publishedLoad: (instance: bigint) => { load: PublishedLoad; ageMs: number } | undefined;
  disconnectedClients: number;
  exporters: readonly ExporterStatus[];
}

export function frontendStatusBody(i: FrontendStatusInput): Record<string, unknown> {
  const byModel = new Map(i.summaries.map((s) => [s.model, s]));
  const names = [...new Set([...i.models.map((m) => m.name), ...byModel.keys()])].sort();
  const served = new Map(i.models.map((m) => [m.name, m]));
  return {
    version: i.version,
    now: Date.now() / 1000,
    uptime_seconds: i.uptimeSeconds,
    router_mode: i.routerMode,
    ready: i.models.length > 0,
    disconnected_clients: i.disconnectedClients,
    models: names.map((name) => {
      const m = served.get(name);
      const s = byModel.get(name);
      const instances = m?.instances ?? [];
      return {
        model: name,
        endpoint: m === undefined ? null : `${m.namespace}/${m.component}/${m.endpoint}`,
        requests: s?.success ?? 0,
        errors: s?.failed ?? 0,
        cancelled: s?.cancelled ?? 0,
        inflight: s?.inflight ?? 0,
        queued: s?.queued ?? 0,
        output_tokens: s?.outputTokens ?? 0,
        mean_duration_seconds: s?.meanDurationSeconds ?? null,
        mean_ttft_seconds: s?.meanTtftSeconds ?? null,
        mean_itl_seconds: s?.meanItlSeconds ?? null,
        context_length: m?.card.contextLength ?? null,
        kv_cache_block_size: m?.card.kvCacheBlockSize ?? null,
        instances_total: instances.length,
        instances: instances.slice(0, MAX_STATUS_INSTANCES_PER_MODEL).map((id) => {
          const p = i.publishedLoad(id);
          return {
            id: id.toString(),
            load:
              p === undefined
                ? null
                : {
                    waiting: p.load.waiting,
                    decode_blocks: p.load.decodeBlocks,
                    prefill_tokens: p.load.prefillTokens,
                    age_seconds: p.ageMs / 1000,
                  },
          };
        }),
      };
    }),
    exporters: i.exporters,
  };
}
