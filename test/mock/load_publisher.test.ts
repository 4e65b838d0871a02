/** The simulated worker's load events: the ActiveLoad body, and at most one per interval without losing the last change. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { activeLoad, LoadPublisher } from '../../src/mock/loadPublisher.ts';
import { decodeLoadEvent, type LoadReading } from '../../src/runtime/loadEvent.ts';
import { stringifyJson } from '../../src/runtime/json.ts';

test('the ActiveLoad body decodes, as the aggregator and routers read it, to the engine state it came from', () => {
  const id = 7_587_884_888_253_033_398n;
  const body = activeLoad(id, {
    activeSlots: 3,
    totalSlots: 8,
    waiting: 2,
    activeBlocks: 41,
    totalBlocks: 100,
    prefixHitRate: 0.5,
    prefillTokens: 300,
    admitted: 9,
  });
  const r = decodeLoadEvent(new TextEncoder().encode(stringifyJson(body))) as LoadReading;
  assert.equal(r.workerId, id, 'the 63-bit id exact');
  assert.equal(r.generation, 'active_load');
  assert.equal(r.dpRank, undefined, 'one rank: none named, so no dp_rank label');
  assert.deepEqual(r.metrics, { kvActiveBlocks: 41, numRequestsWaiting: 2 });
  assert.equal(r.decodeBlocks, 41);
  assert.equal(r.prefillTokens, 300);
});

test('publishes a change at once, then at most once per interval, and always the last change of a burst', async () => {
  let t = 0;
  let published = 0;
  const p = new LoadPublisher(
    () => published++,
    20,
    () => t,
  );
  p.changed();
  assert.equal(published, 1, 'the first change goes out at once');
  t = 5;
  p.changed();
  p.changed();
  p.changed();
  assert.equal(published, 1, 'a burst within the interval waits');
  await new Promise((r) => setTimeout(r, 40));
  assert.equal(published, 2, 'the burst went out once, after the interval');
  t = 100;
  p.changed();
  assert.equal(published, 3, 'a change after a quiet interval goes out at once');
  t = 101;
  p.changed();
  p.close();
  await new Promise((r) => setTimeout(r, 40));
  assert.equal(published, 3, 'nothing after close');
});
