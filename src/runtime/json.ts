/**
 * JSON that keeps 64-bit integers exact. Worker ids are 63-bit and `JSON.parse` would round them
 * (7587884888253033398 becomes 7587884888253033472), so integers beyond Number.MAX_SAFE_INTEGER
 * are read as `bigint` and `bigint` values are written as bare numbers.
 */
import { DecodeError } from './errors.ts';
import { errorMessage } from '../errors.ts';

export type JsonValue = null | boolean | number | bigint | string | JsonValue[] | { [key: string]: JsonValue };

const decoder = new TextDecoder('utf-8', { fatal: true });
/**
 * An integer literal long enough to be unsafe as a number: 16+ digits not part of a fraction or
 * an exponent (quick pre-check; it may over-match inside strings, which only costs the slow path).
 */
export const LONG_INT_RE = /(?<![.\deE])\d{16,}(?![.\deE])/;
export const DEFAULT_MAX_DEPTH = 64;

/** Parses JSON; integers beyond 2^53 become `bigint`. Throws `DecodeError`. */
export function parseJson(input: string | Uint8Array, maxDepth = DEFAULT_MAX_DEPTH): JsonValue {
  const text = textOf(input);
  if (!LONG_INT_RE.test(text)) return nativeParse(text);
  // the native parser with the long integers set aside, about 4x faster than the exact parser
  // below (bench/decode.bench.ts); anything it cannot take (bad JSON, too deep) goes to the exact
  // parser for its precise error
  const fast = parseWithLongIntegers(text, maxDepth);
  return fast !== FALL_BACK ? fast : new Parser(text, maxDepth).parseDocument();
}

/**
 * Parses JSON with the native parser alone: integers beyond 2^53 come out rounded. For a caller
 * that keeps only some parts of a document: it checks those with `hasUnsafeInteger` and reads the
 * document again with `parseJson` when one holds such an integer, which costs less than looking
 * for long integers in every document (the regular expression of `parseJson` took a quarter of the
 * time of `JSON.parse` on a stats reply). Throws `DecodeError`.
 */
export function parseJsonRounded(input: string | Uint8Array): JsonValue {
  return nativeParse(textOf(input));
}

/** The text of `input`, decoded from strict UTF-8 when given bytes. Throws `DecodeError`. */
export function textOf(input: string | Uint8Array): string {
  if (typeof input === 'string') return input;
  try {
    return decoder.decode(input);
  } catch {
    throw new DecodeError('not valid UTF-8');
  }
}

/** `JSON.parse`, its error a `DecodeError`. */
function nativeParse(text: string): JsonValue {
  try {
    return JSON.parse(text) as JsonValue;
  } catch (err) {
    throw new DecodeError(`not valid JSON: ${errorMessage(err)}`);
  }
}

/**
 * Whether a value from `parseJsonRounded` may differ from what `parseJson` gives: it holds an
 * integer a number cannot carry exactly (a literal beyond 2^53 was rounded; a value such as 1e300
 * that `parseJson` keeps as a number also counts, which only costs a second parse), or it nests
 * deeper than `maxDepth` (where `parseJson` decides).
 */
export function hasUnsafeInteger(v: unknown, maxDepth = DEFAULT_MAX_DEPTH, depth = 0): boolean {
  if (typeof v === 'number') return (v > Number.MAX_SAFE_INTEGER || v < -Number.MAX_SAFE_INTEGER) && Number.isInteger(v);
  if (typeof v !== 'object' || v === null) return false;
  if (depth >= maxDepth) return true;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) if (hasUnsafeInteger(v[i], maxDepth, depth + 1)) return true;
    return false;
  }
  for (const k in v) if (hasUnsafeInteger((v as Record<string, unknown>)[k], maxDepth, depth + 1)) return true;
  return false;
}

/**
 * The exact parser alone (the reference the fast path is checked against; slower). Throws
 * `DecodeError` saying what is wrong and where.
 */
export function parseJsonExact(text: string, maxDepth = DEFAULT_MAX_DEPTH): JsonValue {
  return new Parser(text, maxDepth).parseDocument();
}

