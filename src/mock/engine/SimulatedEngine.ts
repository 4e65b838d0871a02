/**
 * A simulated LLM engine whose reported state follows from the traffic it serves. Requests wait
 * in one queue (first come, first served) for a slot and for the KV blocks of their whole
 * sequence; an admitted request prefills the prompt tokens the prefix cache does not hold at
 * `prefillTokensPerSecond`, then decodes one token at a time at `decodeTokensPerSecond` (each
 * step scaled by ±`jitter`). Its output fills private blocks as it grows. Tokens, jitter and
 * everything else random come from one generator seeded by `seed`: the same traffic in the same
 * order gives the same tokens and the same cache hits.
 *
 * The stream is Dynamo's engine output (`LLMEngineOutput`): each chunk carries `token_ids`
 * (one token) and `text`; the last has `finish_reason` and `completion_usage`.
 */
import { type Allocation, BlockPool } from './BlockPool.ts';
import { blockHashes, blocksFor } from '../../runtime/kvBlocks.ts';
import { jittered, type Random, seededRandom } from '../../random.ts';

export const DEFAULT_ENGINE_SLOTS = 16;
export const DEFAULT_ENGINE_KV_BLOCKS = 2048;
export const DEFAULT_ENGINE_BLOCK_SIZE = 16;
export const DEFAULT_PREFILL_TOKENS_PER_SECOND = 8000;
export const DEFAULT_DECODE_TOKENS_PER_SECOND = 50;
export const DEFAULT_ENGINE_JITTER = 0.1;
export const DEFAULT_ENGINE_SEED = 1;
export const DEFAULT_CONTEXT_LENGTH = 8192;
/** The words output tokens stand for (token id modulo its length). */
export const OUTPUT_VOCABULARY: readonly string[] = ['the', 'model', 'says', 'hello', 'to', 'a', 'simulated', 'world', 'of', 'tokens'];

export interface EngineConfig {
  /** Requests decoded at once (`max_num_seqs`). */
  slots: number;
  kvBlocks: number;
  blockSize: number;
  prefillTokensPerSecond: number;
  decodeTokensPerSecond: number;
  /** Relative spread of each step's duration, 0 to 1. */
  jitter: number;
  seed: number;
  /** Longest prompt plus output accepted. */
  contextLength: number;
}

export const DEFAULT_ENGINE_CONFIG: EngineConfig = {
  slots: DEFAULT_ENGINE_SLOTS,
  kvBlocks: DEFAULT_ENGINE_KV_BLOCKS,
  blockSize: DEFAULT_ENGINE_BLOCK_SIZE,
  prefillTokensPerSecond: DEFAULT_PREFILL_TOKENS_PER_SECOND,
  decodeTokensPerSecond: DEFAULT_DECODE_TOKENS_PER_SECOND,
  jitter: DEFAULT_ENGINE_JITTER,
  seed: DEFAULT_ENGINE_SEED,
  contextLength: DEFAULT_CONTEXT_LENGTH,
};

export interface EngineRequest {
  readonly tokenIds: readonly number[];
  readonly maxTokens: number;
  /** Ends the request early (the client went away): its slot and blocks are given back. */
  readonly signal?: AbortSignal | undefined;
}

/** `CompletionUsage` as Dynamo and OpenAI write it. */
export interface CompletionUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details: { cached_tokens: number };
}

/** One chunk of Dynamo's `LLMEngineOutput`. */
export interface EngineOutput {
  token_ids: number[];
  text: string;
  finish_reason: 'length' | null;
  index: 0;
  completion_usage?: CompletionUsage;
}

/** What a request found in the prefix cache when it was admitted (a KV hit-rate event). */
export interface AdmissionEvent {
  /** The prompt's full blocks. */
  islBlocks: number;
  /** How many of them were cached. */
  overlapBlocks: number;
}

/** The engine's state now, in ForwardPassMetrics terms. */
export interface EngineState {
  activeSlots: number;
  totalSlots: number;
  waiting: number;
  activeBlocks: number;
  totalBlocks: number;
  /** Prompt blocks found cached over all prompt blocks admitted so far (0 before any). */
  prefixHitRate: number;
  /** Prompt tokens being prefilled now (those the prefix cache did not hold). */
  prefillTokens: number;
  /** Requests admitted so far. */
  admitted: number;
}

/** A request the engine refuses (its sequence cannot fit the context or the pool). */
export class EngineRequestError extends Error {
  override name = 'EngineRequestError';
}

export interface EngineHooks {
  /** A request was admitted. */
  onAdmit?(event: AdmissionEvent): void;
  /** The load changed: a request queued, was admitted, finished its prefill or ended. */
  onLoadChange?(): void;
  /** Waits `ms` or until `signal` aborts. @default timers */
  sleep?(ms: number, signal: AbortSignal | undefined): Promise<void>;
}

interface Waiter {
  readonly hashes: string[];
  readonly privateBlocks: number;
  readonly admit: (a: Allocation) => void;
}

