/**
 * Which connections an HTTP server keeps when clients hold more than it allows: a per-source
 * cap, and, at the global cap, room made for a newcomer by closing the longest-idle connection
 * (headers not yet complete, or between requests) of the source that holds the most. A flood of
 * half-sent requests from one place thus never keeps a scraper from another out for the length
 * of a header timeout. Pure: the server applies the decisions.
 */

export type Admission = { admit: true; evict?: string } | { admit: false; reason: 'max_connections' | 'max_connections_per_source' };

interface Source {
  count: number;
  /** Its connections serving nothing, longest idle first (a Set keeps insertion order). */
  idle: Set<string>;
}

interface Entry {
  source: string;
  /** Requests being answered on it. */
  busy: number;
}

export class ConnectionBudget {
  private readonly entries = new Map<string, Entry>();
  private readonly sources = new Map<string, Source>();

  constructor(
    private readonly maxConnections: number,
    private readonly maxPerSource: number,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /**
   * Decides on a new connection `id` from `source` and records it when admitted. `evict` names a
   * connection to close first (already forgotten here).
   */
  admit(id: string, source: string): Admission {
    this.remove(id); // an id seen again is a new connection
    const mine = this.sources.get(source)?.count ?? 0;
    if (mine >= this.maxPerSource) return { admit: false, reason: 'max_connections_per_source' };
    let evict: string | undefined;
    if (this.entries.size >= this.maxConnections) {
      evict = this.victim(mine);
      if (evict === undefined) return { admit: false, reason: 'max_connections' };
      this.remove(evict);
    }
    let s = this.sources.get(source);
    if (s === undefined) {
      s = { count: 0, idle: new Set() };
      this.sources.set(source, s);
    }
    s.count++;
    s.idle.add(id);
    this.entries.set(id, { source, busy: 0 });
    return evict === undefined ? { admit: true } : { admit: true, evict };
  }

  /**
   * The longest-idle connection of the source holding the most, when that source would still
   * hold at least as many as the newcomer's after giving one up.
   */
  private victim(mine: number): string | undefined {
    let heaviest: Source | undefined;
    for (const s of this.sources.values()) {
      if (s.count > mine + 1 && s.idle.size > 0 && (heaviest === undefined || s.count > heaviest.count)) heaviest = s;
    }
    if (heaviest === undefined) return undefined;
    const first = heaviest.idle.values().next();
    return first.done === true ? undefined : first.value;
  }

  /** A request began (`+1`) or was answered (`-1`) on `id`. */
  busy(id: string, delta: 1 | -1): void {
    const e = this.entries.get(id);
    if (e === undefined) return;
    e.busy = Math.max(0, e.busy + delta);
    const idle = this.sources.get(e.source)?.idle;
    if (e.busy > 0) idle?.delete(id);
    else idle?.add(id);
  }

  remove(id: string): void {
    const e = this.entries.get(id);
    if (e === undefined) return;
    this.entries.delete(id);
    const s = this.sources.get(e.source);
    if (s === undefined) return;
    s.idle.delete(id);
    if (--s.count <= 0) this.sources.delete(e.source);
  }
}
