/**
 * A fixed pool of KV blocks with a prefix cache. A prompt's full blocks are named by their chained
 * hashes (`blocks.ts`): a block some running request already holds, or one an earlier request left
 * behind, is shared instead of computed again (a hit). Blocks no request holds stay cached until
 * the space is needed; then the least recently used go first. Everything else a request needs
 * (its prompt's partial block and the blocks its output will fill) is private to it and reserved
 * when it is admitted, so a request once running never waits for memory.
 */

interface CachedBlock {
  /** Running requests holding the block. */
  refs: number;
}

/** What one admitted request holds. */
export interface Allocation {
  /** The prompt's full blocks, shared through the cache. */
  readonly hashes: readonly string[];
  /** How many of them were cached already when it was admitted (its hit). */
  readonly overlap: number;
  /** Private blocks filled so far. */
  filled: number;
  /** Private blocks reserved and not yet filled. */
  reserved: number;
}

export class BlockPool {
  private readonly cached = new Map<string, CachedBlock>();
  /** Cached blocks no request holds, least recently used first (a Set keeps insertion order). */
  private readonly idle = new Set<string>();
  private privateFilled = 0;
  private privateReserved = 0;

  constructor(readonly totalBlocks: number) {}

  /** Blocks held by running requests: shared prompt blocks once each, and private blocks filled. */
  get activeBlocks(): number {
    return this.cached.size - this.idle.size + this.privateFilled;
  }

  /** Cached blocks no request holds (reusable, evictable). */
  get idleCachedBlocks(): number {
    return this.idle.size;
  }

  private get free(): number {
    return this.totalBlocks - this.cached.size - this.privateFilled - this.privateReserved;
  }

  /** How many leading blocks of `hashes` are cached now. */
  overlap(hashes: readonly string[]): number {
    let n = 0;
    while (n < hashes.length && this.cached.has(hashes[n] as string)) n++;
    return n;
  }

  /**
   * Admits a request whose prompt has full blocks `hashes` and which needs `privateBlocks` more:
   * shares the cached leading blocks, evicts idle blocks as needed for the rest. `undefined` when
   * the pool cannot hold it now (then nothing changed).
   */
  allocate(hashes: readonly string[], privateBlocks: number): Allocation | undefined {
    const overlap = this.overlap(hashes);
    // blocks of the prompt past the first miss may still be cached (another prompt's tail cannot
    // share a chained hash, but an evicted middle block can leave its successors): count them
    let newShared = 0;
    let heldIdle = 0;
    for (let i = overlap; i < hashes.length; i++) {
      const h = hashes[i] as string;
      if (!this.cached.has(h)) newShared++;
      else if (this.idle.has(h)) heldIdle++;
    }
    for (let i = 0; i < overlap; i++) if (this.idle.has(hashes[i] as string)) heldIdle++;
    const need = newShared + privateBlocks;
    if (need > this.free + this.idle.size - heldIdle) return undefined;
    for (const h of hashes) {
      const c = this.cached.get(h);
      if (c !== undefined) {
        c.refs++;
        this.idle.delete(h);
      }
    }
    this.evict(need - this.free);
    for (const h of hashes) if (!this.cached.has(h)) this.cached.set(h, { refs: 1 });
    this.privateReserved += privateBlocks;
    return { hashes, overlap, filled: 0, reserved: privateBlocks };
  }

  /** Fills one of the request's reserved private blocks (its output grew into a new block). */
  fill(a: Allocation): void {
    if (a.reserved === 0) return;
    a.reserved--;
    a.filled++;
    this.privateReserved--;
    this.privateFilled++;
  }

  /** Gives back everything the request holds; its shared blocks stay cached. */
  release(a: Allocation): void {
    this.privateFilled -= a.filled;
    this.privateReserved -= a.reserved;
    a.filled = 0;
    a.reserved = 0;
    for (const h of a.hashes) {
      const c = this.cached.get(h);
      if (c === undefined || c.refs === 0) continue;
      if (--c.refs === 0) this.idle.add(h); // the most recently used, last in line for eviction
    }
  }

  /** Drops the `n` least recently used idle blocks. */
  private evict(n: number): void {
    for (const h of this.idle) {
      if (n <= 0) return;
      this.idle.delete(h);
      this.cached.delete(h);
      n--;
    }
  }
}
