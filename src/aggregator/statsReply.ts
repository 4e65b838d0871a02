/**
 * Parsing `$SRV.STATS` replies (docs/wire-protocol.md §4): each reply on its own, each endpoint paired with its
 * own `data` (Dynamo zipped a filtered list and shifted numbers onto the wrong worker), only
 * endpoints of the target, the worker id from the hex after the last `-`. A reply written the way
 * nats.js services write it is read by the fast path of canonicalReply.ts (its `data` parsed alone,
 * its text kept for the aggregate); any other, by the general path here, with the same result. Pure.
 */
import { MAX_STATS_DEPTH, nestsDeeperThan } from '../runtime/inputBounds.ts';
import { hasUnsafeInteger, parseJson, parseJsonRounded, textOf } from '../runtime/json.ts';
import { idFromHex } from '../runtime/names.ts';
import { readCanonicalData, readCanonicalReply, type CanonicalData } from './canonicalReply.ts';
import { decodeForwardPassMetrics, type FpmRejectReason, type ForwardPassMetrics } from '../runtime/forwardPassMetrics.ts';

export type StatsRejectReason =
  | 'bad_json'
  | 'bad_shape'
  | 'bad_endpoint'
  | 'bad_worker_id'
  | 'unregistered'
  | 'unverified'
  | 'conflict'
  | 'duplicate'
  | 'too_deep'
  | `data_${FpmRejectReason}`;

export interface WorkerStats {
  workerId: bigint;
  subject: string;
  /** The endpoint's `data`, decoded (written into ProcessedEndpoints when `dataJson` is absent). */
  data: unknown;
  /**
   * The text ProcessedEndpoints carries for `data`, when the reply was read in its canonical form:
   * the text received, or written again from the value when a key appeared twice (canonicalReply.ts).
   */
  dataJson?: string;
  metrics: ForwardPassMetrics;
  /** The micro-service instance that answered (the reply's `id`): one per worker process. */
  serviceId?: string | undefined;
  /**
   * The load of each data-parallel rank, when the worker reports ranks (its load events name
   * them, or more than one rank is known); `metrics` is then that of its first rank.
   */
  ranks?: ReadonlyMap<number, ForwardPassMetrics>;
  /** Known from load events alone (rebuilt from them every cycle, never kept from an earlier one). */
  fromEvents?: true;
}

export interface ParsedReply {
  workers: WorkerStats[];
  rejected: StatsRejectReason[];
}

export function parseStatsReply(body: Uint8Array, service: string, endpoint: string): ParsedReply {
  return readStats(body, service, endpoint, true);
}

/**
 * `parseStatsReply` without the fast path for canonical replies: the reference that path is
 * checked against (the same result but for `dataJson`).
 */
export function parseStatsReplyGeneral(body: Uint8Array, service: string, endpoint: string): ParsedReply {
  return readStats(body, service, endpoint, false);
}

function readStats(body: Uint8Array, service: string, endpoint: string, fastPath: boolean): ParsedReply {
  const prefix = `${service}.${endpoint}-`;
  let text: string;
  let v: unknown;
  try {
    text = textOf(body);
    const fast = fastPath ? readCanonical(text, body, prefix) : undefined;
    if (fast !== undefined) return fast;
    if (nestsDeeperThan(body, MAX_STATS_DEPTH)) return { workers: [], rejected: ['too_deep'] };
    // the native parser first; the exact one only for a reply whose kept `data` holds an integer beyond 2^53
    v = parseJsonRounded(text);
  } catch {
    return { workers: [], rejected: ['bad_json'] };
  }
  const first = readReply(v, prefix, false);
  if (first !== INEXACT) return first;
  try {
    return readReply(parseJson(text), prefix, true) as ParsedReply;
  } catch {
    return { workers: [], rejected: ['bad_json'] }; // nested beyond what the exact parser reads
  }
}

/** A reply in the canonical form (canonicalReply.ts), read without parsing all of it; undefined for any other form. */
function readCanonical(text: string, body: Uint8Array, prefix: string): ParsedReply | undefined {
  const reply = readCanonicalReply(text);
  if (reply === undefined) return undefined;
  const out: ParsedReply = { workers: [], rejected: [] };
  for (const ep of reply.endpoints) {
    const workerId = subjectWorker(ep.subject, prefix);
    if (workerId === NOT_OURS) continue;
    if (workerId === undefined) {
      out.rejected.push('bad_worker_id');
      continue;
    }
    let data: CanonicalData;
    try {
      // a copy of its own: a part of the reply's text would keep all of it alive as long as the
      // view; read through a plain view (Buffer's subarray makes a Buffer, dearer than the copy)
      data = readCanonicalData(textOf(new Uint8Array(body.buffer, body.byteOffset + ep.dataStart, ep.data.length)));
    } catch {
      return undefined; // cannot happen on text the grammar took; the general path decides
    }
    take(out, workerId, ep.subject, data.value, reply.serviceId, data.json);
  }
  return out;
}

/** Worker ids are 63-bit. */
const MAX_WORKER_ID = (1n << 63n) - 1n;
const INEXACT = Symbol('a kept data holds a rounded integer');
const NOT_OURS = Symbol('another endpoint');

/** The worker id at the end of an endpoint's subject; NOT_OURS for an endpoint other than the target; undefined when the id is bad. */
function subjectWorker(subject: string, prefix: string): bigint | typeof NOT_OURS | undefined {
  if (!subject.startsWith(prefix)) return NOT_OURS; // another endpoint of the component: not ours, not an error
  const hex = subject.slice(prefix.length);
  if (hex.includes('-')) return NOT_OURS; // an endpoint whose name extends ours (`generate-x`): not ours
  const workerId = idFromHex(hex);
  return workerId === undefined || workerId > MAX_WORKER_ID ? undefined : workerId;
}

/** Decodes a kept endpoint's data: the worker's stats, or the reason it is refused. */
function take(out: ParsedReply, workerId: bigint, subject: string, data: unknown, serviceId: string | undefined, dataJson?: string): void {
  const fpm = decodeForwardPassMetrics(data);
  if (!fpm.ok) {
    out.rejected.push(`data_${fpm.reason}`);
    return;
  }
  const w: WorkerStats = { workerId, subject, data, metrics: fpm.value, serviceId };
  if (dataJson !== undefined) w.dataJson = dataJson;
  out.workers.push(w);
}

function readReply(v: unknown, prefix: string, exact: boolean): ParsedReply | typeof INEXACT {
  const out: ParsedReply = { workers: [], rejected: [] };
  // a JSON value: reading a property of anything but an object (null, a number, a string, an
  // array) gives undefined, which the checks below refuse
  const reply = v as { endpoints?: unknown; id?: unknown } | null;
  const eps = reply?.endpoints;
  const rawId = reply?.id;
  const serviceId = typeof rawId === 'string' ? rawId : undefined;
  if (!Array.isArray(eps)) {
    out.rejected.push('bad_shape');
    return out;
  }
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
    const workerId = subjectWorker(subject, prefix);
    if (workerId === NOT_OURS) continue;
    if (workerId === undefined) {
      out.rejected.push('bad_worker_id');
      continue;
    }
    if (!exact && hasUnsafeInteger(e.data)) return INEXACT;
    take(out, workerId, subject, e.data, serviceId);
  }
  return out;
}
