/**
 * The pure pieces behind 10,000 workers: the event queue decodes in bounded batches per turn of
 * the event loop (other work runs between them) and refuses beyond its bound; the aggregate text
 * written directly equals the generic JSON encoding of the same ProcessedEndpoints; the grant
 * backoff grows, is capped and jittered.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventQueue } from '../../src/aggregator/EventQueue.ts';
import { aggregateText } from '../../src/aggregator/aggregate.ts';
import type { WorkerStats } from '../../src/aggregator/statsReply.ts';
import { parseJson, stringifyJson } from '../../src/runtime/json.ts';
import { GRANT_BACKOFF_INITIAL_MS, GRANT_BACKOFF_MAX_MS, grantBackoffMs } from '../../src/runtime/leaseGrants.ts';

test('the event queue decodes at most one batch per turn of the event loop and refuses beyond its bound', async () => {
  const seen: number[] = [];
  const q = new EventQueue<number>((n) => seen.push(n), 5_000, 100);
  for (let i = 0; i < 5_000; i++) assert.ok(q.push(i));
  assert.equal(q.push(5_000), false, 'full: refused');
  assert.equal(seen.length, 0, 'nothing decoded inside the callback that queued it');
  // count how many turns it takes: one batch of 100 per turn, other immediates interleaved
  let turns = 0;
  const tick = (): void => {
    turns++;
    if (q.pending > 0) setImmediate(tick);
  };
  setImmediate(tick);
  await q.idle();
  assert.deepEqual(
    seen,
    Array.from({ length: 5_000 }, (_, i) => i),
    'every event, in order',
  );
  assert.ok(turns >= 49, `other work ran between batches (${turns} turns)`);
  assert.ok(q.push(1), 'room again once drained');
  await q.idle();
});

test('the aggregate written directly is the ProcessedEndpoints JSON, 64-bit ids and values exact', () => {
  const workers = new Map<bigint, WorkerStats>();
  const ids = [7587884888253033398n, 1n, (1n << 63n) - 1n];
  const datas: unknown[] = [{ kv_active_blocks: 3, nested: { big: 9007199254740993n } }, { request_active_slots: 1, x: 'é"\\' }, null];
  for (const [i, id] of ids.entries()) {
    workers.set(id, {
      workerId: id,
      subject: `ns_comp-abc.ep-${id.toString(16)}`,
      data: datas[i],
      metrics: { kvActiveBlocks: i, kvTotalBlocks: 10, requestActiveSlots: 0, requestTotalSlots: 1 },
    });
  }
  const endpoints: Record<string, unknown> = {};
  for (const [id, w] of workers) endpoints[id.toString()] = { name: `worker-${id}`, subject: w.subject, data: w.data };
  const expected = stringifyJson({ endpoints, load_avg: 1.5, load_std: 0.25 });
  // the same document (object key order is not meaningful in JSON; workers keep the view's order)
  assert.deepEqual(parseJson(aggregateText(workers, { avg: 1.5, std: 0.25 })), parseJson(expected));
  assert.deepEqual(Object.keys((parseJson(aggregateText(workers, undefined)) as { endpoints: object }).endpoints).length, 3);
  const back = parseJson(aggregateText(workers, undefined)) as {
    endpoints: Record<string, { data: { nested?: { big: bigint } } }>;
    load_avg: number;
  };
  assert.equal(back.endpoints['7587884888253033398']!.data.nested!.big, 9007199254740993n);
  assert.equal(back.load_avg, 0);
  assert.equal(aggregateText(new Map(), undefined), '{"endpoints":{},"load_avg":0,"load_std":0}');
});

test('the aggregate is the same document whether the native writer takes it all or a 64-bit value sends it entry by entry', () => {
  const make = (big: boolean): Map<bigint, WorkerStats> => {
    const workers = new Map<bigint, WorkerStats>();
    for (let i = 0; i < 50; i++) {
      const id = i % 2 === 0 ? BigInt(i) : 7587884888253033398n + BigInt(i);
      const data = {
        kv_active_blocks: i,
        gpu_cache_usage_perc: i / 7,
        s: `é"\\${i}`,
        nested: [null, true, { x: -0 }],
        ...(big && i === 49 ? { worker_id: 9007199254740993n } : {}),
      };
      workers.set(id, { workerId: id, subject: `ns_comp.ep-${id.toString(16)}`, data, metrics: { kvActiveBlocks: i } });
    }
    return workers;
  };
  const native = aggregateText(make(false), { avg: 0.1, std: NaN });
  const entries = aggregateText(make(true), { avg: 0.1, std: NaN });
  assert.match(native, /"load_std":null}$/);
  assert.match(entries, /"load_std":null}$/);
  const a = parseJson(native) as { endpoints: Record<string, { data: Record<string, unknown> }> };
  const b = parseJson(entries) as { endpoints: Record<string, { data: Record<string, unknown> }> };
  assert.equal(b.endpoints[(7587884888253033398n + 49n).toString()]!.data.worker_id, 9007199254740993n);
  delete b.endpoints[(7587884888253033398n + 49n).toString()]!.data.worker_id;
  assert.deepEqual(a, b);
  assert.equal(Object.keys(a.endpoints).length, 50);
  // which writer wrote it shows in the key order: the native one puts small integer keys first
  const order = (text: string): string[] => [...text.matchAll(/"(\d+)":\{"name"/g)].map((m) => m[1]!);
  const inserted = [...make(false).keys()].map(String);
  assert.deepEqual(order(entries), inserted, "entry by entry: the view's order");
  assert.deepEqual(order(native), [...inserted.filter((k) => k.length < 4), ...inserted.filter((k) => k.length >= 4)], 'native');
  // a worker without data is written with "data":null by both
  for (const big of [false, true]) {
    const none = make(big);
    none.set(3n, { workerId: 3n, subject: 'ns_comp.ep-3', data: undefined, metrics: { kvActiveBlocks: 0 } });
    assert.match(aggregateText(none, undefined), /"3":\{"name":"worker-3","subject":"ns_comp.ep-3","data":null\}/);
  }
});

test('grant backoff doubles from its first step, is capped, and is jittered within its upper half', () => {
  assert.equal(
    grantBackoffMs(1, () => 0),
    GRANT_BACKOFF_INITIAL_MS / 2,
  );
  assert.equal(
    grantBackoffMs(1, () => 1),
    GRANT_BACKOFF_INITIAL_MS,
  );
  assert.equal(
    grantBackoffMs(3, () => 1),
    GRANT_BACKOFF_INITIAL_MS * 4,
  );
  assert.equal(
    grantBackoffMs(40, () => 1),
    GRANT_BACKOFF_MAX_MS,
  );
  assert.equal(
    grantBackoffMs(40, () => 0),
    GRANT_BACKOFF_MAX_MS / 2,
  );
});
