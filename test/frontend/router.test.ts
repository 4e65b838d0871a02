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
