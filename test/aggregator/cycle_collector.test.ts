import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CycleCollector } from '../../src/aggregator/CycleCollector.ts';
import type { ParsedReply, StatsRejectReason } from '../../src/aggregator/statsReply.ts';

const subjectOf = (id: bigint): string => `dynamo_backend.generate-${id.toString(16)}`;
const A = 7587884888253033398n;
const B = A + 2n;
const C = A + 4n;

function reply(
  id: bigint,
  serviceId: string | undefined,
  kv = 1,
  subject = subjectOf(id),
  rejected: StatsRejectReason[] = [],
): ParsedReply {
  return { workers: [{ workerId: id, subject, data: null, metrics: { kvActiveBlocks: kv }, serviceId }], rejected };
}

test('only workers etcd lists at the subject they answered on are taken, and only they count as answered', () => {
  const registered = new Map([
    [A, subjectOf(A)],
    [B, subjectOf(B)],
  ]);
  const c = new CycleCollector(registered);
  assert.deepEqual(c.add(reply(A, 'sa')), []);
  assert.deepEqual(c.add(reply(C, 'sc')), ['unregistered'], 'not listed');
  assert.deepEqual(c.add(reply(B, 'sb', 1, 'dynamo_backend.other-b')), ['unregistered'], 'listed at another subject');
  assert.deepEqual([...c.workers.keys()], [A]);
  assert.equal(c.answered, 1);
  assert.equal(c.workers.get(A)!.subject, subjectOf(A));
  c.add(reply(B, 'sb'));
  assert.equal(c.answered, 2, 'everyone listed answered');
  assert.deepEqual(Object.fromEntries(c.rejected), { unregistered: 2 });
});

test('while etcd cannot be consulted, the workers of its last listing are taken and new ids wait (unverified); with no listing nobody is', () => {
  const c = new CycleCollector(new Map([[A, subjectOf(A)]]), new Map(), false);
  assert.deepEqual(c.add(reply(A, 'sa')), []);
  assert.deepEqual(c.add(reply(C, 'sc')), ['unverified'], 'a made-up id is not believed while etcd is away');
  assert.deepEqual([...c.workers.keys()], [A]);
  assert.equal(c.answered, 1);
  const none = new CycleCollector(new Map(), new Map(), false);
  assert.deepEqual(none.add(reply(A, 'sa')), ['unverified']);
  assert.equal(none.workers.size, 0);
  assert.deepEqual(Object.fromEntries(c.rejected), { unverified: 1 });
});

test('the same answer twice is a duplicate believed once; a different one under the same instance id (a forger that copied it) is a conflict', () => {
  const registered = new Map([
    [A, subjectOf(A)],
    [B, subjectOf(B)],
  ]);
  const c = new CycleCollector(registered);
  c.add(reply(A, 'sa', 5));
  assert.deepEqual(c.add(reply(A, 'sa', 5)), ['duplicate']);
  assert.equal(c.workers.get(A)!.metrics.kvActiveBlocks, 5);
  assert.equal(c.answered, 1);
  c.add(reply(B, 'sb', 5));
  assert.deepEqual(c.add(reply(B, 'sb', 66666)), ['conflict', 'conflict'], 'forged numbers under the copied instance id');
  assert.deepEqual([...c.workers.keys()], [A]);
  assert.deepEqual(Object.fromEntries(c.rejected), { duplicate: 1, conflict: 2 });
});

test('two answers for one worker are a conflict, a third too; the others are unaffected', () => {
  const registered = new Map([
    [A, subjectOf(A)],
    [B, subjectOf(B)],
  ]);
  const c = new CycleCollector(registered);
  c.add(reply(A, 'sa'));
  c.add(reply(B, 'sb'));
  assert.equal(c.answered, 2);
  assert.deepEqual(c.add(reply(A, 'forger', 99)), ['conflict', 'conflict']);
  assert.equal(c.answered, 1, 'the worker in conflict no longer counts as answered');
  assert.deepEqual(c.add(reply(A, 'sa', 3)), ['conflict'], 'a third answer is not believed either');
  assert.deepEqual(c.add(reply(C, 'sc')), ['unregistered'], 'a worker after the conflict is judged on its own');
  registered.set(C, subjectOf(C));
  assert.deepEqual(c.add(reply(C, 'sc')), [], 'a worker after the conflict is judged on its own');
  assert.deepEqual([...c.workers.keys()], [B, C]);
  assert.deepEqual([...c.conflicts], [A]);
  assert.equal(c.answered, 2);
  assert.deepEqual(Object.fromEntries(c.rejected), { conflict: 3, unregistered: 1 });
});

