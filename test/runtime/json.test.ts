import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeJson, parseJson, stringifyJson } from '../../src/runtime/json.ts';
import { DecodeError } from '../../src/runtime/errors.ts';

test('integers above 2^53 keep every digit when read', () => {
  const v = parseJson('{"worker_id": 7587884888253033398, "isl_blocks": 32, "x": [9007199254740993, -9223372036854775807]}') as Record<
    string,
    unknown
  >;
  assert.equal(v.worker_id, 7587884888253033398n);
  assert.equal(v.isl_blocks, 32);
  assert.deepEqual(v.x, [9007199254740993n, -9223372036854775807n]);
  // JSON.parse would have rounded it:
  assert.notEqual(BigInt(JSON.parse('7587884888253033398') as number), 7587884888253033398n);
});

test('safe numbers, floats and strings that look like long numbers stay what they are', () => {
  const v = parseJson('{"a": 1.5, "b": 1e308, "c": "12345678901234567890", "d": 9007199254740991, "e": 12345678901234567890.5}') as Record<
    string,
    unknown
  >;
  assert.equal(v.a, 1.5);
  assert.equal(v.b, 1e308);
  assert.equal(v.c, '12345678901234567890');
  assert.equal(v.d, 9007199254740991);
  assert.equal(typeof v.e, 'number');
});

test('bigint values are written as bare integers, round trip exact', () => {
  const obj = { instance_id: 7587884888253033398n, name: 'w', nested: { ids: [1n, 18446744073709551615n] }, f: 0.5, u: undefined };
  const text = stringifyJson(obj);
  assert.equal(text, '{"instance_id":7587884888253033398,"name":"w","nested":{"ids":[1,18446744073709551615]},"f":0.5}');
  assert.deepEqual(parseJson(text), { instance_id: 7587884888253033398n, name: 'w', nested: { ids: [1, 18446744073709551615n] }, f: 0.5 });
  assert.deepEqual(parseJson(encodeJson(obj)), parseJson(text));
});

test('pretty output matches serde_json to_string_pretty', () => {
  assert.equal(
    stringifyJson({ a: 1, b: { c: [1, 2] }, d: [], e: {} }, 2),
    '{\n  "a": 1,\n  "b": {\n    "c": [\n      1,\n      2\n    ]\n  },\n  "d": [],\n  "e": {}\n}',
  );
});

test('the slow path agrees with JSON.parse on everything but long integers', () => {
  const doc =
    '{"s": "a\\"b\\\\c\\u00e9\\n", "t": true, "f": false, "n": null, "arr": [1, -2.5e-3, {"k": []}], "big": 12345678901234567890}';
  const v = parseJson(doc) as Record<string, unknown>;
  const ref = JSON.parse(doc) as Record<string, unknown>;
  assert.equal(v.big, 12345678901234567890n);
  delete v.big;
  delete ref.big;
  assert.deepEqual(v, ref);
});

test('bad input is a DecodeError, never anything else', () => {
  const cases: (string | Uint8Array)[] = [
    '',
    '{',
    '{"a":}',
    '[1,]',
    'nul',
    '{"a": 12345678901234567890',
    '{"a": 12345678901234567890}}',
    "{'a': 1}",
    '"unterminated 12345678901234567890',
    new Uint8Array([0xff, 0xfe]),
    '{"__proto__": 12345678901234567890}',
    `${'['.repeat(100)}12345678901234567890${']'.repeat(100)}`,
  ];
  for (const c of cases) {
    try {
      const v = parseJson(c);
      // Only the __proto__ case parses; it must not pollute prototypes.
      assert.equal(Object.getPrototypeOf(v), Object.prototype, String(c));
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
    } catch (err) {
      assert.ok(err instanceof DecodeError, `${String(c)}: ${String(err)}`);
    }
  }
  assert.throws(() => parseJson('{'), DecodeError);
  assert.throws(() => parseJson(`${'['.repeat(100)}12345678901234567890${']'.repeat(100)}`), /nesting deeper/);
});
