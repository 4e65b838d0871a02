/**
 * How one event intake serves several targets (pure routing, the NATS subscriptions stubbed: the
 * end-to-end form is test/aggregator/targets.test.ts): a hit-rate event goes to every target whose
 * registry lists its worker and to no other; a component's load events go to its endpoints'
 * targets that list the worker; an unknown worker's events are held, then counted once its
 * registration lands or refused once; the spreading arithmetic and the readiness of several targets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventIntake, type IntakeSinks } from '../../src/aggregator/EventIntake.ts';
import { AggregatorHealth } from '../../src/aggregator/AggregatorMetrics.ts';
import { HitRateTracker } from '../../src/aggregator/HitRateTracker.ts';
import { LoadBook } from '../../src/aggregator/LoadBook.ts';
import { shareOf } from '../../src/aggregator/AggregatorSet.ts';
import { mergeReadiness } from '../../src/aggregator/readiness.ts';
import type { DistributedRuntime } from '../../src/runtime/DistributedRuntime.ts';

type Callback = (err: null, msg: { data: Uint8Array }) => void;

/** A runtime whose subscriptions the test feeds by subject (no server: routing alone is tested). */
function stubRuntime(): { drt: DistributedRuntime; deliver: (subject: string, body: string) => void; subjects: () => string[] } {
  const subs = new Map<string, (body: Uint8Array) => void>();
  const drt = {
    namespace: (ns: string) => ({
      subscribe: (name: string, handler: (e: { bytes: Uint8Array }) => void) => {
        subs.set(`namespace.${ns}.${name}`, (bytes) => handler({ bytes }));
        return { unsubscribe: () => subs.delete(`namespace.${ns}.${name}`) };
      },
    }),
    nats: {
      subscribe: (subject: string, opts: { callback: Callback }) => {
        subs.set(subject, (data) => opts.callback(null, { data }));
        return { unsubscribe: () => subs.delete(subject) };
      },
    },
  } as unknown as DistributedRuntime;
  return { drt, deliver: (subject, body) => subs.get(subject)!(new TextEncoder().encode(body)), subjects: () => [...subs.keys()].sort() };
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

test('a hit-rate event goes to every target that lists its worker, and to no other', async () => {
  const { drt, deliver, subjects } = stubRuntime();
  const intake = new EventIntake(drt, 1_000);
  const prefill = target([1n, 3n]);
  const decode = target([2n, 3n]); // worker 3 serves both
  intake.join({ namespace: 'dynamo', component: 'prefill', endpoint: 'generate' }, prefill);
  intake.join({ namespace: 'dynamo', component: 'decode', endpoint: 'generate' }, decode);
  assert.deepEqual(
    subjects(),
    [
      'namespace.dynamo.component.decode.endpoint.generate.kv_metrics',
      'namespace.dynamo.component.decode.kv_metrics',
      'namespace.dynamo.component.prefill.endpoint.generate.kv_metrics',
      'namespace.dynamo.component.prefill.kv_metrics',
      'namespace.dynamo.kv-hit-rate',
    ],
    'each subject once',
  );
  for (let i = 0; i < 3; i++) for (const id of [1n, 2n, 3n]) deliver('namespace.dynamo.kv-hit-rate', hit(id));
  await intake.hitRates.idle();
  assert.deepEqual([prefill.tracker.get(1n)?.islBlocks, prefill.tracker.get(2n), prefill.tracker.get(3n)?.islBlocks], [12, undefined, 12]);
  assert.deepEqual([decode.tracker.get(1n), decode.tracker.get(2n)?.islBlocks, decode.tracker.get(3n)?.islBlocks], [undefined, 12, 12]);
  // the worker leaves one target: its next events go to the other only (the remembered routing is checked)
  decode.ids.delete(3n);
  deliver('namespace.dynamo.kv-hit-rate', hit(3n));
  await intake.hitRates.idle();
  assert.deepEqual([prefill.tracker.get(3n)?.islBlocks, decode.tracker.get(3n)?.islBlocks], [16, 12]);
  // a worker that registers under one more target: counted there once its registration lands
  decode.ids.add(1n);
  intake.registrationLanded();
  deliver('namespace.dynamo.kv-hit-rate', hit(1n));
  await intake.hitRates.idle();
  assert.deepEqual([prefill.tracker.get(1n)?.islBlocks, decode.tracker.get(1n)?.islBlocks], [16, 4]);
  assert.deepEqual(Object.fromEntries(intake.hitRateRejected), {});
  intake.stop();
  assert.deepEqual(subjects(), []);
});

test("load events: the endpoint subject is its target's; the component subject is shared by its endpoints that list the worker", async () => {
  const { drt, deliver, subjects } = stubRuntime();
  const intake = new EventIntake(drt, 1_000);
  const generate = target([1n, 2n]);
  const embed = target([2n]);
  intake.join({ namespace: 'dynamo', component: 'backend', endpoint: 'generate' }, generate);
  intake.join({ namespace: 'dynamo', component: 'backend', endpoint: 'embed' }, embed);
  assert.equal(subjects().filter((s) => s === 'namespace.dynamo.component.backend.kv_metrics').length, 1);
  deliver('namespace.dynamo.component.backend.kv_metrics', '{"worker_id":1,"kv_used_blocks":10}');
  deliver('namespace.dynamo.component.backend.kv_metrics', '{"worker_id":2,"kv_used_blocks":20}');
  // on embed's own subject, a worker embed does not list: not given to generate, held
  deliver('namespace.dynamo.component.backend.endpoint.embed.kv_metrics', '{"worker_id":1,"kv_used_blocks":30}');
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
  assert.ok(subjects().includes('namespace.dynamo.component.backend.kv_metrics'));
  assert.ok(!subjects().includes('namespace.dynamo.component.backend.endpoint.embed.kv_metrics'));
  intake.stop();
});

test('an event no target lists is refused once, by reason; bad bodies never reach a target', async () => {
  const { drt, deliver } = stubRuntime();
  const intake = new EventIntake(drt, 1_000);
  const a = target([1n]);
  const b = target([2n]);
  intake.join({ namespace: 'dynamo', component: 'a', endpoint: 'e' }, a);
  intake.join({ namespace: 'dynamo', component: 'b', endpoint: 'e' }, b);
  deliver('namespace.dynamo.kv-hit-rate', 'not json');
  deliver('namespace.dynamo.kv-hit-rate', '{"worker_id":1,"isl_blocks":1,"overlap_blocks":2}');
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