function sleepUnlessAborted(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) return resolve();
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export class SimulatedEngine {
  readonly config: EngineConfig;
  private readonly pool: BlockPool;
  private readonly random: Random;
  private readonly queue: Waiter[] = [];
  private active = 0;
  private prefillTokens = 0;
  private admitted = 0;
  private promptBlocks = 0;
  private hitBlocks = 0;
  private readonly sleep: (ms: number, signal: AbortSignal | undefined) => Promise<void>;

  constructor(
    config: Partial<EngineConfig> = {},
    private readonly hooks: EngineHooks = {},
  ) {
    this.config = { ...DEFAULT_ENGINE_CONFIG, ...config };
    this.pool = new BlockPool(this.config.kvBlocks);
    this.random = seededRandom(this.config.seed);
    this.sleep = hooks.sleep ?? sleepUnlessAborted;
  }

  state(): EngineState {
    return {
      activeSlots: this.active,
      totalSlots: this.config.slots,
      waiting: this.queue.length,
      activeBlocks: this.pool.activeBlocks,
      totalBlocks: this.config.kvBlocks,
      prefixHitRate: this.promptBlocks === 0 ? 0 : this.hitBlocks / this.promptBlocks,
      prefillTokens: this.prefillTokens,
      admitted: this.admitted,
    };
  }

  /**
   * The request's output stream. Throws `EngineRequestError` at once for a request that can never
   * run (longer than the context, or needing more blocks than the pool has).
   */
  generate(req: EngineRequest): AsyncGenerator<EngineOutput> {
    const { blockSize, contextLength, kvBlocks } = this.config;
    const isl = req.tokenIds.length;
    if (req.maxTokens < 1) throw new EngineRequestError('max_tokens must be at least 1');
    if (isl + req.maxTokens > contextLength)
      throw new EngineRequestError(`${isl} prompt tokens and ${req.maxTokens} output tokens exceed the context length ${contextLength}`);
    const hashes = blockHashes(req.tokenIds, blockSize);
    const privateBlocks = blocksFor(isl + req.maxTokens, blockSize) - hashes.length;
    if (hashes.length + privateBlocks > kvBlocks)
      throw new EngineRequestError(`the sequence needs ${hashes.length + privateBlocks} KV blocks; the pool has ${kvBlocks}`);
    return this.run(req, hashes, privateBlocks);
  }

  private async *run(req: EngineRequest, hashes: string[], privateBlocks: number): AsyncGenerator<EngineOutput> {
    const { blockSize } = this.config;
    const isl = req.tokenIds.length;
    let waiter: Waiter | undefined;
    const allocation = await new Promise<Allocation | undefined>((resolve) => {
      waiter = { hashes, privateBlocks, admit: resolve };
      this.queue.push(waiter);
      this.hooks.onLoadChange?.();
      this.schedule();
      req.signal?.addEventListener(
        'abort',
        () => {
          const i = waiter === undefined ? -1 : this.queue.indexOf(waiter);
          if (i >= 0) {
            this.queue.splice(i, 1);
            this.hooks.onLoadChange?.();
            resolve(undefined);
          }
        },
        { once: true },
      );
    });
    if (allocation === undefined) return; // cancelled while waiting
    try {
      const cachedTokens = allocation.overlap * blockSize;
      // the prompt's partial block is taken with the prompt, each block the output grows into as it is written
      let written = isl;
      const fillUpTo = (tokens: number): void => {
        while (allocation.reserved > 0 && hashes.length + allocation.filled < blocksFor(tokens, blockSize)) this.pool.fill(allocation);
      };
      fillUpTo(written);
      const prefill = isl - cachedTokens;
      this.prefillTokens += prefill;
      try {
        await this.sleep(this.stepMs(prefill, this.config.prefillTokensPerSecond), req.signal);
      } finally {
        this.prefillTokens -= prefill;
        this.hooks.onLoadChange?.();
      }
      const aborted = (): boolean => req.signal?.aborted === true;
      for (let n = 1; n <= req.maxTokens; n++) {
        if (aborted()) return;
        if (n > 1) {
          await this.sleep(this.stepMs(1, this.config.decodeTokensPerSecond), req.signal);
          if (aborted()) return;
        }
        written++;
        fillUpTo(written);
        const id = Math.floor(this.random() * 32_000);
        const out: EngineOutput = {
          token_ids: [id],
          text: ` ${OUTPUT_VOCABULARY[id % OUTPUT_VOCABULARY.length]}`,
          finish_reason: null,
          index: 0,
        };
        if (n === req.maxTokens) {
          out.finish_reason = 'length';
          out.completion_usage = {
            prompt_tokens: isl,
            completion_tokens: n,
            total_tokens: isl + n,
            prompt_tokens_details: { cached_tokens: cachedTokens },
          };
        }
        yield out;
      }
    } finally {
      this.pool.release(allocation);
      this.active--;
      this.schedule();
      this.hooks.onLoadChange?.();
    }
  }

  /** Admits waiting requests in order while a slot and their blocks are free. */
  private schedule(): void {
    while (this.queue.length > 0 && this.active < this.config.slots) {
      const next = this.queue[0] as Waiter;
      const allocation = this.pool.allocate(next.hashes, next.privateBlocks);
      if (allocation === undefined) return; // first come, first served: the rest wait behind it
      this.queue.shift();
      this.active++;
      this.admitted++;
      this.promptBlocks += next.hashes.length;
      this.hitBlocks += allocation.overlap;
      this.hooks.onAdmit?.({ islBlocks: next.hashes.length, overlapBlocks: allocation.overlap });
      this.hooks.onLoadChange?.();
      next.admit(allocation);
    }
  }

  private stepMs(tokens: number, perSecond: number): number {
    return Math.max(0, jittered(this.random, (tokens / perSecond) * 1000, this.config.jitter));
  }
}
