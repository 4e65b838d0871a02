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
const LONG_INT_RE = /(?<![.\deE])\d{16,}(?![.\deE])/;
export const DEFAULT_MAX_DEPTH = 64;

/** Parses JSON; integers beyond 2^53 become `bigint`. Throws `DecodeError`. */
export function parseJson(input: string | Uint8Array, maxDepth = DEFAULT_MAX_DEPTH): JsonValue {
  let text: string;
  try {
    text = typeof input === 'string' ? input : decoder.decode(input);
  } catch {
    throw new DecodeError('not valid UTF-8');
  }
  if (!LONG_INT_RE.test(text)) {
    try {
      return JSON.parse(text) as JsonValue;
    } catch (err) {
      throw new DecodeError(`not valid JSON: ${errorMessage(err)}`);
    }
  }
  return new Parser(text, maxDepth).parseDocument();
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
