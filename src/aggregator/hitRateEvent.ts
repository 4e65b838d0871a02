/**
 * Decoding one KV hit-rate event (docs/wire-protocol.md §5): three readers, cheapest first, that
 * agree on every input. `decodeCanonicalBytes` reads the body exactly as serde writes it straight
 * from the bytes; `decodeCanonicalText` takes the canonical fields with any whitespace;
 * `decodeGeneralEvent` parses any JSON. The first two answer `undefined` ("not mine") for
 * anything else, and the next one decides, with the same rules. Pure.
 */
import { MAX_EVENT_BYTES } from '../runtime/inputBounds.ts';
import { parseJson } from '../runtime/json.ts';

/** Worker ids are 63-bit (etcd lease ids). */
const MAX_WORKER_ID = (1n << 63n) - 1n;

export type EventRejectReason =
  | 'bad_json'
  | 'not_an_object'
  | 'missing_field'
  | 'wrong_type'
  | 'negative'
  | 'not_finite'
  | 'not_integer'
  | 'out_of_range'
  | 'overlap_exceeds_isl'
  | 'bad_worker_id'
  | 'unregistered_worker'
  /** Larger than any hit-rate event (`MAX_EVENT_BYTES`): refused before it is read. */
  | 'too_large'
  /** etcd cannot be consulted now and the id was not registered before: it waits for etcd. */
  | 'unverified_worker'
  /** The aggregator's event queue was full (events arrive faster than it decodes them). */
  | 'overloaded';

export type HitRateEvent = { workerId: bigint; islBlocks: number; overlapBlocks: number };

const textDecoder = new TextDecoder('utf-8', { fatal: true });
/**
 * The canonical fields (serde's order, plain non-negative integers) with JSON's whitespace only
 * (space, tab, CR, LF: `\s` would also take characters JSON refuses, and accept what the general
 * path rejects).
 */
const CANONICAL =
  /^[ \t\n\r]*\{[ \t\n\r]*"worker_id"[ \t\n\r]*:[ \t\n\r]*(0|[1-9][0-9]{0,18})[ \t\n\r]*,[ \t\n\r]*"isl_blocks"[ \t\n\r]*:[ \t\n\r]*(0|[1-9][0-9]{0,14})[ \t\n\r]*,[ \t\n\r]*"overlap_blocks"[ \t\n\r]*:[ \t\n\r]*(0|[1-9][0-9]{0,14})[ \t\n\r]*\}[ \t\n\r]*$/;

const ascii = (x: string): Uint8Array => new TextEncoder().encode(x);
const OPEN_ID = ascii('{"worker_id":');
const THEN_ISL = ascii(',"isl_blocks":');
const THEN_OVERLAP = ascii(',"overlap_blocks":');
const CLOSE = 0x7d; // }
const TEN_15 = 10n ** 15n;

/** Index after `lit` if `b` holds it at `at`, else -1. */
function literal(b: Uint8Array, at: number, lit: Uint8Array): number {
  if (at + lit.length > b.length) return -1;
  for (let k = 0; k < lit.length; k++) if (b[at + k] !== lit[k]) return -1;
  return at + lit.length;
}

/** End of the run of digits at `at` (at most `max`, no leading zero), or -1. */
function digits(b: Uint8Array, at: number, max: number): number {
  let i = at;
  // biome-ignore lint/style/noNonNullAssertion: i < b.length
  while (i < b.length && b[i]! >= 0x30 && b[i]! <= 0x39) i++;
  const n = i - at;
  if (n === 0 || n > max || (n > 1 && b[at] === 0x30)) return -1;
  return i;
}

function numberAt(b: Uint8Array, from: number, to: number): number {
  let v = 0;
  // biome-ignore lint/style/noNonNullAssertion: from <= k < to, a range of digits() inside b
  for (let k = from; k < to; k++) v = v * 10 + (b[k]! - 0x30);
  return v;
}

/**
 * The byte-exact canonical body, exactly as serde writes it (no spaces): read straight from the
 * bytes, with no text decoding, no regular expression and no parser (about 3x cheaper). Anything
 * else returns undefined and takes the general path, with the same rules.
 */
