/**
 * The status page's worker table (docs/status-page.md): one row per worker of the view, sorted by
 * any column and served a page at a time, so that a browser never receives 10,000 rows and a
 * request costs at most one sort of the view (kept until the view or the hit-rate totals change,
 * shared by every request meanwhile). Pure.
 */
import { DynamoError } from '../errors.ts';
import type { WorkerHitRate } from './HitRateTracker.ts';
import type { WorkerStats } from './statsReply.ts';

/** Rows per page unless the request asks otherwise. */
export const DEFAULT_STATUS_ROWS = 100;
/** Most rows one request may ask for. */
export const MAX_STATUS_ROWS = 1_000;
/** Largest offset accepted (far above any view). */
export const MAX_STATUS_OFFSET = 1_000_000_000;
/** A worker id filter is a decimal prefix: a 64-bit id has at most 20 digits. */
export const MAX_WORKER_FILTER_CHARS = 20;

/** Columns, named after the metrics they show (docs/metrics.md). */
export const WORKER_COLUMNS = [
  'worker_id',
  'active_slots',
  'total_slots',
  'kv_active_blocks',
  'kv_total_blocks',
  'requests_waiting',
  'gpu_cache_usage_percent',
  'hit_rate_percent',
  'isl_blocks',
  'overlap_blocks',
  'missed_cycles',
] as const;
export type WorkerColumn = (typeof WORKER_COLUMNS)[number];

export type SortOrder = 'asc' | 'desc';

/** One worker as `/api/status` shows it: null where the worker's form does not carry the value. */
export interface WorkerRow {
  /** Decimal, as the `worker_id` label. */
  worker_id: string;
  active_slots: number | null;
  total_slots: number | null;
  kv_active_blocks: number;
  kv_total_blocks: number | null;
  requests_waiting: number | null;
  /** 100 × gpu_cache_usage_perc, as `llm_gpu_cache_usage_percent`. */
  gpu_cache_usage_percent: number | null;
  /** 100 × Σoverlap / Σisl, as `llm_kv_hit_rate_percent`. */
  hit_rate_percent: number | null;
  isl_blocks: number | null;
  overlap_blocks: number | null;
  /** Cycles in a row this worker has not answered (its last stats shown meanwhile). */
  missed_cycles: number;
}

/** A bad query string: answered 400 with this one-line message. */
export class StatusQueryError extends DynamoError {}

export interface StatusQuery {
  offset: number;
  limit: number;
  sort: WorkerColumn;
  order: SortOrder;
  /** Only workers whose decimal id starts with this. */
  worker: string | undefined;
}

function wholeParam(params: URLSearchParams, name: string, fallback: number, max: number, min = 0): number {
  const raw = params.get(name);
  if (raw === null || raw === '') return fallback;
  if (!/^\d{1,10}$/.test(raw) || Number(raw) < min || Number(raw) > max)
    throw new StatusQueryError(`${name}: use a whole number ${min}..${max}`);
  return Number(raw);
}

/** Reads `offset`, `limit`, `sort`, `order`, `worker`; anything else is ignored. */
export function parseStatusQuery(params: URLSearchParams): StatusQuery {
  const sortRaw = params.get('sort') ?? 'worker_id';
  if (!(WORKER_COLUMNS as readonly string[]).includes(sortRaw)) throw new StatusQueryError(`sort: use one of ${WORKER_COLUMNS.join(', ')}`);
  const order = params.get('order') ?? 'asc';
  if (order !== 'asc' && order !== 'desc') throw new StatusQueryError('order: use asc or desc');
  const worker = params.get('worker') ?? '';
  if (worker.length > MAX_WORKER_FILTER_CHARS || !/^\d*$/.test(worker))
    throw new StatusQueryError(`worker: use up to ${MAX_WORKER_FILTER_CHARS} decimal digits (the start of a worker id)`);
  return {
    offset: wholeParam(params, 'offset', 0, MAX_STATUS_OFFSET),
    limit: wholeParam(params, 'limit', DEFAULT_STATUS_ROWS, MAX_STATUS_ROWS, 1),
    sort: sortRaw as WorkerColumn,
    order,
    worker: worker === '' ? undefined : worker,
  };
}

