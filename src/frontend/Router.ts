/**
 * How the frontend picks the worker of a request (`--router-mode`, Dynamo's flag):
 *
 * - `round-robin`: the model's instances in turn.
 * - `random`: any instance.
 * - `kv`: KV-aware, in Dynamo's approximate mode (no KV events): the router remembers which
 *   prompt blocks it sent to each instance (their chained hashes, `kvBlocks.ts`) and sends a
 *   request to the instance that should hold the longest run of its leading blocks; ties, and
 *   requests no instance holds, go to the instance with the fewest requests in flight from this
 *   frontend (then in turn). The memory of each instance is bounded (least recently routed
 *   blocks forgotten first), as the engines' caches are.
 * - `least-loaded`: the instance with the least load its worker published (`ActiveLoad` events on
 *   the endpoint's `kv_metrics` subject, docs/wire-protocol.md §8): fewest waiting requests, then
 *   fewest blocks in use by running requests (decode blocks plus the prompt tokens in prefill, in
 *   blocks) plus the prompt blocks this frontend sent it since that reading (so that a burst
 *   between two readings is spread), then fewest in flight from this frontend, then in turn. A
 *   worker's load is the sum over its data-parallel ranks' latest readings. A reading older than
 *   `DEFAULT_LOAD_STALE_MS`, or none, counts as an idle worker.
 *
 * Pure: the frontend tells it when a request starts and ends.
 */
import { blockHashes, blocksFor } from '../runtime/kvBlocks.ts';

export const ROUTER_MODES = ['round-robin', 'random', 'kv', 'least-loaded'] as const;
export type RouterMode = (typeof ROUTER_MODES)[number];
/** Blocks remembered per instance in `kv` mode. */
export const DEFAULT_ROUTER_BLOCKS_PER_INSTANCE = 1_000_000;
/** A published load older than this is not believed (the worker may have stopped publishing). */
export const DEFAULT_LOAD_STALE_MS = 10_000;

/** What a worker published of its load (an ActiveLoad event). */
export interface PublishedLoad {
  readonly waiting: number;
  readonly decodeBlocks: number;
  readonly prefillTokens: number;
}

interface InstanceState {
  inflight: number;
  /** Block hashes routed here, least recently used first. */
  readonly blocks: Set<string>;
  /** The worker's latest published load (summed over its data-parallel ranks) and when it was received. */
  load: PublishedLoad | undefined;
  /** The latest reading of each rank. */
  readonly ranks: Map<number, PublishedLoad>;
  loadAt: number;
  /** Prompt blocks routed here since that reading. */
  pendingBlocks: number;
}

export interface RouteDecision {
  readonly instance: bigint;
  /** Leading blocks the chosen instance was predicted to hold. */
  readonly overlapBlocks: number;
  readonly hashes: readonly string[];
}

export class Router {
  private readonly instances = new Map<bigint, InstanceState>();
  private turn = 0;

  constructor(
    readonly mode: RouterMode,
    private readonly random: () => number = Math.random,
    private readonly maxBlocksPerInstance = DEFAULT_ROUTER_BLOCKS_PER_INSTANCE,
    private readonly now: () => number = performance.now.bind(performance),
    private readonly staleMs = DEFAULT_LOAD_STALE_MS,
  ) {}

  private state(id: bigint): InstanceState {
    let s = this.instances.get(id);
    if (s === undefined) {
      s = { inflight: 0, blocks: new Set(), load: undefined, loadAt: 0, pendingBlocks: 0, ranks: new Map() };
      this.instances.set(id, s);
    }
    return s;
  }

  /** Picks an instance of `candidates` (non-empty) for a prompt; call `done` when the request ends. */
  route(candidates: readonly bigint[], tokenIds: readonly number[], blockSize: number): RouteDecision {
    const n = candidates.length;
    if (this.mode === 'round-robin') return this.start(candidates[this.turn++ % n] as bigint, 0, []);
    if (this.mode === 'random') return this.start(candidates[Math.floor(this.random() * n)] as bigint, 0, []);
    if (this.mode === 'least-loaded')
      return this.leastLoaded(candidates, blockSize > 0 ? blocksFor(tokenIds.length, blockSize) : 0, blockSize);
    const hashes = blockSize > 0 ? blockHashes(tokenIds, blockSize) : [];
    let best: bigint | undefined;
    let bestOverlap = -1;
    let bestLoad = Number.POSITIVE_INFINITY;
    // start from a rotating index so that equal instances take turns
    const offset = this.turn++ % n;
    for (let k = 0; k < n; k++) {
      const id = candidates[(offset + k) % n] as bigint;
      const s = this.state(id);
      let overlap = 0;
      while (overlap < hashes.length && s.blocks.has(hashes[overlap] as string)) overlap++;
      if (overlap > bestOverlap || (overlap === bestOverlap && s.inflight < bestLoad)) {
        best = id;
        bestOverlap = overlap;
        bestLoad = s.inflight;
      }
    }
    const chosen = best as bigint;
    this.remember(this.state(chosen), hashes);
    return this.start(chosen, bestOverlap, hashes);
  }

