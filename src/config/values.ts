/**
 * Parsers for config values. Each returns the parsed value or throws `ValueError` with what is
 * allowed; the loader turns that into one line naming the key, the value and its source.
 */
import { accessSync, constants } from 'node:fs';
import { isIP } from 'node:net';
import { DynamoError } from '../errors.ts';
import { MAX_TIMER_DELAY_MS } from '../time.ts';

/** The longest duration any option takes: 596 h, just under what a Node timer holds (2^31−1 ms). */
export const MAX_DURATION_MS = 596 * 3_600_000;
/** The shortest timeout any option takes. */
export const MIN_TIMEOUT_MS = 1;
if (MAX_DURATION_MS > MAX_TIMER_DELAY_MS) throw new Error('MAX_DURATION_MS must fit a Node timer');

/** A value that does not parse; the loader turns it into a `ConfigError` naming key and source. */
export class ValueError extends DynamoError {}

/** `10s`, `500ms`, `1m`, `2.5` (seconds) → milliseconds, at most `MAX_DURATION_MS`. */
export function parseDuration(v: unknown): number {
  let ms: number | undefined;
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0) ms = Math.round(v * 1000);
  else if (typeof v === 'string') {
    const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(v);
    // biome-ignore lint/style/noNonNullAssertion: the pattern admits only the four units of the table
    if (m) ms = Math.round(Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? 's']!);
  }
  if (ms === undefined) throw new ValueError('is not a duration; use e.g. 10s, 500ms, 1m or a number of seconds');
  if (ms > MAX_DURATION_MS)
    throw new ValueError(`is too long; use at most ${formatDuration(MAX_DURATION_MS)} (a number alone means seconds)`);
  return ms;
}

/** Milliseconds as a user writes a duration: `500ms`, `2.5s`, `1m`, `2h`. */
export function formatDuration(ms: number): string {
  if (ms % 1000 !== 0 && ms < 1000) return `${ms}ms`;
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000}m`;
  return `${ms / 1000}s`;
}

/** HTTP header names (RFC 9110 tokens) and values (visible characters, spaces and tabs). */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** Headers as `key=value,…` or a mapping, each name and value valid on the wire. */
export function parseHeaders(v: unknown): Record<string, string> {
  // nothing of the value is quoted: a header's name or value may hold a credential
  const out = parseKeyValues(v, false);
  for (const [i, [k, x]] of Object.entries(out).entries()) {
    if (!HEADER_NAME.test(k))
      throw new ValueError(`has a header name with a character no header name may have (header ${i + 1}, not shown)`);
    if (!HEADER_VALUE.test(x))
      throw new ValueError(`has a value for ${k} with a control character (a newline?), which no header may carry`);
  }
  return out;
}

/** A duration of at least `minMs`. */
export function parseDurationAtLeast(minMs: number): (v: unknown) => number {
  return (v) => {
    const d = parseDuration(v);
    if (d < minMs) throw new ValueError(`is too short; use at least ${formatDuration(minMs)}`);
    return d;
  };
}

/** A non-negative integer count of milliseconds (the OTEL_* variables' unit), at most `MAX_DURATION_MS`. */
export function parseMillis(v: unknown): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < 0) throw new ValueError('is not a whole number of milliseconds');
  if (n > MAX_DURATION_MS) throw new ValueError(`is too long; use at most ${MAX_DURATION_MS} ms`);
  return n;
}

export function parseInteger(v: unknown, min: number, max: number): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*-?\d+\s*$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n)) throw new ValueError(`is not a whole number; use ${min}..${max}`);
  if (n < min || n > max) throw new ValueError(`is out of range; use ${min}..${max}`);
  return n;
}

/** A finite number (decimals allowed) within `min..max`. */
export function parseNumber(v: unknown, min: number, max: number): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/.test(v) ? Number(v) : NaN;
  if (!Number.isFinite(n)) throw new ValueError(`is not a number; use ${min}..${max}`);
  if (n < min || n > max) throw new ValueError(`is out of range; use ${min}..${max}`);
  return n;
}

export function parseBool(v: unknown): boolean {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string') {
    if (/^(1|true|yes|on)$/i.test(v.trim())) return true;
    if (/^(0|false|no|off)$/i.test(v.trim())) return false;
  }
  throw new ValueError('is not a boolean; use true or false');
}

export function parseString(v: unknown, allowEmpty = false): string {
  if (typeof v === 'number') v = String(v);
  if (typeof v !== 'string') throw new ValueError('is not a string');
  if (!allowEmpty && v.trim() === '') throw new ValueError('is empty');
  return v;
}

/** A label value or name given on the command line: a string without control characters. */
export function parseLabelValue(v: unknown, allowEmpty = false): string {
  const s = parseString(v, allowEmpty);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (/[\x00-\x1f\x7f]/.test(s)) throw new ValueError('has a control character (a newline?); use printable text');
  return s;
}

export function parseEnum<T extends string>(v: unknown, allowed: readonly T[]): T {
  const s = typeof v === 'string' ? v.trim().toLowerCase() : v;
  if (typeof s === 'string' && (allowed as readonly string[]).includes(s)) return s as T;
  throw new ValueError(`is not allowed; use one of ${allowed.join(', ')}`);
}

/** A comma list (or YAML list) of allowed words, each at most once. */
export function parseEnumList<T extends string>(v: unknown, allowed: readonly T[]): T[] {
  const items = Array.isArray(v) ? v : typeof v === 'string' ? v.split(',') : undefined;
  if (items === undefined) throw new ValueError(`is not a list; use a comma-separated subset of ${allowed.join(', ')}`);
  const out: T[] = [];
  for (const item of items) {
    const word = typeof item === 'string' ? item.trim().toLowerCase() : item;
    if (word === '') continue;
    if (typeof word !== 'string' || !(allowed as readonly string[]).includes(word)) {
      throw new ValueError(`has ${JSON.stringify(item)}, which is not allowed; use a comma-separated subset of ${allowed.join(', ')}`);
    }
    if (!out.includes(word as T)) out.push(word as T);
  }
  if (out.length === 0) throw new ValueError(`is empty; use a comma-separated subset of ${allowed.join(', ')}`);
  return out;
}

/** An IPv4 or IPv6 literal (the seed's rule: no host names). */
export function parseIp(v: unknown): string {
  const s = typeof v === 'string' ? v.trim().replace(/^\[(.*)\]$/, '$1') : '';
  if (isIP(s) === 0) throw new ValueError('is not an IPv4 or IPv6 address; use e.g. 0.0.0.0, 127.0.0.1 or ::');
  return s;
}

/** `host:port`, with an IPv6 literal in brackets. */
export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** An http(s) URL without trailing slash. */
export function parseHttpUrl(v: unknown): string {
  const s = typeof v === 'string' ? v.trim() : '';
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw new ValueError('is not a URL; use e.g. http://localhost:4318');
  }
  // (an http(s) URL without a host is no URL at all: the WHATWG parser refuses `http://` and `http://:80`)
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ValueError('must be an http:// or https:// URL');
  return s.replace(/\/+$/, '');
}

