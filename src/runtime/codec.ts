/**
 * Request and response bodies on the request plane. A request is the payload bytes as they are
 * (so `nats req <subject> '{...}'` works for debugging). Every response message starts with one
 * frame-type byte, so that a client knows when a stream is complete and a handler error
 * arrives as an error instead of a hang:
 *
 *   'L' + bytes   the whole response (unary), and the end
 *   'D' + bytes   one chunk of a stream
 *   'E'           end of a stream
 *   'X' + JSON    failure: {"message": "...", "error_type": "generate" | ...}
 */
import { encodeJson, parseJson, type JsonValue } from './json.ts';

export const FRAME_LAST = 0x4c; // 'L'
export const FRAME_DATA = 0x44; // 'D'
export const FRAME_END = 0x45; // 'E'
export const FRAME_ERROR = 0x58; // 'X'

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const END = Uint8Array.of(FRAME_END);

/** Bytes of a request or a response chunk: bytes pass as they are, strings as UTF-8, anything else as JSON. */
export function toBytes(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (typeof value === 'string') return encoder.encode(value);
  return encodeJson(value);
}

export function frame(type: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(payload.length + 1);
  out[0] = type;
  out.set(payload, 1);
  return out;
}

export function endFrame(): Uint8Array {
  return END;
}

export function errorFrame(message: string, errorType: string): Uint8Array {
  return frame(FRAME_ERROR, encodeJson({ message, error_type: errorType }));
}

export type DecodedFrame =
  | { type: 'last' | 'data'; payload: Uint8Array }
  | { type: 'end' }
  | { type: 'error'; message: string; errorType: string }
  | { type: 'invalid' };

export function decodeFrame(msg: Uint8Array): DecodedFrame {
  switch (msg[0]) {
    case FRAME_LAST:
      return { type: 'last', payload: msg.subarray(1) };
    case FRAME_DATA:
      return { type: 'data', payload: msg.subarray(1) };
    case FRAME_END:
      return { type: 'end' };
    case FRAME_ERROR: {
      try {
        const v = parseJson(msg.subarray(1)) as { message?: unknown; error_type?: unknown };
        return {
          type: 'error',
          message: typeof v.message === 'string' ? v.message : 'remote error',
          errorType: typeof v.error_type === 'string' ? v.error_type : 'unknown',
        };
      } catch {
        return { type: 'error', message: 'remote error (undecodable)', errorType: 'unknown' };
      }
    }
    default:
      return { type: 'invalid' };
  }
}

/** One chunk of a response, with decoding helpers. */
export class ResponseChunk {
  constructor(readonly bytes: Uint8Array) {}
  text(): string {
    return decoder.decode(this.bytes);
  }
  /** Parses JSON, keeping 64-bit integers exact. */
  json<T = JsonValue>(): T {
    return parseJson(this.bytes) as T;
  }
}

/**
 * The header of a cancellation (docs/wire-protocol.md §4): an empty message on the endpoint's own
 * subject whose `Dynamo-Cancel` header is the reply subject of the request to cancel.
 */
export const CANCEL_HEADER = 'Dynamo-Cancel';
