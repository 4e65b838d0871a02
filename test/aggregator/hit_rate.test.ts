/**
 * KV hit-rate events, decoded and tracked (pure): the byte-level reading of the canonical body
 * agrees with the text path on every case, each rejection has its reason, and the tracker's
 * totals, recency and cap behave exactly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeHitRateEvent, HitRateTracker } from '../../src/aggregator/HitRateTracker.ts';
import { decodeCanonicalBytes, decodeCanonicalText, decodeGeneralEvent } from '../../src/aggregator/hitRateEvent.ts';
import { HeldEvents } from '../../src/aggregator/HeldEvents.ts';
import { MAX_EVENT_BYTES } from '../../src/runtime/inputBounds.ts';
/** Worker ids are 63-bit (etcd lease ids). */
const MAX_WORKER_ID = (1n << 63n) - 1n;

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const ev = (id: string | number | bigint, isl: string | number, overlap: string | number): string =>
  `{"worker_id":${id},"isl_blocks":${isl},"overlap_blocks":${overlap}}`;

/** Body → what must come out: an event or the reason. */
const CASES: [string, ReturnType<typeof decodeHitRateEvent>][] = [
  [ev(0, 0, 0), { workerId: 0n, islBlocks: 0, overlapBlocks: 0 }],
  [ev(7, 10, 4), { workerId: 7n, islBlocks: 10, overlapBlocks: 4 }],
  [ev('123456789012345', 5, 5), { workerId: 123456789012345n, islBlocks: 5, overlapBlocks: 5 }],
  // 16 to 19 digits: read in two parts, exact past 2^53
  [ev('1234567890123456', 1, 0), { workerId: 1234567890123456n, islBlocks: 1, overlapBlocks: 0 }],
  [ev('9007199254740993', 3, 1), { workerId: 9007199254740993n, islBlocks: 3, overlapBlocks: 1 }],
  [ev(MAX_WORKER_ID, 2, 1), { workerId: MAX_WORKER_ID, islBlocks: 2, overlapBlocks: 1 }],
  [ev(MAX_WORKER_ID + 1n, 2, 1), 'bad_worker_id'],
  [ev('9999999999999999999', 2, 1), 'bad_worker_id'],
  [ev(1, '999999999999999', '999999999999999'), { workerId: 1n, islBlocks: 999999999999999, overlapBlocks: 999999999999999 }],
  [ev(1, 3, 4), 'overlap_exceeds_isl'],
  [ev(MAX_WORKER_ID + 1n, 3, 4), 'bad_worker_id'],
  // not canonical: spaces, order, leading zeros, long numbers, trailing bytes: the general path decides
  [' {"worker_id": 7, "isl_blocks": 10, "overlap_blocks": 4} ', { workerId: 7n, islBlocks: 10, overlapBlocks: 4 }],
  ['{"isl_blocks":10,"worker_id":7,"overlap_blocks":4}', { workerId: 7n, islBlocks: 10, overlapBlocks: 4 }],
  [ev('07', 10, 4), 'bad_json'],
  [ev(7, '010', 4), 'bad_json'],
  [ev(7, 10, '04'), 'bad_json'],
  [ev(7, '9007199254740993', 4), 'out_of_range'],
  [ev(7, '1234567890123456', 4), { workerId: 7n, islBlocks: 1234567890123456, overlapBlocks: 4 }],
  [ev('12345678901234567890', 1, 0), 'bad_worker_id'],
  [`${ev(7, 10, 4)}x`, 'bad_json'],
  [`${ev(7, 10, 4)} `, { workerId: 7n, islBlocks: 10, overlapBlocks: 4 }],
  [ev(7, 10, 4).slice(0, -1), 'bad_json'],
  ['{"worker_id":7,"isl_blocks":10}', 'missing_field'],
  ['{"worker_id":7,"overlap_blocks":1}', 'missing_field'],
  ['{"isl_blocks":10,"overlap_blocks":1}', 'missing_field'],
  ['{"worker_id":', 'bad_json'],
  ['{"worker_id":7,"isl_blocks":', 'bad_json'],
  ['{"worker_id":7,"isl_blocks":1,"overlap_blocks":', 'bad_json'],
  ['{"worker_id":7,"isl_blocks":1,"overlap_blocks":}', 'bad_json'],
  ['{"worker_id":,"isl_blocks":1,"overlap_blocks":0}', 'bad_json'],
  ['{"worker_id":7,"isl_blocks":,"overlap_blocks":0}', 'bad_json'],
  ['{"worker_id":7 ,"isl_blocks":1,"overlap_blocks":0}', { workerId: 7n, islBlocks: 1, overlapBlocks: 0 }],
  ['{"worker_id":7,"isl_blocks":1 ,"overlap_blocks":0}', { workerId: 7n, islBlocks: 1, overlapBlocks: 0 }],
  ['{"worker_id":7,"isl_blocks":1,"overlap_blocks":0 }', { workerId: 7n, islBlocks: 1, overlapBlocks: 0 }],
  ['{"worker_id":7,"isl_blocks":1,"overlap_blocks":0,"x":1}', { workerId: 7n, islBlocks: 1, overlapBlocks: 0 }],
  ['{"worker_id":"7","isl_blocks":1,"overlap_blocks":0}', 'wrong_type'],
  ['{"worker_id":-7,"isl_blocks":1,"overlap_blocks":0}', 'bad_worker_id'],
  ['{"worker_id":7.5,"isl_blocks":1,"overlap_blocks":0}', 'bad_worker_id'],
  ['{"worker_id":1e300,"isl_blocks":1,"overlap_blocks":0}', 'bad_worker_id'],
  ['{"worker_id":7,"isl_blocks":"1","overlap_blocks":0}', 'wrong_type'],
  ['{"worker_id":7,"isl_blocks":1,"overlap_blocks":null}', 'wrong_type'],
  ['{"worker_id":7,"isl_blocks":-1,"overlap_blocks":0}', 'negative'],
  ['{"worker_id":7,"isl_blocks":1,"overlap_blocks":-1}', 'negative'],
  ['{"worker_id":7,"isl_blocks":1.5,"overlap_blocks":0}', 'not_integer'],
  ['{"worker_id":7,"isl_blocks":1e400,"overlap_blocks":0}', 'not_finite'],
  ['{"worker_id":7,"isl_blocks":1e20,"overlap_blocks":0}', 'out_of_range'],
  ['{"worker_id":7,"isl_blocks":123456789012345678901,"overlap_blocks":0}', 'out_of_range'],
  ['{"worker_id":7,"isl_blocks":5,"overlap_blocks":6.5}', 'not_integer'],
  ['{"worker_id":7,"isl_blocks":5,"overlap_blocks":6}', 'overlap_exceeds_isl'],
  ['[1,2,3]', 'not_an_object'],
  ['null', 'not_an_object'],
  ['7', 'not_an_object'],
  ['', 'bad_json'],
  ['{', 'bad_json'],
  // whitespace JSON does not allow (vertical tab, form feed, no-break space): refused by every path
  [`\v${ev(7, 10, 4)}`, 'bad_json'],
  [`${ev(7, 10, 4)}\f`, 'bad_json'],
  ['{"worker_id":\u00a07,"isl_blocks":1,"overlap_blocks":0}', 'bad_json'],
];