/** The row of one worker. */
export function workerRow(id: bigint, w: WorkerStats, hit: WorkerHitRate | undefined, missedCycles: number): WorkerRow {
  const m = w.metrics;
  return {
    worker_id: id.toString(),
    active_slots: m.requestActiveSlots ?? null,
    total_slots: m.requestTotalSlots ?? null,
    kv_active_blocks: m.kvActiveBlocks,
    kv_total_blocks: m.kvTotalBlocks ?? null,
    requests_waiting: m.numRequestsWaiting ?? null,
    gpu_cache_usage_percent: m.gpuCacheUsagePerc === undefined ? null : 100 * m.gpuCacheUsagePerc,
    hit_rate_percent: hit !== undefined && hit.islBlocks > 0 ? (100 * hit.overlapBlocks) / hit.islBlocks : null,
    isl_blocks: hit?.islBlocks ?? null,
    overlap_blocks: hit?.overlapBlocks ?? null,
    missed_cycles: missedCycles,
  };
}

/** Decimal ids in numeric order: shorter first, then by digits. */
export function compareIds(a: string, b: string): number {
  return a.length !== b.length ? a.length - b.length : a < b ? -1 : a > b ? 1 : 0;
}

/**
 * `rows` ordered by a numeric key, ties in their present order: indices sorted over a typed array
 * of keys (about twice as fast as comparing the row objects at 10,000 rows).
 */
function orderBy(
  rows: readonly WorkerRow[],
  key: (r: WorkerRow) => number,
  sign: 1 | -1,
  tie?: (a: WorkerRow, b: WorkerRow) => number,
): WorkerRow[] {
  const n = rows.length;
  const keys = new Float64Array(n);
  const idx = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    // biome-ignore lint/style/noNonNullAssertion: i < n = rows.length
    keys[i] = key(rows[i]!);
    idx[i] = i;
  }
  // biome-ignore lint/style/noNonNullAssertion: the sort compares indices of idx, each < n = rows.length = keys.length
  idx.sort((i, j) => sign * (keys[i]! - keys[j]!) || (tie === undefined ? i - j : tie(rows[i]!, rows[j]!)));
  const out = new Array<WorkerRow>(n);
  // biome-ignore lint/style/noNonNullAssertion: i < n = idx.length, and idx holds indices of rows
  for (let i = 0; i < n; i++) out[i] = rows[idx[i]!]!;
  return out;
}

/** Rows in worker id order (63-bit ids: the float key orders all but near-equal ids, the digits settle those). */
export function byWorkerId(rows: readonly WorkerRow[]): WorkerRow[] {
  return orderBy(
    rows,
    (r) => Number(r.worker_id),
    1,
    (a, b) => compareIds(a.worker_id, b.worker_id),
  );
}

/**
 * `rows` (in worker id order) by one column, nulls after every number in either order; ties
 * keep worker id order.
 */
export function sortRows(rows: readonly WorkerRow[], column: WorkerColumn, order: SortOrder): WorkerRow[] {
  if (column === 'worker_id') return order === 'asc' ? [...rows] : [...rows].reverse();
  const numbered = rows.filter((r) => r[column] !== null);
  const nulls = numbered.length === rows.length ? [] : rows.filter((r) => r[column] === null);
  return orderBy(numbered, (r) => r[column] as number, order === 'asc' ? 1 : -1).concat(nulls);
}

export interface WorkerPage {
  /** Workers in the view. */
  total: number;
  /** Workers that pass the filter. */
  matched: number;
  rows: WorkerRow[];
}

/**
 * Pages of the current rows. `page(version, build, query)`: `build` runs once per `version`
 * (the view and the hit-rate totals); each column and order is sorted at most once per version.
 */
export class WorkerTable {
  private version: unknown;
  private rows: WorkerRow[] = [];
  private readonly sorted = new Map<string, WorkerRow[]>();

  page(version: unknown, build: () => WorkerRow[], q: StatusQuery): WorkerPage {
    if (version !== this.version || this.version === undefined) {
      this.version = version;
      this.rows = byWorkerId(build());
      this.sorted.clear();
    }
    const key = `${q.sort} ${q.order}`;
    let ordered = this.sorted.get(key);
    if (ordered === undefined) {
      ordered = sortRows(this.rows, q.sort, q.order);
      this.sorted.set(key, ordered);
    }
    const filter = q.worker;
    const matching = filter === undefined ? ordered : ordered.filter((r) => r.worker_id.startsWith(filter));
    return { total: this.rows.length, matched: matching.length, rows: matching.slice(q.offset, q.offset + q.limit) };
  }
}
