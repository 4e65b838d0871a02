/** Exact JSON at its edges (pure): the slow path's errors and positions, depth, keys, and the writer's corners. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_MAX_DEPTH,
  encodeJson,
  hasUnsafeInteger,
  LONG_INT_RE,
  parseJson,
  parseJsonExact,
  parseJsonRounded,
  stringifyJson,
} from '../../src/runtime/json.ts';
import { DecodeError } from '../../src/runtime/errors.ts';

const L = '12345678901234567'; // a long integer: forces the exact (slow) path

test('16-digit integers just past 2^53 are exact wherever they stand', () => {
  assert.equal(parseJson('9007199254740993'), 9007199254740993n);
  assert.deepEqual(parseJson('[9007199254740993]'), [9007199254740993n]);
  assert.deepEqual(parseJson('{"a":9007199254740993}'), { a: 9007199254740993n });
  assert.deepEqual(parseJson('[-9007199254740993, 9007199254740991]'), [-9007199254740993n, 9007199254740991]);
  // biome-ignore lint/correctness/noPrecisionLoss: the literal rounds as the parsed text must
  assert.equal(parseJson('0.12345678901234567'), 0.12345678901234567, 'digits of a fraction are a float');
  assert.equal(parseJson('1e12345678901234567'), Infinity, 'digits of an exponent are a float');
  // biome-ignore lint/correctness/noPrecisionLoss: the literal rounds as the parsed text must
  assert.equal(parseJson(`${L}.5`), 12345678901234567.5);
  // biome-ignore lint/correctness/noPrecisionLoss: the literal rounds as the parsed text must
  assert.equal(parseJson(`${L}e2`), 1.2345678901234567e18);
  assert.deepEqual(parseJson(new TextEncoder().encode(`[${L}]`)), [12345678901234567n], 'from bytes too');
});

test('the exact path: every kind of white space, empty containers, nesting', () => {
  assert.deepEqual(parseJson(` \t\r\n{ \t\r\n"a" \n:\t[ ${L} , {} , [ ] , "x" , true , false , null , -0.5e-1 ] \r\n} \n`), {
    a: [12345678901234567n, {}, [], 'x', true, false, null, -0.05],
  });
  assert.deepEqual(parseJson(`{"a":{},"b":[],"c":${L}}`), { a: {}, b: [], c: 12345678901234567n });
  assert.deepEqual(parseJson(`["a\\"b\\\\c\\u00e9\\n", ${L}]`), ['a"b\\cé\n', 12345678901234567n]);
});

test('a "__proto__" key is an own, ordinary property (no prototype change)', () => {
  const v = parseJson(`{"__proto__":{"polluted":1},"n":${L}}`) as Record<string, unknown>;
  const d = Object.getOwnPropertyDescriptor(v, '__proto__')!;
  assert.deepEqual(d.value, { polluted: 1 });
  assert.deepEqual([d.enumerable, d.writable, d.configurable], [true, true, true]);
  assert.equal(Object.getPrototypeOf(v), Object.prototype);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.deepEqual(Object.keys(v), ['__proto__', 'n']);
});

test('every property a parse writes is an ordinary one: enumerable, writable, configurable', () => {
  const parsed = [parseJson(`{"n":${L},"m":1}`), parseJsonExact(`{"a":1,"b":{"c":${L}}}`)] as Record<string, unknown>[];
  for (const v of parsed) {
    for (const k of Reflect.ownKeys(v)) {
      const d = Object.getOwnPropertyDescriptor(v, k);
      assert.deepEqual([d?.enumerable, d?.writable, d?.configurable], [true, true, true], String(k));
    }
  }
});

test('depth: maxDepth levels accepted, one more refused', () => {
  const nest = (n: number): string => `${'['.repeat(n)}${L}${']'.repeat(n)}`;
  assert.doesNotThrow(() => parseJson(nest(DEFAULT_MAX_DEPTH)));
  assert.throws(
    () => parseJson(nest(DEFAULT_MAX_DEPTH + 1)),
    { name: 'DecodeError', message: `not valid JSON: nesting deeper than ${DEFAULT_MAX_DEPTH} at position ${DEFAULT_MAX_DEPTH + 1}` },
    'at the value too deep',
  );
  assert.doesNotThrow(() => parseJson(nest(3), 3));
  assert.throws(() => parseJson(nest(4), 3), /nesting deeper than 3/);
  const obj = (n: number): string => `${'{"a":'.repeat(n)}${L}${'}'.repeat(n)}`;
  assert.doesNotThrow(() => parseJson(obj(3), 3));
  assert.throws(() => parseJson(obj(4), 3), /nesting deeper than 3/);
});

test('the exact path says what is wrong and where', () => {
  const cases: [string, string][] = [
    [`${L} x`, 'unexpected trailing characters at position 18'],
    [`{${L}:1}`, 'expected a string key at position 1'],
    [`{"a" ${L}}`, "expected ':' at position 5"],
    [`{"a":${L} "b":1}`, "expected ',' or '}' at position 23"], // the offending character's own position
    [`[${L} 1]`, "expected ',' or ']' at position 19"],
    [`["abc, ${L}]`, 'unterminated string at position 1'],
    [`["\\x", ${L}]`, 'bad string at position 1'],
    [`[${L}, nul]`, 'unexpected token at position 20'],
    [`[${L}, -]`, 'unexpected token at position 20'],
    [`[${L},`, 'unexpected token at position 19'],
    [`{"a":${L},`, 'expected a string key at position 23'],
  ];
  for (const [text, what] of cases) {
    assert.throws(
      () => parseJson(text),
      (e: unknown) => e instanceof DecodeError && e.message === `not valid JSON: ${what}`,
      text,
    );
  }
  assert.throws(
    () => parseJson('{"a":1 x'),
    (e: unknown) => e instanceof DecodeError && e.message.startsWith('not valid JSON: '),
    'the fast path says it too',
  );
  assert.throws(
    () => parseJson(new Uint8Array([0x22, 0xff, 0x22])),
    (e: unknown) => e instanceof DecodeError && e.message === 'not valid UTF-8',
  );
});

test('the writer: bigint anywhere, the corners JSON.stringify has, pretty like serde', () => {
  assert.equal(stringifyJson(undefined), 'null');
  assert.equal(stringifyJson({ a: 1n, b: [2n, { c: 3n }] }), '{"a":1,"b":[2,{"c":3}]}');
  assert.equal(
    stringifyJson([NaN, Infinity, -0, true, false, null, undefined, () => 1, Symbol('s'), 1n]),
    '[null,null,0,true,false,null,null,null,null,1]',
  );
  assert.equal(stringifyJson({ u: undefined, f: () => 1, s: Symbol('s'), n: 1n, t: true, f2: false }), '{"n":1,"t":true,"f2":false}');
  assert.equal(stringifyJson({ when: { toJSON: () => 'then' }, n: 1n }), '{"when":"then","n":1}');
  assert.equal(stringifyJson({ a: [], o: {}, n: 1n }), '{"a":[],"o":{},"n":1}');
  assert.equal(stringifyJson({ a: [1n, { b: 'x' }], e: [] }, 2), '{\n  "a": [\n    1,\n    {\n      "b": "x"\n    }\n  ],\n  "e": []\n}');
  assert.equal(stringifyJson([], 2), '[]');
  assert.equal(stringifyJson({}, 2), '{}');
  assert.equal(stringifyJson({ a: 1 }, 2), '{\n  "a": 1\n}', 'pretty without a bigint too');
  assert.throws(
    () =>
      stringifyJson({
        bad: {
          toJSON: () => {
            throw new RangeError('mine');
          },
        },
      }),
    RangeError,
    "an error that is not the bigint TypeError is the caller's",
  );
  assert.deepEqual([...encodeJson({ n: 1n })], [...new TextEncoder().encode('{"n":1}')]);
  assert.equal(new TextDecoder().decode(encodeJson({ n: 1n }, 2)), '{\n  "n": 1\n}');
});

test('the fast path for long integers reads every document exactly as the exact parser does (differential, 3,000 documents and 3,000 damaged ones)', () => {
  let seed = 12345;
  const rnd = (): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const ws = (): string => pick(['', '', ' ', '\n', '\t ', '\r\n  ']);
  const strings = [
    '',
    'x',
    '12345678901234567890',
    ':12345678901234567890',
    ',99999999999999999',
    '[18446744073709551615]',
    'a\\"b',
    '\\\\',
    '\\u0000',
    '\\u00001:0',
    'é',
    '\\n',
    '"'.replace('"', '\\"'),
  ];
  const numbers = [
    L,
    `-${L}`,
    '9007199254740993',
    '9007199254740991',
    '18446744073709551615',
    '0',
    '-0',
    '1.5',
    `${L}.5`,
    `${L}e3`,
    `1e${L}`,
    '-2.5E-3',
    '42',
  ];
  const value = (depth: number): string => {
    const r = rnd();
    if (depth > 4 || r < 0.35) return pick(numbers);
    if (r < 0.55) return `"${pick(strings)}${pick(strings)}"`;
    if (r < 0.62) return pick(['true', 'false', 'null']);
    const n = Math.floor(rnd() * 4);
    if (r < 0.8) return `[${ws()}${Array.from({ length: n }, () => value(depth + 1)).join(`${ws()},${ws()}`)}${ws()}]`;
    return `{${ws()}${Array.from({ length: n }, (_, i) => `"${pick(['a', '__proto__', '1', L, 'k'])}${i}"${ws()}:${ws()}${value(depth + 1)}`).join(`${ws()},${ws()}`)}${ws()}}`;
  };
  const outcome = (f: () => unknown): unknown => {
    try {
      return { value: f() };
    } catch (err) {
      return { error: (err as Error).message, name: (err as Error).name };
    }
  };
  let longs = 0;
  for (let i = 0; i < 3_000; i++) {
    const doc = `${ws()}${value(0)}${ws()}`;
    if (/\d{16,}/.test(doc)) longs++;
    assert.deepEqual(
      outcome(() => parseJson(doc)),
      outcome(() => parseJsonExact(doc)),
      doc,
    );
    // damaged: one character removed, doubled or replaced
    const at = Math.floor(rnd() * doc.length);
    const bad = pick([
      doc.slice(0, at) + doc.slice(at + 1),
      doc.slice(0, at) + doc[at] + doc.slice(at),
      doc.slice(0, at) + pick(['"', ',', ':', '0', '}', ']', '\\']) + doc.slice(at + 1),
    ]);
    // (without a long integer the native parser reads it, with its own words for what is wrong)
    if (LONG_INT_RE.test(bad))
      assert.deepEqual(
        outcome(() => parseJson(bad)),
        outcome(() => parseJsonExact(bad)),
        bad,
      );
  }
  assert.ok(longs > 1_000, `most documents hold a long integer (${longs})`);
  // a string shaped like the fast path's stand-in (without this process's nonce) stays a string
  assert.deepEqual(parseJson(`["\\u0000abc:0", ${L}]`), ['\u0000abc:0', 12345678901234567n]);
  // a long integer under a "__proto__" key is put back as an own property
  const proto = parseJson(`{"__proto__":${L}}`) as Record<string, unknown>;
  assert.equal(Object.getOwnPropertyDescriptor(proto, '__proto__')?.value, 12345678901234567n);
  assert.equal(Object.getPrototypeOf(proto), Object.prototype);
  // digits inside a string beside a long integer are left alone
  assert.deepEqual(parseJson(`{"s":"k:${L},[${L}","n":${L}}`), { s: `k:${L},[${L}`, n: 12345678901234567n });
});

test('the rounded parse and the check for what it may have rounded', () => {
  assert.equal(parseJsonRounded(new TextEncoder().encode('{"a":[1,"x"]}')) !== null, true);
  assert.deepEqual(parseJsonRounded('{"a":[1,"x"]}'), { a: [1, 'x'] });
  assert.throws(
    () => parseJsonRounded('{"a":'),
    (e: unknown) => e instanceof DecodeError && /not valid JSON/.test(e.message),
  );
  assert.throws(
    () => parseJsonRounded(new Uint8Array([0x22, 0xff, 0x22])),
    (e: unknown) => e instanceof DecodeError && /UTF-8/.test(e.message),
  );
  // every integer a number cannot carry exactly is found, wherever it stands; nothing else is
  for (const [text, unsafe] of [
    ['9007199254740991', false],
    ['-9007199254740991', false],
    ['9007199254740992', true],
    ['-9007199254740992', true],
    ['7587884888253033398', true],
    ['1e300', true],
    ['1.5', false],
    ['9007199254740993.5', true], // rounds to an integer: parseJson keeps it a number, which only costs a second parse
    ['0.1', false],
    ['"9007199254740993"', false],
    ['[1,[2,[3,{"a":{"b":[9007199254740993]}}]]]', true],
    ['[1,[2,[3,{"a":{"b":[9007199254740991]}}]]]', false],
    ['{"a":null,"b":true,"c":"x","d":{}}', false],
    ['{"__proto__":{"n":18446744073709551615}}', true],
  ] as const) {
    assert.equal(hasUnsafeInteger(parseJsonRounded(text)), unsafe, text);
    // whenever the check says nothing was rounded, the rounded parse is the exact one
    if (!unsafe) assert.deepEqual(parseJsonRounded(text), parseJson(text), text);
  }
  assert.equal(hasUnsafeInteger(JSON.parse('[[[1]]]'), 3), false);
  assert.equal(hasUnsafeInteger(JSON.parse('[[[[1]]]]'), 3), true, 'deeper than asked: parseJson decides');
  assert.equal(hasUnsafeInteger(JSON.parse('{"a":{"b":{"c":1}}}'), 3), false);
  assert.equal(hasUnsafeInteger(JSON.parse('{"a":{"b":{"c":{"d":1}}}}'), 3), true, 'objects count their depth too');
});
