/**
 * How one event intake serves several targets, against a real nats-server (the registries are the
 * test's; the end-to-end form with etcd and `metrics` is test/aggregator/targets.test.ts): a
 * hit-rate event goes to every target whose
 * registry lists its worker and to no other; a component's load events go to its endpoints'
 * targets that list the worker; an unknown worker's events are held, then counted once its
 * registration lands or refused once; the spreading arithmetic and the readiness of several targets.
 */
import { type TestContext, test } from 'node:test';
import assert from 'node:assert/strict';
import { EventIntake, type IntakeSinks } from '../../src/aggregator/EventIntake.ts';
import { AggregatorHealth } from '../../src/aggregator/AggregatorMetrics.ts';
import { HitRateTracker } from '../../src/aggregator/HitRateTracker.ts';
import { LoadBook } from '../../src/aggregator/LoadBook.ts';
import { shareOf } from '../../src/aggregator/AggregatorSet.ts';
import { mergeReadiness } from '../../src/aggregator/readiness.ts';
import { connect } from '@nats-io/transport-node';
import { DistributedRuntime } from '../../src/runtime/DistributedRuntime.ts';
import { testCluster } from '../support/servers.ts';

/**
 * A runtime on a real nats-server and a second connection that publishes: `deliver` returns once
 * the runtime has received what was published (its own round trip follows the message).
 */
async function natsRuntime(
  t: TestContext,
): Promise<{ drt: DistributedRuntime; deliver: (subject: string, body: string) => Promise<void> }> {
  const { cluster, defer } = await testCluster(t);
  const drt = await DistributedRuntime.connect({ nats: { servers: [cluster.nats.url] }, etcd: { endpoints: [cluster.etcd.url] } });
  defer(() => drt.shutdown());
  const nc = await connect({ servers: cluster.nats.url });
  defer(() => nc.close());
  await drt.nats.flush();
  return {
    drt,
    deliver: async (subject, body) => {
      nc.publish(subject, body);
      await nc.flush();
      await drt.nats.flush();
    },
  };
}

function target(registered: bigint[]): IntakeSinks & { ids: Set<bigint> } {
  const tracker = new HitRateTracker();
  const ids = new Set(registered);
  return {
    tracker,
    loadBook: new LoadBook(100),
    health: new AggregatorHealth(tracker),
    registry: () => ({ subjects: ids as unknown as ReadonlyMap<bigint, unknown>, verified: true }),
    ids,
  };
}

const hit = (id: bigint, isl = 4): string => `{"worker_id":${id},"isl_blocks":${isl},"overlap_blocks":1}`;

test('a hit-rate event goes to every target that lists its worker, and to no other', async (t) => {
  const { drt, deliver } = await natsRuntime(t);
  const intake = new EventIntake(drt, 1_000);
  const prefill = target([1n, 3n]);
  const decode = target([2n, 3n]); // worker 3 serves both
  intake.join({ namespace: 'dynamo', component: 'prefill', endpoint: 'generate' }, prefill);
  intake.join({ namespace: 'dynamo', component: 'decode', endpoint: 'generate' }, decode);
  await drt.nats.flush(); // the subscriptions are live
  // the hit-rate subject is subscribed once for both targets: each event counted once per target
  for (let i = 0; i < 3; i++) for (const id of [1n, 2n, 3n]) await deliver('namespace.dynamo.kv-hit-rate', hit(id));
  await intake.hitRates.idle();
  assert.deepEqual([prefill.tracker.get(1n)?.islBlocks, prefill.tracker.get(2n), prefill.tracker.get(3n)?.islBlocks], [12, undefined, 12]);
  assert.deepEqual([decode.tracker.get(1n), decode.tracker.get(2n)?.islBlocks, decode.tracker.get(3n)?.islBlocks], [undefined, 12, 12]);
  // the worker leaves one target: its next events go to the other only (the remembered routing is checked)
  decode.ids.delete(3n);
  await deliver('namespace.dynamo.kv-hit-rate', hit(3n));
  await intake.hitRates.idle();
  assert.deepEqual([prefill.tracker.get(3n)?.islBlocks, decode.tracker.get(3n)?.islBlocks], [16, 12]);
  // a worker that registers under one more target: counted there once its registration lands
  decode.ids.add(1n);
  intake.registrationLanded();
  await deliver('namespace.dynamo.kv-hit-rate', hit(1n));
  await intake.hitRates.idle();
  assert.deepEqual([prefill.tracker.get(1n)?.islBlocks, decode.tracker.get(1n)?.islBlocks], [16, 4]);
  assert.deepEqual(Object.fromEntries(intake.hitRateRejected), {});
  // stopped: nothing is subscribed any more
  intake.stop();
  await deliver('namespace.dynamo.kv-hit-rate', hit(1n));
  assert.equal(intake.hitRates.pending, 0);
  assert.deepEqual([prefill.tracker.accepted, decode.tracker.accepted], [8, 7]);
});

