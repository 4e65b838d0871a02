/**
 * Parsing `$SRV.STATS` replies (docs/wire-protocol.md §4): each reply on its own, each endpoint paired with its
 * own `data` (Dynamo zipped a filtered list and shifted numbers onto the wrong worker), only
 * endpoints of the target, the worker id from the hex after the last `-`. Pure.
 */
import { hasUnsafeInteger, parseJson, parseJsonRounded } from '../runtime/json.ts';
import { idFromHex } from '../runtime/names.ts';
import { decodeForwardPassMetrics, type FpmRejectReason, type ForwardPassMetrics } from '../runtime/forwardPassMetrics.ts';

export type StatsRejectReason = 'bad_json' | 'bad_shape' | 'bad_endpoint' | 'bad_worker_id' | 'unregistered' | 'conflict' | `data_${FpmRejectReason}`;

export interface WorkerStats {
  workerId: bigint;
  subject: string;
  /** The endpoint's `data` as received (republished in ProcessedEndpoints). */
  data: unknown;
  metrics: ForwardPassMetrics;
  /** The micro-service instance that answered (the reply's `id`): one per worker process. */
  serviceId?: string;
}

export interface ParsedReply {
  workers: WorkerStats[];
  rejected: StatsRejectReason[];
}

export function parseStatsReply(body: Uint8Array, service: string, endpoint: string): ParsedReply {
  // the native parser first; the exact one only for a reply whose kept `data` holds an integer beyond 2^53
  let v: unknown;
  try {
    v = parseJsonRounded(body);
  } catch {
    return { workers: [], rejected: ['bad_json'] };
  }
  const first = readReply(v, service, endpoint, false);
  if (first !== INEXACT) return first;
  try {
    return readReply(parseJson(body), service, endpoint, true) as ParsedReply;
  } catch {
    return { workers: [], rejected: ['bad_json'] }; // nested beyond what the exact parser reads
  }
}

const INEXACT = Symbol('a kept data holds a rounded integer');

function readReply(v: unknown, service: string, endpoint: string, exact: boolean): ParsedReply | typeof INEXACT {
  const out: ParsedReply = { workers: [], rejected: [] };
  const eps = typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>).endpoints : undefined;
  const rawId = typeof v === 'object' && v !== null ? (v as Record<string, unknown>).id : undefined;
  const serviceId = typeof rawId === 'string' ? rawId : undefined;
  if (!Array.isArray(eps)) {
    out.rejected.push('bad_shape');
    return out;
  }
  const prefix = `${service}.${endpoint}-`;
  for (const ep of eps) {
    if (typeof ep !== 'object' || ep === null || Array.isArray(ep)) {
      out.rejected.push('bad_endpoint');
      continue;
    }
    const e = ep as Record<string, unknown>;
    const subject = e.subject;
    if (typeof subject !== 'string') {
      out.rejected.push('bad_endpoint');
      continue;
    }
    if (!subject.startsWith(prefix)) continue; // another endpoint of the component: not ours, not an error
    const hex = subject.slice(prefix.length);
    if (hex.includes('-')) continue; // an endpoint whose name extends ours (`generate-x`): not ours
    const workerId = idFromHex(hex);
    if (workerId === undefined || workerId >= 1n << 63n) {
      out.rejected.push('bad_worker_id');
      continue;
    }
    if (!exact && hasUnsafeInteger(e.data)) return INEXACT;
    const fpm = decodeForwardPassMetrics(e.data);
    if (!fpm.ok) {
      out.rejected.push(`data_${fpm.reason}`);
      continue;
    }
    out.workers.push({ workerId, subject, data: e.data, metrics: fpm.value, serviceId });
  }
  return out;
}
