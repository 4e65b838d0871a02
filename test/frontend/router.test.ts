/** Picking a worker: round robin, random, and KV-aware (approximate: from what it routed). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Router } from '../../src/frontend/Router.ts';

const range = (from: number, n: number): number[] => Array.from({ length: n }, (_, i) => from + i);

test('round-robin takes the instances in turn; random uses its generator', () => {
  const rr = new Router('round-robin');
  assert.deepEqual(
    [1, 2, 3, 4].map(() => rr.route([10n, 20n, 30n], [], 16).instance),
    [10n, 20n, 30n, 10n],
  );
  const rnd = new Router('random', () => 0.99);
  assert.equal(rnd.route([10n, 20n, 30n], [], 16).instance, 30n);
});

test('kv: a prompt goes where its leading blocks were sent; a new prompt to the least busy instance', () => {
  const r = new Router('kv');
  const prefix = range(0, 32); // two blocks of 16
  const a = r.route([1n, 2n, 3n], [...prefix, ...range(100, 20)], 16);
  assert.equal(a.overlapBlocks, 0);
  const b = r.route([1n, 2n, 3n], range(500, 40), 16);
  assert.notEqual(b.instance, a.instance, 'the busy instance is avoided');
  const c = r.route([1n, 2n, 3n], [...prefix, ...range(900, 20)], 16);
  assert.equal(c.instance, a.instance, 'the shared prefix wins over load');
  assert.equal(c.overlapBlocks, 2);
  r.done(a.instance);
  r.done(b.instance);
  r.done(c.instance);
  // idle and nothing shared: equal instances take turns
  const seen = new Set([0, 1, 2].map((i) => r.route([1n, 2n, 3n], range(10_000 * (i + 1), 16), 16).instance));
  assert.equal(seen.size, 3);
});

test('kv: its memory per instance is bounded, least recently routed forgotten first; departed instances are dropped', () => {
  const r = new Router('kv', Math.random, 2);
  const first = r.route([1n], range(0, 48), 16); // three blocks, two kept
  r.done(first.instance);
  assert.equal(r.route([1n, 2n], range(0, 16), 16).overlapBlocks, 0, 'the first block was forgotten');
  const busy = new Router('kv');
  busy.route([1n], [], 16); // in flight on 1
  busy.route([2n], [], 16);
  busy.done(2n);
  busy.retain(new Set([3n]));
  assert.equal(busy.size, 1, 'instance 1 has a request in flight: kept; 2 left');
  busy.done(1n);
  busy.retain(new Set([3n]));
  assert.equal(busy.size, 0);
});

test('least-loaded: fewest waiting, then fewest blocks in use (prefill in blocks), then in flight; stale readings are not believed', () => {
  let now = 0;
  const r = new Router('least-loaded', Math.random, 1_000, () => now, 10_000);
  r.observeLoad(1n, { waiting: 2, decodeBlocks: 0, prefillTokens: 0 });
  r.observeLoad(2n, { waiting: 0, decodeBlocks: 50, prefillTokens: 0 });
  r.observeLoad(3n, { waiting: 0, decodeBlocks: 10, prefillTokens: 640 }); // 10 + 40 blocks
  assert.equal(
    r.route([1n, 2n, 3n], range(0, 16), 16).instance,
    2n,
    '1 has a queue; 2 and 3 have 50 blocks each (3: 10 decoding + 640 prefill tokens): the first in turn',
  );
  r.observeLoad(2n, { waiting: 0, decodeBlocks: 60, prefillTokens: 0 });
  assert.equal(r.route([1n, 2n, 3n], range(0, 16), 16).instance, 3n, '50 blocks (10 decoding + 640 prefill tokens) beat 60');
  r.observeLoad(1n, { waiting: 0, decodeBlocks: 0, prefillTokens: 0 });
  assert.equal(r.route([1n, 2n, 3n], range(0, 16), 16).instance, 1n, 'its queue drained: now the least loaded');
  now = 20_000;
  r.observeLoad(3n, { waiting: 5, decodeBlocks: 500, prefillTokens: 0 });
  // 1 and 2 published 20 s ago: their readings are stale, so they count as idle
  const pick = r.route([1n, 2n, 3n], range(0, 16), 16).instance;
  assert.notEqual(pick, 3n, 'a fresh heavy load loses against stale readings, counted idle');
});

test('least-loaded: a burst between two readings is spread by the prompt blocks sent since the last reading', () => {
  const r = new Router('least-loaded', Math.random, 1_000, () => 0, 10_000);
  r.observeLoad(1n, { waiting: 0, decodeBlocks: 0, prefillTokens: 0 });
  r.observeLoad(2n, { waiting: 0, decodeBlocks: 0, prefillTokens: 0 });
  const picks = [0, 1, 2, 3].map(() => r.route([1n, 2n], range(0, 64), 16).instance);
  assert.deepEqual(picks.filter((p) => p === 1n).length, 2, `four requests of 4 blocks each, two per instance (${picks.join(',')})`);
  r.observeLoad(1n, { waiting: 0, decodeBlocks: 0, prefillTokens: 0 }); // a new reading: what was sent is in it
  assert.equal(r.route([1n, 2n], range(0, 64), 16).instance, 1n, 'instance 2 still has 8 blocks pending');
});

test('least-loaded: a worker publishing per data-parallel rank is loaded by the sum of its ranks', () => {
  const r = new Router('least-loaded', Math.random, 1_000, () => 0, 10_000);
  r.observeLoad(1n, { waiting: 1, decodeBlocks: 10, prefillTokens: 0 }, 0);
  r.observeLoad(1n, { waiting: 1, decodeBlocks: 10, prefillTokens: 0 }, 1);
  r.observeLoad(2n, { waiting: 1, decodeBlocks: 5, prefillTokens: 0 });
  assert.deepEqual(r.loadOf(1n)?.load, { waiting: 2, decodeBlocks: 20, prefillTokens: 0 });
  assert.equal(r.route([1n, 2n], range(0, 16), 16).instance, 2n, 'one queued request against two');
  r.observeLoad(1n, { waiting: 0, decodeBlocks: 0, prefillTokens: 0 }, 1); // rank 1 drained: its newest reading replaces its last
  assert.deepEqual(r.loadOf(1n)?.load, { waiting: 1, decodeBlocks: 10, prefillTokens: 0 });
});
