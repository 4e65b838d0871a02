/**
 * The aggregate as Dynamo publishes it, `ProcessedEndpoints` (docs/wire-protocol.md §6):
 * `{"endpoints":{"<decimal id>":{"name":"worker-<id>","subject":…,"data":…},…},"load_avg":…,"load_std":…}`.
 * Written straight to text (a 10,000-worker aggregate is several MB), by the native
 * `JSON.stringify` unless a `data` holds 64-bit integers. Pure.
 */
import { stringifyJson } from '../runtime/json.ts';
import type { LoadStatistics } from './statistics.ts';
import type { WorkerStats } from './statsReply.ts';

const encoder = new TextEncoder();

function dataJson(data: unknown): string {
  try {
    return JSON.stringify(data) ?? 'null';
  } catch {
    return stringifyJson(data); // bigint inside
  }
}

function entry(id: bigint, w: WorkerStats): string {
  const key = id.toString();
  return `"${key}":{"name":"worker-${key}","subject":${JSON.stringify(w.subject)},"data":${w.dataJson ?? dataJson(w.data)}}`;
}

function number(x: number): string {
  return Number.isFinite(x) ? String(x) : 'null';
}

/**
 * The aggregate's text. Workers read from canonical replies carry their `data`'s JSON already
 * (`dataJson`), and the text is joined from those (no value is written again: at 10,000 workers,
 * writing the values was a fifth of the aggregator's work per cycle); the few without it are
 * written one by one. When none carries it, one native `JSON.stringify` of the whole document (a
 * quarter faster than joining an entry per worker, BENCHMARKS.md), or, when a worker's `data` holds
 * a `bigint` the native writer refuses, an entry per worker. Keys that are small integers come
 * first in the native form (JavaScript orders such keys); key order means nothing in JSON.
 */
export function aggregateText(workers: ReadonlyMap<bigint, WorkerStats>, stats: Pick<LoadStatistics, 'avg' | 'std'> | undefined): string {
  let written = false;
  for (const w of workers.values()) {
    if (w.dataJson !== undefined) {
      written = true;
      break;
    }
  }
  if (!written) {
    const endpoints: Record<string, { name: string; subject: string; data: unknown }> = {};
    for (const [id, w] of workers) {
      const key = id.toString();
      endpoints[key] = { name: `worker-${key}`, subject: w.subject, data: w.data ?? null };
    }
    try {
      return JSON.stringify({ endpoints, load_avg: finite(stats?.avg ?? 0), load_std: finite(stats?.std ?? 0) });
    } catch (err) {
      if (!(err instanceof TypeError)) throw err;
    }
  }
  const parts: string[] = [];
  for (const [id, w] of workers) parts.push(entry(id, w));
  return `{"endpoints":{${parts.join(',')}},"load_avg":${number(stats?.avg ?? 0)},"load_std":${number(stats?.std ?? 0)}}`;
}

/** A number as JSON.stringify writes it: null unless finite. */
function finite(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}

/** The aggregate's bytes (UTF-8). */
export function encodeAggregate(
  workers: ReadonlyMap<bigint, WorkerStats>,
  stats: Pick<LoadStatistics, 'avg' | 'std'> | undefined,
): Uint8Array {
  return encoder.encode(aggregateText(workers, stats));
}