test("load events: the endpoint subject is its target's; the component subject is shared by its endpoints that list the worker", async (t) => {
  const { drt, deliver } = await natsRuntime(t);
  const intake = new EventIntake(drt, 1_000);
  const generate = target([1n, 2n]);
  const embed = target([2n]);
  intake.join({ namespace: 'dynamo', component: 'backend', endpoint: 'generate' }, generate);
  intake.join({ namespace: 'dynamo', component: 'backend', endpoint: 'embed' }, embed);
  await drt.nats.flush();
  // the component's subject is subscribed once: worker 2, listed by both, is recorded once by each
  await deliver('namespace.dynamo.component.backend.kv_metrics', '{"worker_id":1,"kv_used_blocks":10}');
  await deliver('namespace.dynamo.component.backend.kv_metrics', '{"worker_id":2,"kv_used_blocks":20}');
  // on embed's own subject, a worker embed does not list: not given to generate, held
  await deliver('namespace.dynamo.component.backend.endpoint.embed.kv_metrics', '{"worker_id":1,"kv_used_blocks":30}');
  await intake.loads.idle();
  assert.deepEqual(
    [generate.loadBook.has(1n), generate.loadBook.has(2n), embed.loadBook.has(1n), embed.loadBook.has(2n)],
    [true, true, false, true],
  );
  assert.deepEqual([generate.health.loadEventsAccepted, embed.health.loadEventsAccepted], [2, 1]);
  // worker 1 registers under embed within the hold: its held event counts there
  embed.ids.add(1n);
  intake.registrationLanded();
  await new Promise((r) => setImmediate(r));
  assert.equal(embed.loadBook.has(1n), true);
  assert.deepEqual(Object.fromEntries(intake.loadRejected), {});
  // leaving: embed's subject goes; the component's stays while generate uses it
  intake.leave({ namespace: 'dynamo', component: 'backend', endpoint: 'embed' });
  await deliver('namespace.dynamo.component.backend.endpoint.embed.kv_metrics', '{"worker_id":2,"kv_used_blocks":40}');
  await deliver('namespace.dynamo.component.backend.kv_metrics', '{"worker_id":2,"kv_used_blocks":50}');
  await intake.loads.idle();
  assert.deepEqual([generate.health.loadEventsAccepted, embed.health.loadEventsAccepted], [3, 2], 'embed hears nothing more');
  assert.deepEqual(Object.fromEntries(intake.loadRejected), {});
  intake.stop();
});

test('an event no target lists is refused once, by reason; bad bodies never reach a target', async (t) => {
  const { drt, deliver } = await natsRuntime(t);
  const intake = new EventIntake(drt, 1_000);
  const a = target([1n]);
  const b = target([2n]);
  intake.join({ namespace: 'dynamo', component: 'a', endpoint: 'e' }, a);
  intake.join({ namespace: 'dynamo', component: 'b', endpoint: 'e' }, b);
  await drt.nats.flush();
  await deliver('namespace.dynamo.kv-hit-rate', 'not json');
  await deliver('namespace.dynamo.kv-hit-rate', '{"worker_id":1,"isl_blocks":1,"overlap_blocks":2}');
  await intake.hitRates.idle();
  assert.deepEqual(Object.fromEntries(intake.hitRateRejected), { bad_json: 1, overlap_exceeds_isl: 1 });
  assert.equal(a.tracker.accepted + b.tracker.accepted, 0);
  assert.throws(
    () => intake.join({ namespace: 'other', component: 'c', endpoint: 'e' }, target([])),
    /one event intake serves one namespace \(dynamo\), not other/,
  );
  intake.stop();
});

test('the share of a replica, and the readiness of several targets', () => {
  assert.deepEqual([shareOf(6, 2), shareOf(7, 2), shareOf(6, 3), shareOf(1, 3), shareOf(4, 0), shareOf(0, 2)], [3, 4, 2, 1, 4, 0]);
  const ready = { ready: true, reasons: [] };
  const notReady = { ready: false, reasons: ['NATS is disconnected'] };
  assert.deepEqual(mergeReadiness([['dynamo/a/e', notReady]]), notReady, 'one target: its own words');
  assert.deepEqual(
    mergeReadiness([
      ['dynamo/a/e', ready],
      ['dynamo/b/e', notReady],
    ]),
    { ready: false, reasons: ['dynamo/b/e: NATS is disconnected'] },
  );
  assert.deepEqual(
    mergeReadiness([
      ['dynamo/a/e', ready],
      ['dynamo/b/e', ready],
    ]),
    ready,
  );
  assert.deepEqual(mergeReadiness([]), ready, 'no target yet (--all-endpoints): nothing to wait for');
});
