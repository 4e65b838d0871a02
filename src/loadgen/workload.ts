/**
 * The requests a load generator sends: prompt and output lengths drawn from normal distributions
 * (rounded, at least 1), and a share of prompts that begin with one of a few shared prefixes.
 * Words stand for tokens (the frontend's tokenizer stand-in counts one token per word): a
 * request's prompt has exactly its drawn length in tokens once the chat renders it as
 * `user: ...`. Deterministic for a seed. Pure.
 *
 * `reusedBlocks` is the prefix reuse the generator put into the traffic, counted as a prefix cache
 * that never evicts would count it: every occurrence of a prefix after its first reuses the
 * prefix's full blocks.
 */
import { seededRandom } from '../random.ts';

export interface WorkloadSpec {
  requests: number;
  inputTokens: number;
  inputTokensStddev: number;
  outputTokens: number;
  outputTokensStddev: number;
  /** Share of requests, 0 to 1, whose prompt begins with a shared prefix. */
  prefixShare: number;
  /** Tokens of each shared prefix (the `user:` token included). */
  prefixTokens: number;
  /** How many distinct shared prefixes. */
  prefixes: number;
  /** Tokens per KV block, to count the reuse in blocks. */
  blockSize: number;
  seed: number;
}

export interface WorkloadRequest {
  /** The user message (the prompt is `user: ` + this). */
  readonly content: string;
  readonly inputTokens: number;
  readonly maxTokens: number;
  /** Which shared prefix it begins with, if any. */
  readonly prefix: number | undefined;
  /** Its prompt's full blocks. */
  readonly blocks: number;
  /** Of those, the ones an earlier request of the workload already sent (its prefix's). */
  readonly reusedBlocks: number;
}

/** Box–Muller: a normal draw from two uniform ones. */
function normal(random: () => number, mean: number, stddev: number): number {
  if (stddev === 0) return mean;
  const u = 1 - random();
  const v = random();
  return mean + stddev * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** The whole workload at once (tests, small runs). */
export function buildWorkload(spec: WorkloadSpec): WorkloadRequest[] {
  return [...workload(spec)];
}

/** The workload one request at a time: a long run holds only the requests in flight. */
export function* workload(spec: WorkloadSpec): Generator<WorkloadRequest> {
  // the workload's own generator: a different sequence from an engine given the same seed
  const random = seededRandom(spec.seed ^ 0x5bd1e995);
  const prefixWords = Math.max(0, spec.prefixTokens - 1);
  const prefixText = Array.from({ length: spec.prefixes }, (_, k) => Array.from({ length: prefixWords }, (_, j) => `p${k}w${j}`).join(' '));
  const seen = new Set<number>();
  for (let i = 0; i < spec.requests; i++) {
    const isl = Math.max(1, Math.round(normal(random, spec.inputTokens, spec.inputTokensStddev)));
    const osl = Math.max(1, Math.round(normal(random, spec.outputTokens, spec.outputTokensStddev)));
    const shared = spec.prefixes > 0 && prefixWords > 0 && random() < spec.prefixShare && isl > prefixWords + 1;
    const prefix = shared ? Math.floor(random() * spec.prefixes) : undefined;
    const words = isl - 1; // `user:` is the first token
    const own = Array.from({ length: words - (prefix === undefined ? 0 : prefixWords) }, (_, j) => `r${spec.seed}q${i}w${j}`).join(' ');
    const content = prefix === undefined ? own : `${prefixText[prefix]} ${own}`;
    const blocks = Math.floor(isl / spec.blockSize);
    let reusedBlocks = 0;
    if (prefix !== undefined) {
      // the prefix's full blocks (the block holding its end mixes in this request's own words)
      if (seen.has(prefix)) reusedBlocks = Math.min(blocks, Math.floor(spec.prefixTokens / spec.blockSize));
      seen.add(prefix);
    }
    yield { content, inputTokens: isl, maxTokens: osl, prefix, blocks, reusedBlocks };
  }
}
