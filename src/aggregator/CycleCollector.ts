/**
 * What one scrape cycle believes, built reply by reply (pure): an endpoint counts only for a
 * worker etcd lists at that subject (its lease is alive); two different answers for one worker in
 * a cycle are a conflict and neither is believed, whichever came first (the same answer twice is
 * a counted duplicate, believed once); and once a worker has answered
 * alone, it is pinned to the micro-service instance that answered (`owners`, kept across
 * cycles), so a later answer from any other instance is a conflict whatever its timing. Every
 * refusal is counted by reason.
 */
import type { ParsedReply, StatsRejectReason, WorkerStats } from './statsReply.ts';

export class CycleCollector {
  readonly workers = new Map<bigint, WorkerStats>();
  readonly rejected = new Map<StatsRejectReason, number>();
  private readonly conflicted = new Set<bigint>();
  /** Registered workers that answered (for ending the cycle once all did). */
  answered = 0;
  /** Workers taken this cycle that are not yet pinned to an instance (new, or no instance id), for `commitOwners`. */
  private readonly toPin: bigint[] = [];

  /**
   * @param registered worker id → registered subject
   * @param owners worker id → the service instance that owns it, kept by the caller across cycles
   * @param verified whether `registered` is etcd's current list; while etcd cannot be consulted it
   *   is the last one, and an answer it does not vouch for is `unverified` rather than `unregistered`
   */
  constructor(
    private readonly registered: ReadonlyMap<bigint, string | undefined>,
    private readonly owners: Map<bigint, string> = new Map(),
    private readonly verified = true,
  ) {}

  /** Takes one parsed reply; returns the reasons refused in it (for logging). */
  add(parsed: ParsedReply): StatsRejectReason[] {
    const refused = parsed.rejected.length > 0 ? [...parsed.rejected] : [];
    for (const w of parsed.workers) {
      const subject = this.registered.get(w.workerId);
      if (subject !== w.subject) {
        refused.push(this.verified ? 'unregistered' : 'unverified');
        continue;
      }
      w.subject = subject; // the view keeps this one, not the reply's: a part of the reply's text keeps all of it
      const owner = this.owners.get(w.workerId);
      if (owner !== undefined && w.serviceId !== undefined) {
        if (w.serviceId !== owner) {
          refused.push('conflict'); // an instance other than the one that owns this worker
          continue;
        }
        w.serviceId = owner;
      }
      if (this.conflicted.size > 0 && this.conflicted.has(w.workerId)) {
        refused.push('conflict');
        continue;
      }
      const first = this.workers.get(w.workerId);
      if (first !== undefined) {
        if (sameAnswer(first, w)) {
          refused.push('duplicate'); // the same numbers twice (a replay): believed once, nothing forged
          continue;
        }
        this.workers.delete(w.workerId);
        this.conflicted.add(w.workerId);
        this.answered--;
        refused.push('conflict', 'conflict');
        continue;
      }
      this.workers.set(w.workerId, w);
      if (owner === undefined) this.toPin.push(w.workerId);
      this.answered++;
    }
    for (const r of refused) this.rejected.set(r, (this.rejected.get(r) ?? 0) + 1);
    return refused;
  }

  /** How many workers taken this cycle are not yet pinned (in steady state none; for tests and the status of pinning). */
  get unpinned(): number {
    return this.toPin.length;
  }

  /** Pins each worker that answered alone this cycle to the instance that answered. */
  commitOwners(): void {
    for (const id of this.toPin) {
      const w = this.workers.get(id); // gone if another answer for it came later (a conflict)
      if (w?.serviceId !== undefined && !this.owners.has(id)) this.owners.set(id, w.serviceId);
    }
  }

  /** Worker ids two replies claimed this cycle. */
  get conflicts(): ReadonlySet<bigint> {
    return this.conflicted;
  }
}

/** Two answers for one worker that say the same: the same instance and the same data. */
function sameAnswer(a: WorkerStats, b: WorkerStats): boolean {
  if (a.serviceId !== b.serviceId) return false;
  if (a.dataJson !== undefined && b.dataJson !== undefined) return a.dataJson === b.dataJson;
  return JSON.stringify(a.metrics) === JSON.stringify(b.metrics);
}
