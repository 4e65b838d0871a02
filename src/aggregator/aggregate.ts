/**
 * The aggregate as Dynamo publishes it, `ProcessedEndpoints` (docs/wire-protocol.md §6):
 * `{"endpoints":{"<decimal id>":{"name":"worker-<id>","subject":…,"data":…},…},"load_avg":…,"load_std":…}`.
 * Written straight to text (a 10,000-worker aggregate is several MB): each worker's entry once
 * per stats reply (a worker kept from an earlier cycle reuses it), its `data` through the native
 * `JSON.stringify` unless it holds 64-bit integers. Pure.
 */
import { stringifyJson } from '../runtime/json.ts';
import type { LoadStatistics } from './statistics.ts';
import type { WorkerStats } from './statsReply.ts';

const entries = new WeakMap<WorkerStats, string>();
const encoder = new TextEncoder();

function dataJson(data: unknown): string {
  try {
    return JSON.stringify(data) ?? 'null';
  } catch {
    return stringifyJson(data); // bigint inside
  }
}

function entry(id: bigint, w: WorkerStats): string {
  let e = entries.get(w);
  if (e === undefined) {
    const key = id.toString();
    e = `"${key}":{"name":"worker-${key}","subject":${JSON.stringify(w.subject)},"data":${dataJson(w.data)}}`;
    entries.set(w, e);
  }
  return e;
}

function number(x: number): string {
  return Number.isFinite(x) ? String(x) : 'null';
}

/** The aggregate's text. */
export function aggregateText(workers: ReadonlyMap<bigint, WorkerStats>, stats: Pick<LoadStatistics, 'avg' | 'std'> | undefined): string {
  const parts: string[] = [];
  for (const [id, w] of workers) parts.push(entry(id, w));
  return `{"endpoints":{${parts.join(',')}},"load_avg":${number(stats?.avg ?? 0)},"load_std":${number(stats?.std ?? 0)}}`;
}

/** The aggregate's bytes (UTF-8). */
export function encodeAggregate(workers: ReadonlyMap<bigint, WorkerStats>, stats: Pick<LoadStatistics, 'avg' | 'std'> | undefined): Uint8Array {
  return encoder.encode(aggregateText(workers, stats));
}