/**
 * An integer of 16+ digits standing where a value starts (after `:`, `,` or `[`, kept in group 1,
 * or at the very start) and not followed by a fraction or an exponent. Strings are not skipped:
 * digits inside one can match, but the stand-in written there (a quote, then a backslash outside
 * any string) always makes the text invalid, so such a document falls back to the exact parser
 * and is read right; scanning every string to avoid that costs 5x more on every reply.
 */
const LONG_VALUE_RE = /(^|[:,[])([ \t\n\r]*-?[1-9]\d{15,})(?![.\deE])/g;
/**
 * What a set-aside integer becomes for the native parser: a string no input can hold, because its
 * nonce is drawn afresh by each process and never leaves it.
 */
const NONCE = `${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}:`;
/** The stand-in as the parsed string holds it (starting with U+0000)... */
const MARK = `\u0000${NONCE}`;
/** ...and as written in the JSON text (an escape: a raw control character is not valid JSON). */
const MARK_JSON = `\\u0000${NONCE}`;
const FALL_BACK = Symbol('fall back to the exact parser');

function parseWithLongIntegers(text: string, maxDepth: number): JsonValue | typeof FALL_BACK {
  const longs: bigint[] = [];
  const replaced = text.replace(LONG_VALUE_RE, (token: string, before: string, digits: string) => {
    if (Number.isSafeInteger(Number(digits))) return token;
    longs.push(BigInt(digits));
    return `${before}"${MARK_JSON}${longs.length - 1}"`;
  });
  if (longs.length === 0) return FALL_BACK;
  let v: JsonValue;
  try {
    v = JSON.parse(replaced) as JsonValue;
  } catch {
    return FALL_BACK;
  }
  return restore(v, longs, 0, maxDepth);
}

/** Puts the set-aside integers back, and checks the depth the exact parser would check. */
function restore(v: JsonValue, longs: bigint[], depth: number, maxDepth: number): JsonValue | typeof FALL_BACK {
  if (depth > maxDepth) return FALL_BACK;
  if (typeof v === 'string') {
    return v.charCodeAt(0) === 0 && v.startsWith(MARK) ? (longs[Number(v.slice(MARK.length))] ?? v) : v;
  }
  if (typeof v !== 'object' || v === null) return v;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const x = restore(v[i] ?? null, longs, depth + 1, maxDepth);
      if (x === FALL_BACK) return x;
      v[i] = x;
    }
    return v;
  }
  for (const k of Object.keys(v)) {
    const before = v[k] ?? null;
    const x = restore(before, longs, depth + 1, maxDepth);
    if (x === FALL_BACK) return x;
    // defineProperty: a "__proto__" key stays an own property, as JSON.parse made it
    if (x !== before) Object.defineProperty(v, k, { value: x, enumerable: true, writable: true, configurable: true });
  }
  return v;
}

class Parser {
  private i = 0;
  constructor(
    private readonly s: string,
    private readonly maxDepth: number,
  ) {}

  parseDocument(): JsonValue {
    const v = this.value(0);
    this.ws();
    if (this.i !== this.s.length) this.fail('unexpected trailing characters');
    return v;
  }

  private fail(what: string): never {
    throw new DecodeError(`not valid JSON: ${what} at position ${this.i}`);
  }

  private ws(): void {
    const s = this.s;
    while (this.i < s.length) {
      const c = s.charCodeAt(this.i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) this.i++;
      else break;
    }
  }

  private value(depth: number): JsonValue {
    if (depth > this.maxDepth) this.fail(`nesting deeper than ${this.maxDepth}`);
    this.ws();
    const c = this.s[this.i];
    switch (c) {
      case '{':
        return this.object(depth);
      case '[':
        return this.array(depth);
      case '"':
        return this.string();
      case 't':
        return this.literal('true', true);
      case 'f':
        return this.literal('false', false);
      case 'n':
        return this.literal('null', null);
      default:
        return this.number();
    }
  }

  private literal<T extends JsonValue>(word: string, v: T): T {
    if (this.s.startsWith(word, this.i)) {
      this.i += word.length;
      return v;
    }
    return this.fail('unexpected token');
  }

