/**
 * KV blocks of a token sequence: each full block of `blockSize` tokens is named by a hash of its
 * tokens chained with the hash of the block before it, so two prompts share a block hash exactly
 * when they share every token up to the end of that block (the prefix-cache rule of vLLM and of
 * Dynamo's KV router). A trailing partial block has no hash: it cannot be shared.
 */

/** FNV-1a 32-bit prime; two lanes with different offsets give a 64-bit name without BigInt. */
const FNV_PRIME = 0x01000193;
const LANE_A = 0x811c9dc5;
const LANE_B = 0x050c5d1f;

/** The chained hashes of the full blocks of `tokens`, as 16 hex digits each. */
export function blockHashes(tokens: readonly number[], blockSize: number): string[] {
  const out: string[] = [];
  let a = LANE_A;
  let b = LANE_B;
  const full = Math.floor(tokens.length / blockSize);
  for (let blk = 0; blk < full; blk++) {
    // the lanes carry on from the block before: the chain
    for (let i = blk * blockSize; i < (blk + 1) * blockSize; i++) {
      const t = (tokens[i] as number) >>> 0;
      a = Math.imul(a ^ t, FNV_PRIME) >>> 0;
      b = Math.imul(b ^ (t * 31 + 7), FNV_PRIME) >>> 0;
    }
    out.push(a.toString(16).padStart(8, '0') + b.toString(16).padStart(8, '0'));
  }
  return out;
}

/** Blocks needed to hold `tokens` tokens. */
export function blocksFor(tokens: number, blockSize: number): number {
  return Math.ceil(tokens / blockSize);
}