/** A path to a file this process can read (checked when the options load). */
export function parseReadableFile(v: unknown): string {
  const s = parseString(v);
  try {
    accessSync(s, constants.R_OK);
  } catch {
    throw new ValueError('is not a readable file');
  }
  return s;
}

/** A list of URLs (`a,b`), each with one of `schemes`. */
export function parseUrlList(v: unknown, schemes: readonly string[]): string[] {
  const items = Array.isArray(v) ? v : typeof v === 'string' ? v.split(',') : [];
  const out = items.map((x) => (typeof x === 'string' ? x.trim() : '')).filter((x) => x !== '');
  if (out.length === 0) throw new ValueError('is empty');
  for (const s of out) {
    let u: URL;
    try {
      u = new URL(s);
    } catch {
      throw new ValueError(`has ${JSON.stringify(s)}, which is not a URL`);
    }
    if (!schemes.includes(u.protocol.slice(0, -1))) throw new ValueError(`has ${JSON.stringify(s)}; use ${schemes.join(' or ')} URLs`);
    if (u.hostname === '') throw new ValueError(`has ${JSON.stringify(s)}, which names no host`);
  }
  return out;
}

/**
 * `key=value,key2=value2` (the OTEL_* header and resource attribute format, values
 * percent-decoded), or a YAML mapping. `quote` says whether an error may quote the item it
 * refuses: not for headers, where an item that is not `key=value` may be a credential
 * (`authorization: Bearer …`).
 */
export function parseKeyValues(v: unknown, quote = true): Record<string, string> {
  const out: Record<string, string> = {};
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v)) {
      if (typeof x !== 'string' && typeof x !== 'number' && typeof x !== 'boolean') throw new ValueError(`has a non-scalar value for ${k}`);
      out[k] = String(x);
    }
    return out;
  }
  if (Array.isArray(v)) {
    for (const item of v) Object.assign(out, parseKeyValues(item, quote));
    return out;
  }
  if (typeof v !== 'string') throw new ValueError('is not a list of key=value pairs');
  const parts = v.split(',');
  for (const [i, part] of parts.entries()) {
    if (part.trim() === '') continue;
    const eq = part.indexOf('=');
    if (eq <= 0)
      throw new ValueError(
        quote
          ? `has ${JSON.stringify(part.trim())}, which is not key=value`
          : `has an item that is not key=value (item ${i + 1} of ${parts.length}, not shown)`,
      );
    let value: string;
    try {
      value = decodeURIComponent(part.slice(eq + 1).trim());
    } catch {
      throw new ValueError(
        quote
          ? `has a badly percent-encoded value for ${part.slice(0, eq).trim()}`
          : `has a badly percent-encoded value (item ${i + 1} of ${parts.length}, not shown)`,
      );
    }
    out[part.slice(0, eq).trim()] = value;
  }
  return out;
}