  /**
   * A worker published the load of one of its data-parallel ranks (0 when it names none); its load
   * is the sum over its ranks' latest readings. The caller passes registered instances only (state
   * is kept per instance).
   */
  observeLoad(instance: bigint, load: PublishedLoad, rank = 0): void {
    const s = this.state(instance);
    s.ranks.set(rank, load);
    if (s.ranks.size === 1) s.load = load;
    else {
      let waiting = 0;
      let decodeBlocks = 0;
      let prefillTokens = 0;
      for (const r of s.ranks.values()) {
        waiting += r.waiting;
        decodeBlocks += r.decodeBlocks;
        prefillTokens += r.prefillTokens;
      }
      s.load = { waiting, decodeBlocks, prefillTokens };
    }
    s.loadAt = this.now();
    s.pendingBlocks = 0;
  }

  private leastLoaded(candidates: readonly bigint[], promptBlocks: number, blockSize: number): RouteDecision {
    const n = candidates.length;
    const offset = this.turn++ % n;
    const now = this.now();
    let best: InstanceState | undefined;
    let bestId = 0n;
    let bestWaiting = Number.POSITIVE_INFINITY;
    let bestBlocks = Number.POSITIVE_INFINITY;
    for (let k = 0; k < n; k++) {
      const id = candidates[(offset + k) % n] as bigint;
      const s = this.state(id);
      const load = s.load !== undefined && now - s.loadAt <= this.staleMs ? s.load : undefined;
      const waiting = load?.waiting ?? 0;
      const blocks =
        (load === undefined ? 0 : load.decodeBlocks + (blockSize > 0 ? blocksFor(load.prefillTokens, blockSize) : 0)) + s.pendingBlocks;
      if (
        best === undefined ||
        waiting < bestWaiting ||
        (waiting === bestWaiting && (blocks < bestBlocks || (blocks === bestBlocks && s.inflight < best.inflight)))
      ) {
        best = s;
        bestId = id;
        bestWaiting = waiting;
        bestBlocks = blocks;
      }
    }
    if (best !== undefined) best.pendingBlocks += promptBlocks; // candidates is never empty
    return this.start(bestId, 0, []);
  }

  /** The latest load `instance` published, and how long ago it was received (ms). */
  loadOf(instance: bigint): { load: PublishedLoad; ageMs: number } | undefined {
    const s = this.instances.get(instance);
    return s?.load === undefined ? undefined : { load: s.load, ageMs: this.now() - s.loadAt };
  }

  /** The request routed to `instance` ended. */
  done(instance: bigint): void {
    const s = this.instances.get(instance);
    if (s !== undefined && s.inflight > 0) s.inflight--;
  }

  private start(instance: bigint, overlapBlocks: number, hashes: readonly string[]): RouteDecision {
    this.state(instance).inflight++;
    return { instance, overlapBlocks, hashes };
  }

  private remember(s: InstanceState, hashes: readonly string[]): void {
    for (const h of hashes) {
      s.blocks.delete(h); // re-inserted: now the most recently used
      s.blocks.add(h);
    }
    for (const h of s.blocks) {
      if (s.blocks.size <= this.maxBlocksPerInstance) break;
      s.blocks.delete(h);
    }
  }

  /** Instances it keeps state for. */
  get size(): number {
    return this.instances.size;
  }

  /** Forgets the instances not in `live` that have nothing in flight (they left: bounded memory). */
  retain(live: ReadonlySet<bigint>): void {
    for (const [id, s] of this.instances) if (!live.has(id) && s.inflight === 0) this.instances.delete(id);
  }
}
