/**
 * A fast path for `$SRV.STATS` replies (docs/wire-protocol.md §4) written the way nats.js services
 * and this project's MicroService write them: keys in nats.js's order, no whitespace, strings of
 * printable ASCII without escapes, each endpoint's `data` an object of plain values nested at most
 * `MAX_DATA_DEPTH` objects deep. A regular expression for the reply's head and one per endpoint
 * check the whole text against that grammar (a strict subset of JSON) and find each endpoint's
 * subject and `data` text; only a kept endpoint's `data` is then parsed (about a third of the
 * reply), and its text is what the aggregate republishes (no second writing).
 *
 * A reply in any other form (another writer's key order, whitespace, escapes, exponents, non-ASCII
 * text, deeper data) is not an error here: `readCanonicalReply` answers undefined and the general
 * path (statsReply.ts) reads it, with the same result, only slower. The grammar has no nested
 * quantifier that can match the same text two ways, so a hostile reply cannot make it backtrack
 * more than a few steps per character. Pure.
 */
import { parseJson, stringifyJson, type JsonValue } from '../runtime/json.ts';

/** Objects nested in a `data` the fast path takes (`engine_load_metrics.worker_stats` is 3). */
export const MAX_DATA_DEPTH = 4;

/** Printable ASCII but `"` and `\`: a string's text needing no escape, the same as Latin-1 or UTF-8. */
const CHARS = '[\\x20\\x21\\x23-\\x5b\\x5d-\\x7e]*';
const STR = `"${CHARS}"`;
/** A key that is never an array index (JavaScript would move those first). */
const KEY = '"[A-Za-z_][A-Za-z0-9_]*"';
/**
 * A JSON number without an exponent and with at most 20 integer digits: always finite as a 64-bit
 * float, so every reader of the republished text can hold it (1e400 or a 400-digit integer would
 * fail a strict reader of the whole aggregate; such a reply takes the general path).
 */
const NUM = '-?(?:0|[1-9][0-9]{0,19})(?:\\.[0-9]+)?';
const SCALAR = `(?:${NUM}|${STR}|null|true|false)`;
const ARRAY = `\\[(?:${SCALAR}(?:,${SCALAR})*)?\\]`;

/** An object whose values are `value`: each member followed by a comma before a key, or by the end. */
function object(value: string): string {
  return `\\{(?:${KEY}:${value}(?:,(?=")|(?=\\})))*\\}`;
}

function nested(depth: number): string {
  let value = `(?:${SCALAR}|${ARRAY})`;
  let obj = object(value);
  for (let d = 1; d < depth; d++) {
    value = `(?:${SCALAR}|${ARRAY}|${obj})`;
    obj = object(value);
  }
  return obj;
}

const HEAD = new RegExp(
  `^\\{"type":"io\\.nats\\.micro\\.v1\\.stats_response","name":${STR},"id":"(${CHARS})","version":${STR},"started":${STR}` +
    `(?:,"metadata":${nested(1)})?,"endpoints":\\[`,
  'y',
);
const ENDPOINT = new RegExp(
  `\\{"name":${STR},"subject":"(${CHARS})","queue_group":${STR},"num_requests":${NUM},"num_errors":${NUM},"last_error":${STR},` +
    `"processing_time":${NUM},"average_processing_time":${NUM},"data":(${nested(MAX_DATA_DEPTH)}|null)\\}(?:,(?=\\{)|(\\]\\}$))`,
  'y',
);
const NO_ENDPOINTS = /\]\}$/y;

export interface CanonicalEndpoint {
  subject: string;
  /** The `data` value's JSON text, as received. */
  data: string;
  /** Where `data` starts in the reply's text, which is also its byte offset in the reply (the text is ASCII). */
  dataStart: number;
}

export interface CanonicalReply {
  /** The micro-service instance (the reply's `id`). */
  serviceId: string;
  endpoints: CanonicalEndpoint[];
}

/** The reply's parts when its text is in the canonical form; undefined otherwise (read it the general way). */
export function readCanonicalReply(text: string): CanonicalReply | undefined {
  HEAD.lastIndex = 0;
  const head = HEAD.exec(text);
  if (head === null) return undefined;
  // biome-ignore lint/style/noNonNullAssertion: group 1 is not optional in HEAD: it took part in the match
  const reply: CanonicalReply = { serviceId: head[1]!, endpoints: [] };
  let at = HEAD.lastIndex;
  NO_ENDPOINTS.lastIndex = at;
  if (NO_ENDPOINTS.test(text)) return reply;
  for (;;) {
    ENDPOINT.lastIndex = at;
    const m = ENDPOINT.exec(text);
    if (m === null) return undefined;
    // biome-ignore lint/style/noNonNullAssertion: group 2 is not optional in ENDPOINT
    const data = m[2]!;
    at = ENDPOINT.lastIndex;
    // the data is followed by the endpoint's `}`, then `,` or the reply's `]}`
    const dataEnd = at - (m[3] !== undefined ? 3 : 2);
    // biome-ignore lint/style/noNonNullAssertion: group 1 is not optional in ENDPOINT
    reply.endpoints.push({ subject: m[1]!, data, dataStart: dataEnd - data.length });
    if (m[3] !== undefined) return reply;
  }
}

export interface CanonicalData {
  /** The value, as `parseJson` reads it (integers beyond 2^53 as `bigint`). */
  value: JsonValue;
  /**
   * The text to republish for it: the text received, unless a key appears twice in an object
   * (the value keeps the last; a reader of the text might keep the first), when it is written again.
   */
  json: string;
}

/**
 * Reads a `data` text from `readCanonicalReply` (valid JSON by its grammar). The text received is
 * republished as it is: by the grammar it has no whitespace, no escape and no key JavaScript would
 * reorder, so it reads back as the same value (a number written longer than needed, such as
 * `0.50`, still reads as the same number).
 */
export function readCanonicalData(text: string): CanonicalData {
  let value = JSON.parse(text) as JsonValue;
  const shape = { keys: 0, unsafe: false };
  walk(value, shape);
  if (shape.unsafe) value = parseJson(text); // an integer beyond 2^53 was rounded: read it exactly, as the general path does
  return { value, json: shape.keys === keysInText(text) ? text : stringifyJson(value) };
}

/** Keys in a text of the grammar: each ends with `":` (a string holds no quote). */
function keysInText(text: string): number {
  let n = 0;
  for (let i = text.indexOf('":'); i >= 0; i = text.indexOf('":', i + 2)) n++;
  return n;
}

/** Counts the keys of a parsed value and notes an integer a number cannot hold exactly. */
function walk(v: unknown, shape: { keys: number; unsafe: boolean }): void {
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v) && Number.isInteger(v)) shape.unsafe = true;
    return;
  }
  if (typeof v !== 'object' || v === null) return;
  if (Array.isArray(v)) {
    for (const x of v) walk(x, shape);
    return;
  }
  for (const k in v) {
    shape.keys++;
    walk((v as Record<string, unknown>)[k], shape);
  }
}
