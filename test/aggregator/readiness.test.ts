/** The aggregator's readiness rules (readiness.ts), case by case. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readinessOf, type ReadinessState } from '../../src/aggregator/readiness.ts';

const base: ReadinessState = {
  started: true,
  stopping: false,
  leader: true,
  natsConnected: true,
  etcdReachable: true,
  hasView: true,
  viewProblem: undefined,
};

test('ready: a leader with a current view, a standby that can take over', () => {
  assert.deepEqual(readinessOf(base), { ready: true, reasons: [] });
  assert.deepEqual(readinessOf({ ...base, leader: false, hasView: false }), { ready: true, reasons: [] });
  // a leader that cannot reach etcd keeps serving its view while its lease holds
  assert.equal(readinessOf({ ...base, etcdReachable: false }).ready, true);
});

test('not ready, and why', () => {
  assert.deepEqual(readinessOf({ ...base, started: false, hasView: false }).reasons, ['starting']);
  assert.deepEqual(readinessOf({ ...base, stopping: true }).reasons, ['shutting down']);
  assert.deepEqual(readinessOf({ ...base, natsConnected: false, viewProblem: 'NATS is disconnected: no current worker stats' }).reasons, [
    'NATS is disconnected',
  ]);
  assert.deepEqual(readinessOf({ ...base, viewProblem: 'the latest scrape cycle is 9.0 s old' }).reasons, [
    'the latest scrape cycle is 9.0 s old',
  ]);
  assert.deepEqual(readinessOf({ ...base, hasView: false }).reasons, ['no scrape cycle completed yet']);
  assert.deepEqual(readinessOf({ ...base, leader: false, etcdReachable: false }).reasons, [
    'etcd is unreachable: this standby cannot take over',
  ]);
  assert.deepEqual(readinessOf({ ...base, leader: false, natsConnected: false }).reasons, ['NATS is disconnected']);
});
