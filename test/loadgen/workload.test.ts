/** The load generator's workload: lengths, shared prefixes and the reuse it holds, per seed. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderChat, tokenize } from '../../src/frontend/tokenizer.ts';
import { blockHashes } from '../../src/runtime/kvBlocks.ts';
import { buildWorkload, type WorkloadSpec } from '../../src/loadgen/workload.ts';

const SPEC: WorkloadSpec = {
  requests: 200,
  inputTokens: 120,
  inputTokensStddev: 30,
  outputTokens: 20,
  outputTokensStddev: 5,
  prefixShare: 0.5,
  prefixTokens: 64,
  prefixes: 3,
  blockSize: 16,
  seed: 5,
};

test('prompts have their drawn length in frontend tokens; the same seed gives the same workload', () => {
  const w = buildWorkload(SPEC);
  assert.equal(w.length, 200);
  for (const r of w) assert.equal(tokenize(renderChat([{ role: 'user', content: r.content }])).length, r.inputTokens);
  assert.deepEqual(buildWorkload(SPEC), w);
  assert.notDeepEqual(buildWorkload({ ...SPEC, seed: 6 }), w);
  const mean = w.reduce((s, r) => s + r.inputTokens, 0) / w.length;
  assert.ok(Math.abs(mean - 120) < 10, `mean prompt length ${mean}`);
  const shared = w.filter((r) => r.prefix !== undefined).length / w.length;
  assert.ok(shared > 0.35 && shared < 0.65, `share with a prefix ${shared}`);
});

test('the reuse it reports is what a never-evicting prefix cache would find in its prompts', () => {
  const w = buildWorkload(SPEC);
  const cache = new Set<string>();
  let blocks = 0;
  let hits = 0;
  for (const r of w) {
    const hashes = blockHashes(tokenize(renderChat([{ role: 'user', content: r.content }])), 16);
    let n = 0;
    while (n < hashes.length && cache.has(hashes[n] as string)) n++;
    for (const h of hashes) cache.add(h);
    blocks += hashes.length;
    hits += n;
  }
  assert.equal(
    w.reduce((s, r) => s + r.blocks, 0),
    blocks,
  );
  assert.equal(
    w.reduce((s, r) => s + r.reusedBlocks, 0),
    hits,
  );
  assert.ok(hits > 0);
});