/** Bodies exactly as serde writes them: the byte reader must take every one (it is the fast path). */
const SERDE: string[] = [
  ev(0, 0, 0),
  ev(7, 10, 4),
  ev(1, 3, 4), // its reason, from the fast path too
  ev('123456789012345', 5, 5),
  ev('1234567890123456', 1, 0),
  ev('9007199254740993', 3, 1),
  ev(MAX_WORKER_ID, 2, 1),
  ev(MAX_WORKER_ID + 1n, 2, 1),
  ev('9999999999999999999', 2, 1),
  ev(1, '999999999999999', '999999999999999'),
];

/** The canonical fields with JSON whitespace anywhere: the regular expression must take them. */
const SPACED: string[] = [
  ' {"worker_id": 7, "isl_blocks": 10, "overlap_blocks": 4} ',
  '\t{\n"worker_id"\r:\t7\n,\r"isl_blocks" :10 ,"overlap_blocks": 4\n}\n',
  '{"worker_id":7 ,"isl_blocks":1,"overlap_blocks":0}',
  '{"worker_id":7,"isl_blocks":1,"overlap_blocks":0 }',
  '{ "worker_id":9999999999999999999,"isl_blocks":0,"overlap_blocks":0}',
  '{ "worker_id":1,"isl_blocks":999999999999999,"overlap_blocks":999999999999999}',
  ...SERDE,
];

