/**
 * Messages of any size on core NATS (docs/wire-protocol.md §6, "Large aggregates"). A message that
 * fits the server's `max_payload` goes out as it is, exactly as before; a larger one is gzipped
 * (`Content-Encoding: gzip`), and if it still does not fit it is cut into numbered parts that
 * carry `Dynamo-Message-Id`, `Dynamo-Part` (0-based) and `Dynamo-Parts`. `MessageAssembler`
 * (pure) and `subscribeLarge` put any of the three forms back together, bounded in memory and
 * time: an incomplete message is dropped after `DEFAULT_ASSEMBLY_TIMEOUT_MS`, counted.
 */
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { gunzipSync, gzip as gzipCb, constants as zlibConstants } from 'node:zlib';
import { headers as natsHeaders, type MsgHdrs, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { errorMessage } from '../errors.ts';

const gzip = promisify(gzipCb);

export const HEADER_ENCODING = 'Content-Encoding';
export const HEADER_MESSAGE_ID = 'Dynamo-Message-Id';
export const HEADER_PART = 'Dynamo-Part';
export const HEADER_PARTS = 'Dynamo-Parts';
/** Room kept in each part for the NATS header block. */
export const PART_HEADER_ROOM_BYTES = 512;
/** gzip level: fast (a 10,000-worker aggregate is a few MB of very repetitive JSON). */
export const LARGE_MESSAGE_GZIP_LEVEL = zlibConstants.Z_BEST_SPEED;
/** An incomplete message is dropped after this. */
export const DEFAULT_ASSEMBLY_TIMEOUT_MS = 30_000;
/** Incomplete messages held at once (the oldest is dropped beyond). */
export const DEFAULT_MAX_ASSEMBLING = 4;
/** Largest message (after gunzip) a consumer accepts. */
export const DEFAULT_MAX_MESSAGE_BYTES = 256 * 1024 * 1024;
/** Most parts one message may announce. */
export const MAX_PARTS = 100_000;

/** How a message went out. */
export type LargeForm = 'plain' | 'gzip' | 'parts';

export interface LargeSend {
  form: LargeForm;
  /** Bytes before compression. */
  bytes: number;
  /** Bytes on the wire (all parts). */
  wireBytes: number;
  parts: number;
}

export interface OutgoingPart {
  data: Uint8Array;
  headers: Record<string, string> | undefined;
}

/**
 * The messages that carry `body` under `maxPayload` (pure but for the gzip, which runs off the
 * event loop): the body itself when it fits, else gzipped, else gzipped parts.
 */
export async function splitLarge(
  body: Uint8Array,
  maxPayload: number,
  messageId: string = randomUUID(),
): Promise<{ form: LargeForm; parts: OutgoingPart[] }> {
  if (body.length <= maxPayload) return { form: 'plain', parts: [{ data: body, headers: undefined }] };
  const gz = new Uint8Array(await gzip(body, { level: LARGE_MESSAGE_GZIP_LEVEL }));
  const room = maxPayload - PART_HEADER_ROOM_BYTES;
  if (room <= 0) throw new RangeError(`max_payload ${maxPayload} leaves no room for a part`);
  if (gz.length <= room) return { form: 'gzip', parts: [{ data: gz, headers: { [HEADER_ENCODING]: 'gzip' } }] };
  const n = Math.ceil(gz.length / room);
  const parts: OutgoingPart[] = [];
  for (let i = 0; i < n; i++) {
    parts.push({
      data: gz.subarray(i * room, Math.min(gz.length, (i + 1) * room)),
      headers: { [HEADER_ENCODING]: 'gzip', [HEADER_MESSAGE_ID]: messageId, [HEADER_PART]: String(i), [HEADER_PARTS]: String(n) },
    });
  }
  return { form: 'parts', parts };
}

/** Publishes `body` on `subject` in whichever form fits the connection's `max_payload`. */
export async function publishLarge(nc: NatsConnection, subject: string, body: Uint8Array): Promise<LargeSend> {
  const limit = nc.info?.max_payload ?? Number.POSITIVE_INFINITY;
  const { form, parts } = await splitLarge(body, limit);
  let wireBytes = 0;
  for (const p of parts) {
    let h: MsgHdrs | undefined;
    if (p.headers !== undefined) {
      h = natsHeaders();
      for (const [k, v] of Object.entries(p.headers)) h.set(k, v);
    }
    nc.publish(subject, p.data, h === undefined ? undefined : { headers: h });
    wireBytes += p.data.length;
  }
  return { form, bytes: body.length, wireBytes, parts: parts.length };
}

/** Why a received message or part was not delivered. */
export type AssemblyDropReason = 'bad_part_headers' | 'timeout' | 'evicted' | 'too_large' | 'bad_gzip' | 'inconsistent_parts';

export interface AssemblerOptions {
  timeoutMs?: number;
  maxAssembling?: number;
  maxMessageBytes?: number;
  now?: () => number;
}

/** Header lookup as NATS gives it (`msg.headers?.get`). */
export type HeaderGetter = (name: string) => string | undefined;

interface Pending {
  parts: (Uint8Array | undefined)[];
  received: number;
  bytes: number;
  startedAt: number;
  gzip: boolean;
}

/** Puts messages of any of the three forms back together. Pure: no I/O, time injected. */
export class MessageAssembler {
  private readonly pending = new Map<string, Pending>();
  readonly dropped = new Map<AssemblyDropReason, number>();
  private readonly timeoutMs: number;
  private readonly maxAssembling: number;
  private readonly maxBytes: number;
  private readonly now: () => number;

  constructor(opts: AssemblerOptions = {}) {
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_ASSEMBLY_TIMEOUT_MS;
    this.maxAssembling = opts.maxAssembling ?? DEFAULT_MAX_ASSEMBLING;
    this.maxBytes = opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.now = opts.now ?? Date.now;
  }

  private drop(reason: AssemblyDropReason): undefined {
    this.dropped.set(reason, (this.dropped.get(reason) ?? 0) + 1);
    return undefined;
  }

  /** Incomplete messages being held. */
  get assembling(): number {
    return this.pending.size;
  }

  /** Takes one received message; returns the whole body once it is complete. */
  add(data: Uint8Array, header: HeaderGetter | undefined): Uint8Array | undefined {
    this.expire();
    const encoding = header?.(HEADER_ENCODING);
    const gz = encoding?.toLowerCase() === 'gzip';
    const id = header?.(HEADER_MESSAGE_ID);
    if (id === undefined || id === '') return gz ? this.gunzip(data) : data;
    const part = Number(header?.(HEADER_PART));
    const parts = Number(header?.(HEADER_PARTS));
    if (!Number.isInteger(part) || !Number.isInteger(parts) || parts < 1 || parts > MAX_PARTS || part < 0 || part >= parts)
      return this.drop('bad_part_headers');
    let p = this.pending.get(id);
    if (p === undefined) {
      if (this.pending.size >= this.maxAssembling) {
        const oldest = this.pending.keys().next().value as string;
        this.pending.delete(oldest);
        this.drop('evicted');
      }
      p = { parts: new Array<Uint8Array | undefined>(parts), received: 0, bytes: 0, startedAt: this.now(), gzip: gz };
      this.pending.set(id, p);
    }
    if (p.parts.length !== parts || p.gzip !== gz) {
      this.pending.delete(id);
      return this.drop('inconsistent_parts');
    }
    if (p.parts[part] !== undefined) return undefined; // a duplicate part: the first is kept
    p.bytes += data.length;
    if (p.bytes > this.maxBytes) {
      this.pending.delete(id);
      return this.drop('too_large');
    }
    p.parts[part] = data;
    p.received++;
    if (p.received < parts) return undefined;
    this.pending.delete(id);
    const whole = new Uint8Array(p.bytes);
    let at = 0;
    for (const chunk of p.parts as Uint8Array[]) {
      whole.set(chunk, at);
      at += chunk.length;
    }
    return gz ? this.gunzip(whole) : whole;
  }

  /** Drops messages incomplete for longer than the timeout. */
  expire(): void {
    const now = this.now();
    for (const [id, p] of this.pending) {
      if (now - p.startedAt < this.timeoutMs) break; // insertion order is age order
      this.pending.delete(id);
      this.drop('timeout');
    }
  }

  private gunzip(data: Uint8Array): Uint8Array | undefined {
    try {
      return new Uint8Array(gunzipSync(data, { maxOutputLength: this.maxBytes }));
    } catch (err) {
      return this.drop(/maxOutputLength|buffer/i.test(errorMessage(err)) ? 'too_large' : 'bad_gzip');
    }
  }
}

/**
 * Calls `handler` with each whole message on `subject`, whatever form it came in. Messages that
 * cannot be put together are counted in the returned assembler's `dropped`.
 */
export function subscribeLarge(
  nc: NatsConnection,
  subject: string,
  handler: (body: Uint8Array) => void,
  opts: AssemblerOptions = {},
): { subscription: Subscription; assembler: MessageAssembler } {
  const assembler = new MessageAssembler(opts);
  const subscription = nc.subscribe(subject, {
    callback: (err, msg) => {
      if (err !== null) return;
      const h = msg.headers;
      const body = assembler.add(msg.data, h === undefined ? undefined : (name) => (h.has(name) ? h.get(name) : undefined));
      if (body !== undefined) handler(body);
    },
  });
  return { subscription, assembler };
}
