/**
 * The latest load each worker published as events, per data-parallel rank, and how it is merged
 * with the stats the cycle collected (docs/wire-protocol.md §8). The rule, per worker and rank:
 *
 * - the newest reading wins, field by field: an event received after the cycle's stats request
 *   went out overrides the fields it carries (an ActiveLoad carries a few); older ones do not;
 * - a registered worker that only publishes events appears, once an event has told its active
 *   KV blocks;
 * - a worker whose events stop leaves once its latest event is older than the same number of
 *   cycles a silent stats worker is kept for (`freshForMs`).
 *
 * Bounded: at most `maxWorkers` workers are held (the registered ones, as events are checked
 * against etcd before they get here). Pure: the caller gives the clock.
 */
import type { ForwardPassMetrics } from '../runtime/forwardPassMetrics.ts';
import type { LoadReading } from '../runtime/loadEvent.ts';
import type { WorkerStats } from './statsReply.ts';

/** One rank's merged reading: every field the events told, when each was told, and when the last event came. */
interface RankReading {
  metrics: Partial<ForwardPassMetrics>;
  fieldAt: Partial<Record<keyof ForwardPassMetrics, number>>;
  at: number;
  /** Whether an event named this rank. */
  ranked: boolean;
  data: unknown;
}

/** Rank key of a reading that names none. */
const NO_RANK = 0;

export class LoadBook {
  private readonly workers = new Map<bigint, Map<number, RankReading>>();

  constructor(readonly maxWorkers: number) {}

  /** Whether `workerId` has published a load event still kept. */
  has(workerId: bigint): boolean {
    return this.workers.has(workerId);
  }

  get size(): number {
    return this.workers.size;
  }

  /** Records `r` received at `now`; false when a new worker would exceed the bound. */
  record(r: LoadReading, now: number): boolean {
    let ranks = this.workers.get(r.workerId);
    if (ranks === undefined) {
      if (this.workers.size >= this.maxWorkers) return false;
      ranks = new Map();
      this.workers.set(r.workerId, ranks);
    }
    const key = r.dpRank ?? NO_RANK;
    const prev = ranks.get(key);
    const told = definedOnly(r.metrics);
    const fieldAt = { ...prev?.fieldAt };
    for (const k of Object.keys(told) as (keyof ForwardPassMetrics)[]) fieldAt[k] = now;
    ranks.set(key, {
      metrics: { ...prev?.metrics, ...told },
      fieldAt,
      at: now,
      ranked: (prev?.ranked ?? false) || r.dpRank !== undefined,
      data: r.data ?? prev?.data,
    });
    return true;
  }

  forget(workerId: bigint): void {
    this.workers.delete(workerId);
  }

  /** Forgets readings last heard before `oldest`. */
  prune(oldest: number): void {
    for (const [id, ranks] of this.workers) {
      for (const [rank, r] of ranks) if (r.at < oldest) ranks.delete(rank);
      if (ranks.size === 0) this.workers.delete(id);
    }
  }

  /**
   * Merges the events into the cycle's workers (modified in place): `statsAt(id)` is when the
   * stats a worker's entry holds were asked for, `oldest` the age limit of an events-only worker, and
   * `registered` the workers etcd lists (worker id → NATS subject, undefined for another
   * transport). Returns the ids added from events alone.
   */
  mergeInto(
    workers: Map<bigint, WorkerStats>,
    registered: ReadonlyMap<bigint, string | undefined>,
    statsAt: (id: bigint) => number,
    oldest: number,
  ): bigint[] {
    const added: bigint[] = [];
    for (const [id, ranks] of this.workers) {
      const w = workers.get(id);
      if (w !== undefined) {
        const merged = mergeRanks(w, ranks, statsAt(id));
        if (merged !== undefined) workers.set(id, merged);
        continue;
      }
      if (!registered.has(id)) continue;
      const fresh = [...ranks].filter(([, r]) => r.at >= oldest && r.metrics.kvActiveBlocks !== undefined).sort((a, b) => a[0] - b[0]);
      const first = fresh[0]?.[1];
      if (first === undefined) continue;
      const byRank = new Map<number, ForwardPassMetrics>();
      let ranked = false;
      for (const [rank, r] of fresh) {
        byRank.set(rank, r.metrics as ForwardPassMetrics);
        ranked ||= r.ranked;
      }
      workers.set(id, {
        workerId: id,
        subject: registered.get(id) ?? '',
        data: first.data ?? eventData(first.metrics),
        metrics: first.metrics as ForwardPassMetrics, // the lowest rank's
        ...(ranked || byRank.size > 1 ? { ranks: byRank } : {}),
        fromEvents: true,
      });
      added.push(id);
    }
    return added;
  }
}

function definedOnly(m: Partial<ForwardPassMetrics>): Partial<ForwardPassMetrics> {
  const out: Partial<ForwardPassMetrics> = {};
  for (const [k, v] of Object.entries(m)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}

/** The fields of `r` told after `t`. */
function toldAfter(r: RankReading, t: number): Partial<ForwardPassMetrics> {
  const out: Partial<ForwardPassMetrics> = {};
  for (const [k, at] of Object.entries(r.fieldAt))
    if (at > t) (out as Record<string, unknown>)[k] = r.metrics[k as keyof ForwardPassMetrics];
  return out;
}

/** A worker seen by stats, with its events newer than the stats laid over; undefined when nothing changes. */
function mergeRanks(w: WorkerStats, ranks: ReadonlyMap<number, RankReading>, statsAt: number): WorkerStats | undefined {
  const statsRank = typeof w.metrics.dataParallelRank === 'number' ? w.metrics.dataParallelRank : NO_RANK;
  const byRank = new Map<number, ForwardPassMetrics>(w.ranks ?? [[statsRank, w.metrics]]);
  let changed = false;
  let ranked = w.ranks !== undefined || typeof w.metrics.dataParallelRank === 'number';
  for (const [rank, r] of ranks) {
    const base = byRank.get(rank);
    if (base === undefined) {
      if (r.metrics.kvActiveBlocks === undefined) continue;
      byRank.set(rank, r.metrics as ForwardPassMetrics);
    } else if (r.at > statsAt) {
      byRank.set(rank, { ...base, ...toldAfter(r, statsAt) });
    } else continue;
    changed = true;
    ranked ||= r.ranked;
  }
  if (!changed) return undefined;
  const sorted = new Map([...byRank].sort((a, b) => a[0] - b[0]));
  // biome-ignore lint/style/noNonNullAssertion: sorted has a rank: this runs only after one was changed (changed is true)
  return { ...w, metrics: sorted.get(statsRank) ?? sorted.values().next().value!, ...(ranked || sorted.size > 1 ? { ranks: sorted } : {}) };
}

/** The `data` an events-only worker is republished with in the aggregate: ForwardPassMetrics' flat names. */
function eventData(m: Partial<ForwardPassMetrics>): Record<string, unknown> {
  const out: Record<string, unknown> = { kv_active_blocks: m.kvActiveBlocks };
  if (m.numRequestsWaiting !== undefined) out.num_requests_waiting = m.numRequestsWaiting;
  if (m.dataParallelRank !== undefined) out.data_parallel_rank = m.dataParallelRank;
  return out;
}