/** Not the canonical form: both fast paths must decline (the general path decides). */
const GENERAL_ONLY: string[] = [
  '{"isl_blocks":10,"worker_id":7,"overlap_blocks":4}',
  ev('07', 10, 4),
  ev(7, '010', 4),
  ev(7, 10, '04'),
  ev('12345678901234567890', 1, 0),
  ev(7, '1234567890123456', 4),
  ev(7, 10, '1234567890123456'),
  `${ev(7, 10, 4)}x`,
  ev(7, 10, 4).slice(0, -1),
  '{"worker_id":7,"isl_blocks":1,"overlap_blocks":0,"x":1}',
  '{"worker_id":-7,"isl_blocks":1,"overlap_blocks":0}',
  '{"worker_id":7.5,"isl_blocks":1,"overlap_blocks":0}',
  '{"worker_id":"7","isl_blocks":1,"overlap_blocks":0}',
  `\v${ev(7, 10, 4)}`,
  '',
  '[1,2,3]',
];

test('every case gives its event or reason, the same from bytes (the fast path) and from text', () => {
  for (const [body, want] of CASES) {
    assert.deepEqual(decodeHitRateEvent(bytes(body)), want, `bytes: ${body}`);
    assert.deepEqual(decodeHitRateEvent(body), want, `text: ${body}`);
  }
  assert.equal(decodeHitRateEvent(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])), 'bad_json', 'invalid UTF-8');
  assert.equal(decodeHitRateEvent(new Uint8Array([0x7b, 0x22, 0xc3])), 'bad_json', 'UTF-8 cut in the middle of a character');
});

test('each reader alone agrees with the expected answer wherever it answers', () => {
  for (const [body, want] of CASES) {
    assert.deepEqual(decodeGeneralEvent(body), want, `general: ${body}`);
    const text = decodeCanonicalText(body);
    if (text !== undefined) assert.deepEqual(text, want, `canonical text: ${body}`);
    const b = decodeCanonicalBytes(bytes(body));
    if (b !== undefined) assert.deepEqual(b, want, `canonical bytes: ${body}`);
  }
});

test('the fast paths take what they are for, and decline everything else', () => {
  for (const body of SERDE) {
    assert.notEqual(decodeCanonicalBytes(bytes(body)), undefined, `bytes reader takes ${body}`);
    assert.deepEqual(decodeCanonicalBytes(bytes(body)), decodeGeneralEvent(body), body);
  }
  for (const body of SPACED) {
    assert.notEqual(decodeCanonicalText(body), undefined, `text reader takes ${JSON.stringify(body)}`);
    assert.deepEqual(decodeCanonicalText(body), decodeGeneralEvent(body), body);
  }
  for (const body of SPACED.filter((b) => !SERDE.includes(b)))
    assert.equal(decodeCanonicalBytes(bytes(body)), undefined, `bytes reader declines ${JSON.stringify(body)}`);
  for (const body of GENERAL_ONLY) {
    assert.equal(decodeCanonicalBytes(bytes(body)), undefined, `bytes reader declines ${JSON.stringify(body)}`);
    assert.equal(decodeCanonicalText(body), undefined, `text reader declines ${JSON.stringify(body)}`);
    assert.deepEqual(decodeHitRateEvent(body), decodeGeneralEvent(body));
  }
  // every length of a serde body cut short, and one byte more: never the fast path's answer
  const whole = ev('7587884888253033398', 123, 45);
  for (let n = 0; n < whole.length; n++) assert.equal(decodeCanonicalBytes(bytes(whole.slice(0, n))), undefined, `cut at ${n}`);
  assert.equal(decodeCanonicalBytes(bytes(`${whole}}`)), undefined);
  assert.equal(decodeCanonicalBytes(bytes(`${whole} `)), undefined);
  assert.deepEqual(decodeCanonicalBytes(bytes(whole)), { workerId: 7587884888253033398n, islBlocks: 123, overlapBlocks: 45 });
});

