/**
 * Cheap checks of what arrives from the network, before it is parsed (pure): a hit-rate event is
 * a few dozen bytes, so one far larger is refused unread; a stats reply that nests deeper than any
 * form Dynamo writes is refused after one linear scan, never handed to a parser that would build
 * millions of nested arrays (a 4 MB reply nested 2,000,000 deep took 741 MiB to parse).
 */

/** The largest hit-rate event read (one is about 80 bytes; 64-bit ids and large counts stay far below). */
export const MAX_EVENT_BYTES = 4_096;
/** The deepest nesting read in a stats reply: the reply, its endpoints, `data`, and a ForwardPassMetrics form are at most 7 deep. */
export const MAX_STATS_DEPTH = 32;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;

/** Whether the JSON text in `bytes` nests objects and arrays deeper than `max` (strings skipped). */
export function nestsDeeperThan(bytes: Uint8Array, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    // biome-ignore lint/style/noNonNullAssertion: i < bytes.length
    const c = bytes[i]!;
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) inString = true;
    else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > max) return true;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) depth--;
  }
  return false;
}
