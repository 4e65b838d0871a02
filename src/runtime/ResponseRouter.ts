/**
 * Client side of the request plane: one wildcard inbox subscription per runtime (as nats.js's own
 * request does), each request a token under it, and each response a stream of frames routed to
 * the request that owns the token. A request fails, never hangs: on a worker's error frame, on
 * NATS's no-responders status, when its instance is deregistered, or when no frame arrives
 * within the idle timeout.
 */
import { createInbox, headers as natsHeaders, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { CANCEL_HEADER, ResponseChunk, decodeFrame } from './codec.ts';
import {
  CancelledError,
  DynamoError,
  InstanceGoneError,
  NoRespondersError,
  RemoteError,
  RequestTimeoutError,
  ShutdownError,
} from './errors.ts';
import { errorMessage } from '../errors.ts';

/** How long a request may wait for its first or next frame. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
/** How often pending requests are checked for timeouts. */
export const TIMEOUT_SWEEP_INTERVAL_MS = 100;

/** Another instance to send an undelivered request to, or undefined to give up. */
export type Reroute = (failed: bigint) => { instanceId: bigint; subject: string } | undefined;

/** A response in flight: an async iterable of chunks that ends at the end marker. */
export class ResponseStream implements AsyncIterable<ResponseChunk> {
  private readonly queue: ResponseChunk[] = [];
  private error: Error | undefined;
  private done = false;
  private wake: (() => void) | undefined;
  lastActivity = performance.now();
  /** @internal Tells the worker to stop (set by the router). */
  canceller: (() => void) | undefined;
  /** @internal Called once when the stream ends, with its error if it failed. */
  detach: ((error: Error | undefined) => void) | undefined;

  constructor(
    public instanceId: bigint,
    public subject: string,
    readonly timeoutMs: number,
    private readonly onSettled: () => void,
    /** @internal Picks another instance when nobody listens on `subject` (the request was never delivered). */
    readonly reroute?: Reroute,
    /** @internal Kept only when the request may be sent again. */
    readonly payload?: Uint8Array,
  ) {}

  /** @internal */
  push(chunk: ResponseChunk, last: boolean): void {
    if (this.done) return;
    this.lastActivity = performance.now();
    this.queue.push(chunk);
    if (last) this.finish();
    this.wake?.();
  }

  /** @internal */
  finish(error?: Error): void {
    if (this.done) return;
    this.done = true;
    this.error = error;
    this.onSettled();
    this.detach?.(error);
    this.wake?.();
  }

  /**
   * Cancels the request: the worker is told (its handler's signal aborts, its stream stops) and
   * this stream ends with `reason` (a `CancelledError` by default). Nothing happens once it ended.
   */
  cancel(reason: Error = new CancelledError(`request to ${this.subject} cancelled`)): void {
    if (this.done) return;
    this.canceller?.();
    this.finish(reason);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<ResponseChunk> {
    try {
      for (;;) {
        const next = this.queue.shift();
        if (next !== undefined) {
          yield next;
          continue;
        }
        if (this.done) {
          if (this.error !== undefined) throw this.error;
          return;
        }
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
        this.wake = undefined;
      }
    } finally {
      // the caller left early (`break`, `return()`, a throw in its loop): the worker stops too
      if (!this.done) {
        this.canceller?.();
        this.finish();
      }
    }
  }

  /** Every chunk, once the stream has ended. */
  async collect(): Promise<ResponseChunk[]> {
    const out: ResponseChunk[] = [];
    for await (const c of this) out.push(c);
    return out;
  }
}

export class ResponseRouter {
  private readonly prefix: string;
  private readonly pending = new Map<string, ResponseStream>();
  private readonly sub: Subscription;
  private sweeper: NodeJS.Timeout | undefined;
  private seq = 0;
  private closed = false;

  constructor(private readonly nc: NatsConnection) {
    this.prefix = `${createInbox()}.`;
    this.sub = nc.subscribe(`${this.prefix}*`, {
      callback: (err, msg) => {
        if (err === null) this.route(msg);
      },
    });
  }

  /** Sends `payload` to `subject` and returns the response stream. */
  send(
    instanceId: bigint,
    subject: string,
    payload: Uint8Array,
    timeoutMs = DEFAULT_REQUEST_TIMEOUT_MS,
    reroute?: Reroute,
  ): ResponseStream {
    const token = (this.seq++).toString(36);
    const stream = new ResponseStream(instanceId, subject, timeoutMs, () => this.settle(token), reroute, reroute && payload);
    if (this.closed) {
      stream.finish(new ShutdownError('the runtime is shut down'));
      return stream;
    }
    this.pending.set(token, stream);
    stream.canceller = () => this.cancel(stream, this.prefix + token);
    this.sweeper ??= setInterval(() => this.sweep(), TIMEOUT_SWEEP_INTERVAL_MS);
    try {
      this.nc.publish(subject, payload, { reply: this.prefix + token });
    } catch (err) {
      stream.finish(new DynamoError(`cannot send request to ${subject}: ${errorMessage(err)}`));
    }
    return stream;
  }

  /** Tells the worker serving `stream` to stop the request answering on `reply`. */
  private cancel(stream: ResponseStream, reply: string): void {
    const h = natsHeaders();
    h.set(CANCEL_HEADER, reply);
    try {
      this.nc.publish(stream.subject, new Uint8Array(0), { headers: h });
    } catch {
      // the connection is gone: the worker will find nobody to answer
    }
  }

  /** Fails every request sent to `subject` (its instance deregistered). */
  failSubject(subject: string): void {
    for (const s of [...this.pending.values()]) {
      if (s.subject === subject) {
        s.finish(new InstanceGoneError(s.instanceId, `instance ${s.instanceId} (${s.subject}) went away before answering`));
      }
    }
  }

  close(): void {
    this.closed = true;
    for (const s of [...this.pending.values()]) s.finish(new ShutdownError('the runtime is shut down'));
    clearInterval(this.sweeper);
    this.sub.unsubscribe();
  }

  private settle(token: string): void {
    this.pending.delete(token);
    if (this.pending.size === 0 && this.sweeper !== undefined) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }

  private route(msg: Msg): void {
    const stream = this.pending.get(msg.subject.slice(this.prefix.length));
    if (stream === undefined) return; // late frame of a finished request
    const h = msg.headers;
    if (h?.hasError) {
      if (h.code === 503 && this.resend(stream, msg.subject)) return;
      stream.finish(
        h.code === 503
          ? new NoRespondersError(stream.instanceId, `no worker listens on ${stream.subject} (instance ${stream.instanceId} is gone)`)
          : new DynamoError(`NATS status ${h.code} ${h.description} for ${stream.subject}`),
      );
      return;
    }
    const f = decodeFrame(msg.data);
    switch (f.type) {
      case 'last':
        stream.push(new ResponseChunk(f.payload), true);
        break;
      case 'data':
        stream.push(new ResponseChunk(f.payload), false);
        break;
      case 'end':
        stream.finish();
        break;
      case 'error':
        stream.finish(new RemoteError(`${stream.subject}: ${f.message}`, f.errorType));
        break;
      default:
        stream.finish(new DynamoError(`${stream.subject} answered with a message that is not a response frame`));
    }
  }

  /** Sends an undelivered request to another instance, if the stream allows it and one is left. */
  private resend(stream: ResponseStream, reply: string): boolean {
    const next = stream.reroute?.(stream.instanceId);
    if (next === undefined || stream.payload === undefined) return false;
    stream.instanceId = next.instanceId;
    stream.subject = next.subject;
    stream.lastActivity = performance.now();
    try {
      this.nc.publish(next.subject, stream.payload, { reply });
      return true;
    } catch {
      return false;
    }
  }

  private sweep(): void {
    const now = performance.now();
    for (const s of this.pending.values()) {
      if (now - s.lastActivity > s.timeoutMs) {
        s.finish(new RequestTimeoutError(`no response from ${s.subject} within ${s.timeoutMs} ms`));
      }
    }
  }
}
