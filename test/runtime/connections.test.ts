/**
 * The etcd client's fault handling: after an outage, a refused host is tried again within
 * `DEFAULT_ETCD_RETRY_AFTER_MS` and a broken watch reopened within
 * `DEFAULT_ETCD_WATCH_MAX_BACKOFF_MS` (etcd3's own policies wait 5 s and up to 30 s). The effect
 * on a whole cluster is measured in test/reliability/reregistration.test.ts (RELIABILITY.md).
 */
import { mock, test } from 'node:test';
import assert from 'node:assert/strict';
import { BrokenCircuitError } from 'cockatiel';
import { GRPCUnavailableError, isRecoverableError } from 'etcd3';
import { etcdFaultHandling } from '../../src/runtime/connections.ts';
import { DEFAULT_ETCD_RETRY_AFTER_MS, DEFAULT_ETCD_WATCH_MAX_BACKOFF_MS } from '../../src/runtime/defaults.ts';

test('a host whose calls failed three times in a row is tried again DEFAULT_ETCD_RETRY_AFTER_MS later, not 5 s', async (t) => {
  mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
  t.after(() => mock.timers.reset());
  const host = etcdFaultHandling().host?.('127.0.0.1:2379');
  assert.ok(host !== undefined);
  const down = new GRPCUnavailableError('14 UNAVAILABLE: connect ECONNREFUSED');
  assert.ok(isRecoverableError(down), 'etcd3 counts an unreachable server as recoverable');
  let calls = 0;
  const fail = async (): Promise<never> => {
    calls += 1;
    throw down;
  };
  for (let i = 0; i < 3; i++) await assert.rejects(host.execute(fail), GRPCUnavailableError);
  // open: refused without a call
  await assert.rejects(host.execute(fail), BrokenCircuitError);
  mock.timers.tick(DEFAULT_ETCD_RETRY_AFTER_MS - 1);
  await assert.rejects(host.execute(fail), BrokenCircuitError);
  assert.equal(calls, 3, 'no call reaches etcd while the breaker is open');
  // etcd is back: the first call after the pause goes through and closes the breaker
  mock.timers.tick(1);
  assert.equal(await host.execute(async () => 'ok'), 'ok');
  assert.equal(await host.execute(async () => 'again'), 'again');
});

test('a broken watch is reopened within DEFAULT_ETCD_WATCH_MAX_BACKOFF_MS however long etcd was away', () => {
  let backoff = etcdFaultHandling().watchBackoff;
  assert.ok(backoff !== undefined);
  assert.equal(backoff.duration, 0, 'the first reopening is at once');
  const delays: number[] = [];
  // etcd3 asks for the next delay after each failed reopening (its WatchManager)
  for (let i = 0; i < 200; i++) {
    backoff = backoff.next(undefined);
    delays.push(backoff.duration);
  }
  assert.ok(Math.max(...delays) <= DEFAULT_ETCD_WATCH_MAX_BACKOFF_MS, `longest pause ${Math.max(...delays)} ms`);
  // it still backs off: the pauses grow to the ceiling rather than hammering a server that is down
  assert.ok(
    delays.slice(-20).every((d) => d >= DEFAULT_ETCD_WATCH_MAX_BACKOFF_MS / 4),
    delays.slice(-20).join(' '),
  );
});
