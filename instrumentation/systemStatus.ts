/**
 * The system status server's page (docs/status-page.md): `/` and `/api/status` with the process's
 * readiness, uptime, instance id, each served endpoint's requests, errors by type, in-flight,
 * cancellations, bytes and mean duration, and the exporters' health. The endpoint numbers are
 * those of the automatic metrics (the same plain counters /metrics reads).
 */
import type { ExporterStatus } from '../src/export/ExportHealth.ts';
import { ENDPOINT_ERROR_TYPES } from '../src/runtime/observer.ts';
import type { EndpointStats } from './EndpointMetrics.ts';

/** The page and its files: path → file under `static/`. */
export const SYSTEM_PAGE_FILES: Readonly<Record<string, string>> = {
  '/': 'status/system.html',
  '/status/system.js': 'status/system.js',
  '/status/common.js': 'status/common.js',
  '/status/status.css': 'status/status.css',
  '/status/favicon.svg': 'status/favicon.svg',
};

/** Most endpoints listed (a process serves a handful; the bound keeps an answer small). */
export const MAX_STATUS_ENDPOINTS = 1_000;
/** Most instance ids listed (mock_worker runs up to 10,000 runtimes in one process). */
export const MAX_STATUS_INSTANCES = 100_000;

export interface EndpointStatus {
  namespace: string;
  component: string;
  endpoint: string;
  requests: number;
  /** Errors by type (only types seen). */
  errors: Record<string, number>;
  inflight: number;
  cancellations: number;
  request_bytes: number;
  response_bytes: number;
  /** Mean of finished requests, seconds; null before the first. */
  duration_mean_seconds: number | null;
}

export interface SystemStatusBody {
  kind: 'system';
  version: string;
  now: number;
  instance_id: string | null;
  /** Every runtime of the process that serves: its instance id (decimal), as workers are labelled. */
  instances: string[];
  ready: boolean;
  uptime_seconds: number;
  /** Endpoints the process's runtimes serve (readiness). */
  serving: string[];
  endpoints: EndpointStatus[];
  /** Endpoints left out beyond `MAX_STATUS_ENDPOINTS`. */
  endpoints_omitted: number;
  exporters: ExporterStatus[];
}

export function endpointStatus(s: EndpointStats): EndpointStatus {
  const errors: Record<string, number> = {};
  ENDPOINT_ERROR_TYPES.forEach((type, i) => {
    const n = s.errors[i] ?? 0;
    if (n > 0) errors[type] = n;
  });
  const { namespace, component, endpoint } = s.identity;
  return {
    namespace,
    component,
    endpoint,
    requests: s.requests,
    errors,
    inflight: s.inflight,
    cancellations: s.cancellations,
    request_bytes: s.requestBytesTotal,
    response_bytes: s.responseBytesTotal,
    duration_mean_seconds: s.durationCount > 0 ? s.durationSum / s.durationCount : null,
  };
}

export function systemStatusBody(input: {
  version: string;
  instanceId: string | undefined;
  instances: Iterable<bigint>;
  readiness: { ready: boolean; endpoints: string[] };
  uptimeSeconds: number;
  endpoints: Iterable<EndpointStats>;
  exporters: ExporterStatus[];
}): SystemStatusBody {
  const all = [...input.endpoints];
  return {
    kind: 'system',
    version: input.version,
    now: Date.now() / 1000,
    instance_id: input.instanceId ?? null,
    instances: [...input.instances].slice(0, MAX_STATUS_INSTANCES).map(String),
    ready: input.readiness.ready,
    uptime_seconds: input.uptimeSeconds,
    serving: input.readiness.endpoints.slice(0, MAX_STATUS_ENDPOINTS),
    endpoints: all.slice(0, MAX_STATUS_ENDPOINTS).map(endpointStatus),
    endpoints_omitted: Math.max(0, all.length - MAX_STATUS_ENDPOINTS),
    exporters: input.exporters,
  };
}