test('refusals already in a reply are counted with those of the collector, in order', () => {
  const c = new CycleCollector(new Map([[A, subjectOf(A)]]));
  assert.deepEqual(c.add(reply(C, 'sc', 1, subjectOf(C), ['bad_worker_id', 'data_negative'])), [
    'bad_worker_id',
    'data_negative',
    'unregistered',
  ]);
  assert.deepEqual(Object.fromEntries(c.rejected), { bad_worker_id: 1, data_negative: 1, unregistered: 1 });
});

test('workers not yet pinned are counted, and pinned at the end of the cycle unless in conflict', () => {
  const owners = new Map<bigint, string>([[A, 'sa']]);
  const registered = new Map([
    [A, subjectOf(A)],
    [B, subjectOf(B)],
    [C, subjectOf(C)],
  ]);
  const c = new CycleCollector(registered, owners);
  c.add(reply(A, 'sa'));
  assert.equal(c.unpinned, 0, 'already pinned');
  c.add(reply(B, 'sb'));
  c.add(reply(C, 'sc'));
  assert.equal(c.unpinned, 2);
  c.add(reply(C, 'other'));
  c.commitOwners();
  assert.deepEqual(
    [...owners],
    [
      [A, 'sa'],
      [B, 'sb'],
    ],
  );
  assert.equal(owners.has(C), false, 'a worker in conflict is not pinned');
});

test('a pinned worker answered by its owner is taken; by another instance, refused; a reply that names no instance is taken', () => {
  const owners = new Map<bigint, string>([[A, 'sa']]);
  const c = new CycleCollector(new Map([[A, subjectOf(A)]]), owners);
  assert.deepEqual(c.add(reply(A, 'other')), ['conflict']);
  assert.equal(c.workers.size, 0);
  assert.deepEqual(c.add(reply(A, 'sa', 7)), []);
  assert.equal(c.workers.get(A)!.metrics.kvActiveBlocks, 7);
  const d = new CycleCollector(new Map([[A, subjectOf(A)]]), owners);
  assert.deepEqual(d.add(reply(A, undefined, 8)), []);
  assert.equal(d.workers.get(A)!.metrics.kvActiveBlocks, 8);
  assert.equal(d.unpinned, 0);
});

test('two answers that both carry their data text are compared by it, not by the decoded metrics', () => {
  const c = new CycleCollector(new Map([[A, subjectOf(A)]]));
  const withText = (kv: number, dataJson: string): ParsedReply => {
    const r = reply(A, 'sa', kv);
    return { ...r, workers: r.workers.map((w) => ({ ...w, dataJson })) };
  };
  c.add(withText(5, '{"kv_active_blocks":5}'));
  assert.deepEqual(c.add(withText(6, '{"kv_active_blocks":5}')), ['duplicate'], 'the same text: the same answer');
  assert.deepEqual(
    c.add(withText(5, '{"kv_active_blocks":5,"x":1}')),
    ['conflict', 'conflict'],
    'another text: another answer (both counted)',
  );
  assert.equal(c.workers.has(A), false, 'neither is believed');
  // one answer with its text, the other without (the general path): compared by the metrics
  const d = new CycleCollector(new Map([[A, subjectOf(A)]]));
  d.add(withText(5, '{"kv_active_blocks":5}'));
  assert.deepEqual(d.add(reply(A, 'sa', 5)), ['duplicate'], 'the same numbers, one without its text');
  const e = new CycleCollector(new Map([[A, subjectOf(A)]]));
  e.add(reply(A, 'sa', 5));
  assert.deepEqual(e.add(withText(5, '{"kv_active_blocks":5}')), ['duplicate'], 'the same, the text coming second');
});
