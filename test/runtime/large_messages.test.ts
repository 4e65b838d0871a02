/**
 * Messages of any size (pure part): a body that fits goes out as it is; above the limit it is
 * gzipped, then cut into parts; the assembler puts every form back together, in any order,
 * ignores duplicate parts, and drops (counted by reason) what cannot be completed: bad headers,
 * parts that disagree, too many incomplete messages, timeouts, oversized or corrupt bodies.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { MessageAssembler, type HeaderGetter } from '../../src/runtime/index.ts';
import { splitLarge } from '../../src/runtime/largeMessages.ts';
import { HEADER_ENCODING, HEADER_MESSAGE_ID, HEADER_PART, HEADER_PARTS, PART_HEADER_ROOM_BYTES } from '../../src/runtime/largeMessages.ts';

const getter = (h: Record<string, string> | undefined): HeaderGetter | undefined => (h === undefined ? undefined : (n) => h[n]);
const json = (n: number): Uint8Array =>
  new TextEncoder().encode(
    JSON.stringify({ endpoints: Object.fromEntries(Array.from({ length: n }, (_, i) => [String(i), { v: (i * 7919) % 1013 }])) }),
  );

test('a body that fits goes out unchanged, with no headers', async () => {
  const body = json(10);
  const { form, parts } = await splitLarge(body, body.length);
  assert.equal(form, 'plain');
  assert.equal(parts.length, 1);
  assert.equal(parts[0]!.data, body);
  assert.equal(parts[0]!.headers, undefined);
  assert.deepEqual(new MessageAssembler().add(body, undefined), body);
});

test('above the limit: gzipped when that fits, else gzipped parts each within the limit; all reassemble in any order', async () => {
  const body = json(5_000);
  const gz = gzipSync(body, { level: 1 });
  const one = await splitLarge(body, gz.length + PART_HEADER_ROOM_BYTES + 10);
  assert.equal(one.form, 'gzip');
  assert.equal(one.parts[0]!.headers?.[HEADER_ENCODING], 'gzip');
  assert.deepEqual(new MessageAssembler().add(one.parts[0]!.data, getter(one.parts[0]!.headers)), body);
  const limit = 2_048;
  const many = await splitLarge(body, limit, 'm1');
  assert.equal(many.form, 'parts');
  assert.ok(many.parts.length > 2);
  for (const p of many.parts) assert.ok(p.data.length + PART_HEADER_ROOM_BYTES <= limit);
  assert.deepEqual(
    many.parts.map((p) => p.headers?.[HEADER_PART]),
    many.parts.map((_, i) => String(i)),
  );
  // reversed, with a duplicate of part 1 in the middle: one whole body, once
  const a = new MessageAssembler();
  const order = [...many.parts].reverse();
  order.splice(2, 0, many.parts[1]!);
  const out = order.map((p) => a.add(p.data, getter(p.headers))).filter((x) => x !== undefined);
  assert.equal(out.length, 1);
  assert.deepEqual(out[0], body);
  assert.equal(a.assembling, 0);
  assert.equal(a.dropped.size, 0);
});

test('what cannot be completed is dropped and counted by reason', async () => {
  const body = json(3_000);
  const { parts } = await splitLarge(body, 2_048, 'x');
  const hdr = (over: Record<string, string>): HeaderGetter => getter({ ...parts[0]!.headers!, ...over })!;
  let now = 0;
  const a = new MessageAssembler({ timeoutMs: 1_000, maxAssembling: 2, maxMessageBytes: 1_000_000, now: () => now });
  // bad headers
  for (const bad of <Record<string, string>[]>[
    { [HEADER_PART]: 'x' },
    { [HEADER_PARTS]: '0' },
    { [HEADER_PART]: '-1' },
    { [HEADER_PART]: String(parts.length) },
    { [HEADER_PARTS]: '1e9' },
  ]) {
    assert.equal(a.add(parts[0]!.data, hdr(bad)), undefined);
  }
  assert.equal(a.dropped.get('bad_part_headers'), 5);
  // two parts of one id disagreeing on the count
  a.add(parts[0]!.data, hdr({ [HEADER_MESSAGE_ID]: 'y' }));
  a.add(parts[1]!.data, hdr({ [HEADER_MESSAGE_ID]: 'y', [HEADER_PART]: '1', [HEADER_PARTS]: String(parts.length + 1) }));
  assert.equal(a.dropped.get('inconsistent_parts'), 1);
  // more incomplete messages than allowed: the oldest goes
  a.add(parts[0]!.data, hdr({ [HEADER_MESSAGE_ID]: 'p1' }));
  a.add(parts[0]!.data, hdr({ [HEADER_MESSAGE_ID]: 'p2' }));
  a.add(parts[0]!.data, hdr({ [HEADER_MESSAGE_ID]: 'p3' }));
  assert.equal(a.dropped.get('evicted'), 1);
  assert.equal(a.assembling, 2);
  // time passes: incomplete ones expire
  now = 1_000;
  a.expire();
  assert.equal(a.dropped.get('timeout'), 2);
  assert.equal(a.assembling, 0);
  // a corrupt gzip body and one that inflates beyond the bound
  assert.equal(a.add(randomBytes(100), getter({ [HEADER_ENCODING]: 'gzip' })), undefined);
  assert.equal(a.dropped.get('bad_gzip'), 1);
  assert.equal(a.add(gzipSync(Buffer.alloc(2_000_000)), getter({ [HEADER_ENCODING]: 'gzip' })), undefined);
  assert.equal(a.dropped.get('too_large'), 1);
});
