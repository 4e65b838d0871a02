/**
 * A simulated worker's load, published as Dynamo's 2026 workers publish it: an `ActiveLoad` event
 * (`lib/kv-router/src/protocols.rs`) on its endpoint's `kv_metrics` subject whenever the engine's
 * load changes, at most once per `DEFAULT_LOAD_PUBLISH_MS` (the last change of a burst is always
 * published, after the rest of the interval), and at least every `DEFAULT_LOAD_HEARTBEAT_MS` (so
 * that a router that starts listening learns a steady load, and decode blocks grow). Routers read it to send work to the least loaded
 * worker; the aggregator merges it with the stats it asks for (docs/wire-protocol.md §8).
 */
import type { EngineState } from './engine/SimulatedEngine.ts';

/** The shortest time between two load events of one worker. */
export const DEFAULT_LOAD_PUBLISH_MS = 100;
/** The longest time between two load events of one worker, changed or not. */
export const DEFAULT_LOAD_HEARTBEAT_MS = 1_000;

/** The `ActiveLoad` body of an engine's state (no `dp_rank`: the engine has one rank). */
export function activeLoad(workerId: bigint, s: EngineState): Record<string, unknown> {
  return {
    worker_id: workerId,
    active_decode_blocks: s.activeBlocks,
    active_prefill_tokens: s.prefillTokens,
    kv_used_blocks: s.activeBlocks,
    num_waiting_reqs: s.waiting,
  };
}

/** Calls `publish` after changes, at most once per `intervalMs`, never dropping the last change. */
export class LoadPublisher {
  private last = Number.NEGATIVE_INFINITY;
  private timer: NodeJS.Timeout | undefined;
  private readonly heartbeat: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly publish: () => void,
    private readonly intervalMs = DEFAULT_LOAD_PUBLISH_MS,
    private readonly now: () => number = performance.now.bind(performance),
    heartbeatMs: number | undefined = DEFAULT_LOAD_HEARTBEAT_MS,
  ) {
    if (heartbeatMs !== undefined) {
      this.heartbeat = setInterval(() => this.changed(), heartbeatMs);
      this.heartbeat.unref();
    }
  }

  /** The load changed. */
  changed(): void {
    if (this.closed || this.timer !== undefined) return; // a publish is already due
    const wait = this.last + this.intervalMs - this.now();
    if (wait <= 0) this.fire();
    else this.timer = setTimeout(() => this.fire(), wait);
  }

  close(): void {
    this.closed = true;
    clearInterval(this.heartbeat);
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private fire(): void {
    this.timer = undefined;
    if (this.closed) return;
    this.last = this.now();
    this.publish();
  }
}