  private object(depth: number): { [key: string]: JsonValue } {
    const out: { [key: string]: JsonValue } = {};
    this.i++;
    this.ws();
    if (this.s[this.i] === '}') {
      this.i++;
      return out;
    }
    for (;;) {
      this.ws();
      if (this.s[this.i] !== '"') this.fail('expected a string key');
      const key = this.string();
      this.ws();
      if (this.s[this.i] !== ':') this.fail("expected ':'");
      this.i++;
      const v = this.value(depth + 1);
      Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
      this.ws();
      const c = this.s[this.i];
      if (c !== ',' && c !== '}') this.fail("expected ',' or '}'");
      this.i++;
      if (c === '}') return out;
    }
  }

  private array(depth: number): JsonValue[] {
    const out: JsonValue[] = [];
    this.i++;
    this.ws();
    if (this.s[this.i] === ']') {
      this.i++;
      return out;
    }
    for (;;) {
      out.push(this.value(depth + 1));
      this.ws();
      const c = this.s[this.i];
      if (c !== ',' && c !== ']') this.fail("expected ',' or ']'");
      this.i++;
      if (c === ']') return out;
    }
  }

  private string(): string {
    // Find the closing quote, then let JSON.parse handle escapes of that one token.
    const start = this.i;
    let j = start + 1;
    const s = this.s;
    for (;;) {
      if (j >= s.length) this.fail('unterminated string');
      const c = s.charCodeAt(j);
      if (c === 0x22) break;
      if (c === 0x5c) j++;
      j++;
    }
    this.i = j + 1;
    try {
      return JSON.parse(s.slice(start, j + 1)) as string;
    } catch {
      this.i = start; // the error points at the string's opening quote
      return this.fail('bad string');
    }
  }

  private number(): number | bigint {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(this.s.slice(this.i, this.i + 400));
    if (m === null) return this.fail('unexpected token');
    this.i += m[0].length;
    const isInteger = m[2] === undefined && m[3] === undefined;
    if (isInteger) {
      const n = Number(m[0]);
      return Number.isSafeInteger(n) ? n : BigInt(m[0]);
    }
    return Number(m[0]);
  }
}

/**
 * Writes JSON with `bigint` as bare integers. `indent` > 0 pretty-prints like serde_json's
 * `to_string_pretty` (two spaces, `": "`). Non-finite numbers are written as null, as JSON.stringify does.
 */
export function stringifyJson(value: unknown, indent = 0): string {
  if (indent === 0) {
    // the native writer is several times faster and writes the same text, but refuses bigint
    try {
      return JSON.stringify(value) ?? 'null';
    } catch (err) {
      if (!(err instanceof TypeError)) throw err;
    }
  }
  return write(value, indent, '');
}

function write(v: unknown, indent: number, pad: string): string {
  switch (typeof v) {
    case 'bigint':
      return v.toString();
    case 'number':
      return Number.isFinite(v) ? String(v) : 'null';
    case 'string':
      return JSON.stringify(v);
    case 'boolean':
      return v ? 'true' : 'false';
    case 'undefined':
    case 'function':
    case 'symbol':
      return 'null';
    default:
      break;
  }
  if (v === null) return 'null';
  const inner = indent > 0 ? pad + ' '.repeat(indent) : '';
  const nl = indent > 0 ? '\n' : '';
  const sep = indent > 0 ? ': ' : ':';
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]';
    const parts = v.map((x) => inner + write(x, indent, inner));
    return `[${nl}${parts.join(`,${nl}`)}${nl}${indent > 0 ? pad : ''}]`;
  }
  const maybe = v as { toJSON?: () => unknown };
  if (typeof maybe.toJSON === 'function') return write(maybe.toJSON(), indent, pad);
  const parts: string[] = [];
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (x === undefined || typeof x === 'function' || typeof x === 'symbol') continue;
    parts.push(`${inner}${JSON.stringify(k)}${sep}${write(x, indent, inner)}`);
  }
  if (parts.length === 0) return '{}';
  return `{${nl}${parts.join(`,${nl}`)}${nl}${indent > 0 ? pad : ''}}`;
}

const encoder = new TextEncoder();
export function encodeJson(value: unknown, indent = 0): Uint8Array {
  return encoder.encode(stringifyJson(value, indent));
}