test('the tracker: totals per worker and in all, rejections by reason, registered workers only', () => {
  const t = new HitRateTracker(10);
  assert.equal(t.ingest(bytes(ev(1, 10, 4))), undefined);
  assert.equal(t.ingest(ev(1, 6, 6)), undefined);
  assert.equal(t.ingest(bytes(ev(2, 5, 0))), undefined);
  assert.equal(t.ingest(bytes(ev(3, 5, 9))), 'overlap_exceeds_isl');
  assert.equal(
    t.ingest(bytes(ev(9, 5, 1)), (id) => id !== 9n),
    'unregistered_worker',
  );
  assert.equal(
    t.ingest(bytes(ev(4, 5, 1)), (id) => id === 4n),
    undefined,
  );
  t.reject('overloaded');
  t.reject('overloaded');
  assert.deepEqual(t.get(1n), { islBlocks: 16, overlapBlocks: 10 });
  assert.deepEqual(t.get(2n), { islBlocks: 5, overlapBlocks: 0 });
  assert.equal(t.get(3n), undefined);
  assert.equal(t.get(9n), undefined, 'an unregistered worker is not tracked');
  assert.equal(t.accepted, 4);
  assert.equal(t.islTotal, 26);
  assert.equal(t.overlapTotal, 11);
  assert.equal(t.size, 3);
  assert.deepEqual(Object.fromEntries(t.rejections()), { overlap_exceeds_isl: 1, unregistered_worker: 1, overloaded: 2 });
  assert.equal(HitRateTracker.percent({ islBlocks: 16, overlapBlocks: 10 }), 62.5);
  assert.equal(HitRateTracker.percent({ islBlocks: 0, overlapBlocks: 0 }), undefined);
  const copy = t.get(1n)!;
  copy.islBlocks = 0;
  assert.deepEqual(t.get(1n), { islBlocks: 16, overlapBlocks: 10 }, 'get returns a copy');
});

test('the cap drops the least recently active worker, in O(1), and counts it', () => {
  const t = new HitRateTracker(3);
  for (const id of [1, 2, 3]) t.add({ workerId: BigInt(id), islBlocks: id, overlapBlocks: 0 });
  t.add({ workerId: 1n, islBlocks: 1, overlapBlocks: 0 }); // 1 is now the most recent: 2 is the oldest
  t.add({ workerId: 3n, islBlocks: 1, overlapBlocks: 0 }); // 3 again (already the newest but one)
  t.add({ workerId: 3n, islBlocks: 1, overlapBlocks: 0 }); // the newest again: order unchanged
  t.add({ workerId: 4n, islBlocks: 4, overlapBlocks: 0 }); // full: drops 2
  assert.equal(t.get(2n), undefined);
  assert.equal(t.dropped, 1);
  assert.equal(t.size, 3);
  t.add({ workerId: 5n, islBlocks: 5, overlapBlocks: 0 }); // drops 1 (older than 3 and 4)
  assert.equal(t.get(1n), undefined);
  assert.deepEqual(
    [3n, 4n, 5n].map((id) => t.get(id)?.islBlocks),
    [5, 4, 5],
  );
  t.add({ workerId: 3n, islBlocks: 1, overlapBlocks: 0 }); // 3 moves to the end
  t.add({ workerId: 6n, islBlocks: 6, overlapBlocks: 0 }); // drops 4
  assert.equal(t.get(4n), undefined);
  assert.deepEqual(
    [3n, 5n, 6n].map((id) => t.get(id)?.islBlocks),
    [6, 5, 6],
  );
  assert.equal(t.dropped, 3);
  // a tracker of one: every new worker replaces the last
  const one = new HitRateTracker(1);
  one.add({ workerId: 1n, islBlocks: 1, overlapBlocks: 0 });
  one.add({ workerId: 2n, islBlocks: 1, overlapBlocks: 0 });
  one.add({ workerId: 2n, islBlocks: 1, overlapBlocks: 0 });
  one.add({ workerId: 3n, islBlocks: 1, overlapBlocks: 0 });
  assert.deepEqual([one.get(1n), one.get(2n), one.get(3n)?.islBlocks, one.size, one.dropped], [undefined, undefined, 1, 1, 2]);
});

