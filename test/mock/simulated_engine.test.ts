/** The simulated engine and its block pool: what it reports follows from the requests it ran. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BlockPool } from '../../src/mock/engine/BlockPool.ts';
import { blockHashes } from '../../src/runtime/kvBlocks.ts';
import { type AdmissionEvent, type EngineOutput, EngineRequestError, SimulatedEngine } from '../../src/mock/engine/SimulatedEngine.ts';

const instant = (): Promise<void> => Promise.resolve();
const range = (from: number, n: number): number[] => Array.from({ length: n }, (_, i) => from + i);

async function collect(it: AsyncIterable<EngineOutput>): Promise<EngineOutput[]> {
  const out: EngineOutput[] = [];
  for await (const c of it) out.push(c);
  return out;
}

describe('blockHashes', () => {
  it('names full blocks only, and two prompts share a hash exactly while they share every token before it', () => {
    const a = blockHashes(range(0, 40), 16);
    assert.equal(a.length, 2, 'the trailing 8 tokens are a partial block');
    const b = blockHashes([...range(0, 16), ...range(100, 24)], 16);
    assert.equal(b[0], a[0]);
    assert.notEqual(b[1], a[1]);
    const c = blockHashes([999, ...range(1, 31)], 16);
    assert.notEqual(c[0], a[0]);
    assert.notEqual(c[1], a[1], 'a block after a different one differs although its own tokens match');
  });
});

describe('BlockPool', () => {
  it('shares cached blocks, keeps released ones until space is needed, then evicts the least recently used', () => {
    const pool = new BlockPool(6);
    const x = pool.allocate(['a', 'b'], 1)!;
    assert.equal(x.overlap, 0);
    pool.fill(x);
    assert.equal(pool.activeBlocks, 3);
    const y = pool.allocate(['a', 'b', 'c'], 0)!;
    assert.equal(y.overlap, 2, 'a and b are held by x: shared');
    assert.equal(pool.activeBlocks, 4);
    pool.release(x);
    pool.release(y);
    assert.equal(pool.activeBlocks, 0);
    assert.equal(pool.idleCachedBlocks, 3);
    // 6 blocks, 3 idle cached (released in the order a, b, c): 5 new ones evict the two least recently used
    const z = pool.allocate(['d', 'e', 'f', 'g'], 1)!;
    assert.equal(z.overlap, 0);
    assert.equal(pool.idleCachedBlocks, 1);
    assert.equal(pool.overlap(['a']), 0, 'a was evicted');
    assert.equal(pool.overlap(['c']), 1, 'c, used last, stayed');
    assert.equal(pool.allocate(['h', 'i'], 0), undefined, 'no room: nothing changes');
    assert.equal(pool.idleCachedBlocks, 1);
  });
});

describe('SimulatedEngine', () => {
  it('streams max_tokens tokens in the engine-output shape, usage on the last, deterministic for a seed', async () => {
    const run = async (): Promise<EngineOutput[]> =>
      collect(new SimulatedEngine({ seed: 7 }, { sleep: instant }).generate({ tokenIds: range(0, 40), maxTokens: 5 }));
    const out = await run();
    assert.equal(out.length, 5);
    assert.ok(out.every((c) => c.token_ids.length === 1 && typeof c.text === 'string' && c.index === 0));
    assert.deepEqual(
      out.map((c) => c.finish_reason),
      [null, null, null, null, 'length'],
    );
    assert.deepEqual(out[4]?.completion_usage, {
      prompt_tokens: 40,
      completion_tokens: 5,
      total_tokens: 45,
      prompt_tokens_details: { cached_tokens: 0 },
    });
    assert.deepEqual(await run(), out, 'same seed, same tokens');
  });

  it('a repeated prefix is a hit, reported per request and in the hit rate', async () => {
    const events: AdmissionEvent[] = [];
    const engine = new SimulatedEngine({ seed: 1 }, { sleep: instant, onAdmit: (e) => events.push(e) });
    const prefix = range(0, 32);
    await collect(engine.generate({ tokenIds: [...prefix, ...range(500, 20)], maxTokens: 3 }));
    const second = await collect(engine.generate({ tokenIds: [...prefix, ...range(900, 20)], maxTokens: 3 }));
    assert.deepEqual(events, [
      { islBlocks: 3, overlapBlocks: 0 },
      { islBlocks: 3, overlapBlocks: 2 },
    ]);
    assert.equal(second.at(-1)?.completion_usage?.prompt_tokens_details.cached_tokens, 32);
    assert.equal(engine.state().prefixHitRate, 2 / 6);
    assert.equal(engine.state().activeBlocks, 0, 'finished requests hold nothing');
  });

  it('queues requests beyond its slots and reports them waiting, then runs them in order', async () => {
    const releases: (() => void)[] = [];
    const engine = new SimulatedEngine({ slots: 2, kvBlocks: 100 }, { sleep: () => new Promise<void>((r) => releases.push(r)) });
    const streams = [0, 1, 2].map((i) => collect(engine.generate({ tokenIds: range(i * 100, 20), maxTokens: 2 })));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual({ active: engine.state().activeSlots, waiting: engine.state().waiting }, { active: 2, waiting: 1 });
    // 20 prompt tokens + 2 output = 2 blocks each, 1 shared + the partial block filled at prefill
    assert.equal(engine.state().activeBlocks, 4);
    while (releases.length > 0 || engine.state().activeSlots > 0) {
      releases.shift()?.();
      await new Promise((r) => setImmediate(r));
    }
    const done = await Promise.all(streams);
    assert.deepEqual(
      done.map((s) => s.length),
      [2, 2, 2],
    );
    assert.deepEqual(engine.state(), {
      activeSlots: 0,
      totalSlots: 2,
      waiting: 0,
      activeBlocks: 0,
      totalBlocks: 100,
      prefixHitRate: 0,
      prefillTokens: 0,
      admitted: 3,
    });
  });

  it('a cancelled request gives its slot and blocks back at once, also while it waits', async () => {
    const engine = new SimulatedEngine(
      { slots: 1 },
      { sleep: (_ms, signal) => new Promise((r) => signal?.addEventListener('abort', () => r())) },
    );
    const first = new AbortController();
    const second = new AbortController();
    const a = collect(engine.generate({ tokenIds: range(0, 40), maxTokens: 10, signal: first.signal }));
    const b = collect(engine.generate({ tokenIds: range(50, 40), maxTokens: 10, signal: second.signal }));
    await new Promise((r) => setImmediate(r));
    assert.equal(engine.state().waiting, 1);
    second.abort();
    assert.deepEqual(await b, []);
    assert.equal(engine.state().waiting, 0);
    first.abort();
    assert.deepEqual(await a, []);
    assert.equal(engine.state().activeSlots, 0);
    assert.equal(engine.state().activeBlocks, 0);
  });

  it('refuses a request that can never run, with a clear error', () => {
    const engine = new SimulatedEngine({ contextLength: 100, kvBlocks: 4, blockSize: 16 });
    assert.throws(() => engine.generate({ tokenIds: range(0, 90), maxTokens: 20 }), EngineRequestError);
    assert.throws(() => engine.generate({ tokenIds: range(0, 60), maxTokens: 20 }), /needs 5 KV blocks; the pool has 4/);
    assert.throws(() => engine.generate({ tokenIds: [1], maxTokens: 0 }), /max_tokens/);
  });
});

describe('SimulatedEngine load', () => {
  it('reports the prompt tokens in prefill (the uncached ones) and says when its load changes', async () => {
    let release: (() => void) | undefined;
    let changes = 0;
    const engine = new SimulatedEngine(
      { slots: 1, blockSize: 16 },
      {
        onLoadChange: () => changes++,
        sleep: () =>
          new Promise<void>((resolve) => {
            release = resolve;
          }),
      },
    );
    const first = engine.generate({ tokenIds: range(0, 40), maxTokens: 1 });
    const done = collect(first);
    await new Promise((r) => setImmediate(r));
    assert.equal(engine.state().prefillTokens, 40, 'nothing cached: every prompt token is prefilled');
    assert.ok(changes >= 2, 'queued, then admitted');
    const second = collect(engine.generate({ tokenIds: range(0, 40), maxTokens: 1 }));
    await new Promise((r) => setImmediate(r));
    assert.equal(engine.state().waiting, 1, 'one slot: the second waits');
    const before = changes;
    release?.();
    await done;
    assert.ok(changes > before, 'prefill end and completion are changes');
    await new Promise((r) => setImmediate(r));
    assert.equal(engine.state().prefillTokens, 40 - 32, 'the second prompt finds its two full blocks cached');
    release?.();
    await second;
    assert.equal(engine.state().prefillTokens, 0);
    assert.equal(engine.state().activeSlots, 0);
  });
});
