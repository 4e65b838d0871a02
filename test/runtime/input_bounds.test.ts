/** The checks before parsing (inputBounds.ts): nesting depth outside strings, oversized events. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_EVENT_BYTES, MAX_STATS_DEPTH, nestsDeeperThan } from '../../src/runtime/inputBounds.ts';
import { decodeHitRateEvent } from '../../src/aggregator/hitRateEvent.ts';
import { parseStatsReply } from '../../src/aggregator/statsReply.ts';
import { enc, ENDPOINT, SERVICE, endpointJson, goodData, subjectOf } from '../support/hostile.ts';

test('depth counts objects and arrays, not brackets inside strings or after escapes', () => {
  assert.equal(nestsDeeperThan(enc.encode('{"a":[{"b":1}]}'), 3), false);
  assert.equal(nestsDeeperThan(enc.encode('{"a":[{"b":[1]}]}'), 3), true);
  assert.equal(nestsDeeperThan(enc.encode('{"a":"[[[[[[[[","b":"\\\\\\"{{{{{{"}'), 1), false);
  assert.equal(nestsDeeperThan(enc.encode('[]'.repeat(1000)), 1), false, 'siblings are not depth');
});

test('a stats reply nested 2,000,000 deep is refused after one scan, a real one is read', () => {
  const deep = enc.encode(`{"type":"io.nats.micro.v1.stats_response","endpoints":[${'['.repeat(2_000_000)}${']'.repeat(2_000_000)}]}`);
  const heapBefore = process.memoryUsage().heapUsed;
  assert.deepEqual(parseStatsReply(deep, SERVICE, ENDPOINT), { workers: [], rejected: ['too_deep'] });
  assert.ok(process.memoryUsage().heapUsed - heapBefore < 64 * 2 ** 20, 'nothing of the nesting was built');
  const id = 7587884888253033398n;
  // a general-path reply (whitespace keeps it off the fast path) at the deepest real form
  const real = enc.encode(`{ "type": "io.nats.micro.v1.stats_response", "endpoints": [${endpointJson(subjectOf(id), goodData(5))}] }`);
  assert.equal(parseStatsReply(real, SERVICE, ENDPOINT).workers[0]?.metrics.kvActiveBlocks, 5);
  assert.ok(MAX_STATS_DEPTH >= 7);
});

test('an event larger than any hit-rate event is refused unread', () => {
  const big = enc.encode(`{"worker_id":1,"isl_blocks":1,"overlap_blocks":0,"pad":"${'x'.repeat(MAX_EVENT_BYTES)}"}`);
  assert.equal(decodeHitRateEvent(big), 'too_large');
  assert.equal(decodeHitRateEvent(`[${'['.repeat(500_000)}`), 'too_large');
  assert.deepEqual(decodeHitRateEvent(enc.encode('{"worker_id":7587884888253033398,"isl_blocks":10,"overlap_blocks":3}')), {
    workerId: 7587884888253033398n,
    islBlocks: 10,
    overlapBlocks: 3,
  });
});