test('events of a worker whose registration is in flight are held, counted once it is listed, refused after the hold; the hold is bounded', () => {
  const t = new HitRateTracker(10);
  const held = new HeldEvents(3, 1_000);
  const registered = new Set<bigint>([1n]);
  const isRegistered = (id: bigint): boolean => registered.has(id);
  const hold = (e: Parameters<HeldEvents['hold']>[0]): boolean => held.hold(e, now);
  let now = 0;
  assert.equal(t.ingest(bytes(ev(1, 4, 2)), isRegistered, 'unregistered_worker', hold), undefined, 'a listed worker is counted at once');
  assert.equal(t.ingest(bytes(ev(7, 10, 5)), isRegistered, 'unregistered_worker', hold), 'held');
  now = 200;
  assert.equal(t.ingest(bytes(ev(7, 6, 1)), isRegistered, 'unregistered_worker', hold), 'held');
  assert.equal(t.ingest(bytes(ev(8, 6, 1)), isRegistered, 'unregistered_worker', hold), 'held');
  assert.equal(
    t.ingest(bytes(ev(9, 6, 1)), isRegistered, 'unregistered_worker', hold),
    'unregistered_worker',
    'the hold is full: refused at once',
  );
  assert.equal(
    t.ingest(bytes(ev(7, 5, 9)), isRegistered, 'unregistered_worker', hold),
    'overlap_exceeds_isl',
    'a bad event is refused, not held',
  );
  assert.equal(held.size, 3);
  assert.equal(t.get(7n), undefined, 'nothing counted while held');

  // worker 7's registration lands: its two events count; 8 is still unknown and within the hold
  registered.add(7n);
  now = 900;
  let out = held.settle(isRegistered, now);
  assert.deepEqual(
    out.ready.map((e) => [e.workerId, e.islBlocks]),
    [
      [7n, 10],
      [7n, 6],
    ],
    'in arrival order',
  );
  assert.equal(out.expired, 0);
  for (const e of out.ready) t.add(e);
  assert.deepEqual(t.get(7n), { islBlocks: 16, overlapBlocks: 6 });
  assert.equal(held.size, 1);
  // 8 never registers: refused once held for the whole hold
  now = 1_199;
  assert.equal(held.settle(isRegistered, now).expired, 0);
  now = 1_200;
  out = held.settle(isRegistered, now);
  assert.deepEqual(out, { ready: [], expired: 1 });
  assert.equal(held.size, 0);
  assert.deepEqual(Object.fromEntries(t.rejections()), { unregistered_worker: 1, overlap_exceeds_isl: 1 });
});

test('an event of exactly MAX_EVENT_BYTES is read, one byte more is refused unread; bytes that are not UTF-8 are bad_json', () => {
  const event = '{"worker_id":7,"isl_blocks":4,"overlap_blocks":2, "x":0}';
  const padded = (n: number): string => `${event.slice(0, -1)}${' '.repeat(n - event.length)}}`;
  const want = { workerId: 7n, islBlocks: 4, overlapBlocks: 2 };
  for (const body of [padded(MAX_EVENT_BYTES), new TextEncoder().encode(padded(MAX_EVENT_BYTES))]) {
    assert.deepEqual(decodeHitRateEvent(body), want, `${typeof body} of ${body.length}`);
  }
  for (const body of [padded(MAX_EVENT_BYTES + 1), new TextEncoder().encode(padded(MAX_EVENT_BYTES + 1))]) {
    assert.equal(decodeHitRateEvent(body), 'too_large', `${typeof body} of ${body.length}`);
  }
  // a field serde would refuse to read: 0xff inside a string is not UTF-8
  const bytes = new TextEncoder().encode('{"worker_id":7,"isl_blocks":4,"overlap_blocks":2,"note":"?"}');
  bytes[bytes.length - 3] = 0xff;
  assert.equal(decodeHitRateEvent(bytes), 'bad_json');
});