export function decodeCanonicalBytes(b: Uint8Array): HitRateEvent | EventRejectReason | undefined {
  let i = literal(b, 0, OPEN_ID);
  if (i < 0) return undefined;
  const idEnd = digits(b, i, 19);
  if (idEnd < 0) return undefined;
  // up to 15 digits are exact as a number; longer ids in two parts
  const workerId =
    idEnd - i <= 15 ? BigInt(numberAt(b, i, idEnd)) : BigInt(numberAt(b, i, idEnd - 15)) * TEN_15 + BigInt(numberAt(b, idEnd - 15, idEnd));
  i = literal(b, idEnd, THEN_ISL);
  if (i < 0) return undefined;
  const islEnd = digits(b, i, 15);
  if (islEnd < 0) return undefined;
  const isl = numberAt(b, i, islEnd);
  i = literal(b, islEnd, THEN_OVERLAP);
  if (i < 0) return undefined;
  const overlapEnd = digits(b, i, 15);
  if (overlapEnd < 0 || overlapEnd !== b.length - 1 || b[overlapEnd] !== CLOSE) return undefined;
  const overlap = numberAt(b, i, overlapEnd);
  if (workerId > MAX_WORKER_ID) return 'bad_worker_id';
  if (overlap > isl) return 'overlap_exceeds_isl';
  return { workerId, islBlocks: isl, overlapBlocks: overlap };
}

/** The canonical fields in serde's order with any whitespace: decoded by one regular expression, else undefined. */
export function decodeCanonicalText(text: string): HitRateEvent | EventRejectReason | undefined {
  const m = CANONICAL.exec(text);
  if (m === null) return undefined;
  // biome-ignore lint/style/noNonNullAssertion: group 1 is not optional in CANONICAL
  const workerId = BigInt(m[1]!);
  const isl = Number(m[2]);
  const overlap = Number(m[3]);
  if (workerId > MAX_WORKER_ID) return 'bad_worker_id';
  if (overlap > isl) return 'overlap_exceeds_isl';
  return { workerId, islBlocks: isl, overlapBlocks: overlap };
}

/** Any JSON text: the general rules, each rejection with its reason. */
export function decodeGeneralEvent(text: string): HitRateEvent | EventRejectReason {
  let v: unknown;
  try {
    v = parseJson(text);
  } catch {
    return 'bad_json';
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'not_an_object';
  const o = v as Record<string, unknown>;
  if (!('worker_id' in o) || !('isl_blocks' in o) || !('overlap_blocks' in o)) return 'missing_field';
  const id = o.worker_id;
  let workerId: bigint;
  if (typeof id === 'bigint') workerId = id;
  else if (typeof id === 'number' && Number.isSafeInteger(id)) workerId = BigInt(id);
  else return typeof id === 'number' ? 'bad_worker_id' : 'wrong_type';
  if (workerId < 0n || workerId > MAX_WORKER_ID) return 'bad_worker_id';
  const nums: number[] = [];
  for (const key of ['isl_blocks', 'overlap_blocks'] as const) {
    const x = o[key];
    if (typeof x === 'bigint') return 'out_of_range';
    if (typeof x !== 'number') return 'wrong_type';
    if (!Number.isFinite(x)) return 'not_finite';
    if (x < 0) return 'negative';
    if (!Number.isInteger(x)) return 'not_integer';
    if (!Number.isSafeInteger(x)) return 'out_of_range';
    nums.push(x);
  }
  const [isl, overlap] = nums as [number, number];
  if (overlap > isl) return 'overlap_exceeds_isl';
  return { workerId, islBlocks: isl, overlapBlocks: overlap };
}

/** Validates one event body; a reason when it must be rejected. Pure. */
export function decodeHitRateEvent(body: Uint8Array | string): HitRateEvent | EventRejectReason {
  if (body.length > MAX_EVENT_BYTES) return 'too_large'; // refused unread (a string's length is at most its UTF-8 size)
  if (typeof body !== 'string') {
    const fast = decodeCanonicalBytes(body);
    if (fast !== undefined) return fast;
  }
  let text: string;
  try {
    text = typeof body === 'string' ? body : textDecoder.decode(body);
  } catch {
    return 'bad_json';
  }
  return decodeCanonicalText(text) ?? decodeGeneralEvent(text);
}
