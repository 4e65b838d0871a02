/**
 * Serving one endpoint: the NATS subscription in queue group `q` on `{service}.{endpoint}-{idHex}`,
 * the request path (decode, call the handler, send the response or its stream and an end
 * marker), the micro-service counters, the observer calls, and the etcd instance key.
 */
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Etcd3 } from 'etcd3';
import { getLogger } from '../log.ts';
import { settleWithin } from '../time.ts';
import { CANCEL_HEADER, FRAME_DATA, FRAME_LAST, endFrame, errorFrame, frame, toBytes } from './codec.ts';
import { errorMessage, UsageError } from '../errors.ts';
import { DecodeError, RegistrationConflictError } from './errors.ts';
import { parseJson, stringifyJson, type JsonValue } from './json.ts';
import { EndpointCounters, QUEUE_GROUP, type MicroService, type StatsHandler } from './MicroService.ts';
import { endpointSubject, instanceKey, microEndpointName, v1InstanceKey, type DiscoveryLayout } from './names.ts';
import type { EndpointErrorType, EndpointIdentity, EndpointObserver } from './observer.ts';

const log = getLogger('runtime::endpoint');

/** What a handler is told about the request besides its body. */
export interface RequestContext {
  /** This worker's instance id (its primary lease id). */
  readonly instanceId: bigint;
  /** The subject the request came in on. */
  readonly subject: string;
  /** The request payload as received (also when the handler gets it decoded as JSON). */
  readonly bytes: Uint8Array;
  /**
   * Aborted when the client cancels the request (an `AbortSignal` of its own, or leaving a stream
   * early) or when the runtime stops waiting for in-flight requests at shutdown.
   */
  readonly signal: AbortSignal;
}

const CANCELLED = Symbol('cancelled');

/**
 * A request handler. It returns one response, or an async iterable of chunks that is streamed.
 * Response values that are `Uint8Array` pass as they are, strings as UTF-8, others as JSON.
 */
export type Handler<Req = JsonValue> = (request: Req, ctx: RequestContext) => unknown;

export interface ServeOptions {
  /**
   * How the request body reaches the handler: `json` parses it (64-bit integers exact; a body that
   * is not JSON is a `deserialization` error), `bytes` hands over the raw payload.
   * @default 'json'
   */
  decode?: 'json' | 'bytes';
  /** Called for every `$SRV.STATS`; its result is the endpoint's `data` (ForwardPassMetrics for LLM workers). */
  statsHandler?: StatsHandler | undefined;
}

function isAsyncIterable(v: unknown): v is AsyncIterable<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function';
}

/** Returned by `decode` for a body that could not be decoded (already answered). */
const UNDECODABLE = Symbol('undecodable');

/** Closes a handler's iterator, ignoring what its `return` throws. */
function closeQuietly(it: AsyncIterator<unknown>): void {
  void it.return?.()?.catch(() => undefined);
}

/** One request's state from its arrival to its last frame. */
class InflightRequest {
  /** Aborted by the client's cancellation. */
  readonly cancel = new AbortController();
  /** The handler's signal: aborted by the client's cancellation, or at shutdown. */
  readonly handlerAbort = new AbortController();
  cancelled = false;
  /** `type: message` of the failure, for the micro-service `last_error`. */
  failure: string | undefined = undefined;
  /** Chunks sent so far when the response is a stream; -1 while it is not one. */
  chunks = -1;
  /** Where it failed. */
  failureType: EndpointErrorType | undefined = undefined;
  /** The model its body named, read only for an observer that measures per model. */
  model: string | undefined = undefined;
  /** `performance.now()` at the first chunk, kept only when `model` is. */
  firstChunkAt = 0;

  constructor(
    /** `performance.now()` at arrival. */
    readonly start: number,
  ) {}
}

/** The longest model name read from a request: a longer one is not a model name. */
export const MAX_MODEL_NAME_LENGTH = 256;

/** The `model` a request body names (a non-empty string of at most `MAX_MODEL_NAME_LENGTH`), if any. */
export function requestModel(request: unknown): string | undefined {
  if (typeof request !== 'object' || request === null || Array.isArray(request) || request instanceof Uint8Array) return undefined;
  const m = (request as { model?: unknown }).model;
  return typeof m === 'string' && m.length > 0 && m.length <= MAX_MODEL_NAME_LENGTH ? m : undefined;
}

export class EndpointServer {
  readonly counters = new EndpointCounters();
  private sub: Subscription | undefined;
  /** The subscription on the next instance id's subject while that id's keys are being written (`listenAlso`). */
  private next: { id: bigint; subject: string; sub: Subscription } | undefined;
  private instanceId = 0n;
  private subjectName = '';
  private inflight = 0;
  private idleWaiters: (() => void)[] = [];
  /**
   * The signal of each request in flight, aborted by the client's cancellation or at shutdown.
   * Kept here rather than combined with a server-wide signal through `AbortSignal.any`: on Node 20
   * every `AbortSignal.any` of a long-lived signal stays in that signal's dependants for ever
   * (nodejs/node#55351), about 85 bytes per request, without bound.
   */
  private readonly handlerAborts = new Set<AbortController>();
  /** Set once shutdown gave up waiting: requests still arriving are aborted at once. */
  private aborting = false;
  private readonly decodeJson: boolean;
  /** Requests in flight by reply subject, for cancellations. */
  private readonly running = new Map<string, AbortController>();

  constructor(
    readonly identity: EndpointIdentity,
    private readonly nc: NatsConnection,
    private readonly service: MicroService,
    private readonly handler: Handler<unknown>,
    private readonly observer: EndpointObserver,
    private readonly opts: ServeOptions,
    /** The etcd layouts it registers in. */
    private readonly layouts: readonly DiscoveryLayout[] = ['instances'],
  ) {
    this.decodeJson = (opts.decode ?? 'json') === 'json';
  }

  get subject(): string {
    return this.subjectName;
  }

  get id(): bigint {
    return this.instanceId;
  }

  get inflightRequests(): number {
    return this.inflight;
  }

  private subscribe(subject: string): Subscription {
    return this.nc.subscribe(subject, {
      queue: QUEUE_GROUP,
      callback: (err, msg) => {
        if (err === null) void this.handle(msg);
      },
    });
  }

  /**
   * Takes requests on the subject of instance `id` as well, before that id's keys are listed
   * (so that no client finds the new subject without a subscriber), while the stats still name
   * the current id, whose keys are still listed. `bind(id)` then makes it the only one.
   */
  listenAlso(id: bigint): void {
    this.next?.sub.unsubscribe();
    const { namespace, component, endpoint } = this.identity;
    const subject = endpointSubject(namespace, component, endpoint, id);
    this.next = { id, subject, sub: this.subscribe(subject) };
  }

  /** Subscribes on the subject derived from `id` (or keeps the one `listenAlso(id)` made), replacing any earlier subscription. */
  bind(id: bigint): void {
    const { namespace, component, endpoint } = this.identity;
    if (this.sub !== undefined) {
      this.sub.unsubscribe();
      this.service.removeEndpoint(microEndpointName(this.subjectName));
    }
    const prepared = this.next;
    this.next = undefined;
    if (prepared !== undefined && prepared.id !== id) prepared.sub.unsubscribe();
    this.instanceId = id;
    this.subjectName = endpointSubject(namespace, component, endpoint, id);
    this.sub = prepared?.id === id ? prepared.sub : this.subscribe(this.subjectName);
    this.service.addEndpoint({
      name: microEndpointName(this.subjectName),
      subject: this.subjectName,
      counters: this.counters,
      statsHandler: this.opts.statsHandler,
    });
  }

  /** The etcd key and value of instance `id` (docs/wire-protocol.md §3), one per layout it registers in. */
  registrations(id: bigint = this.instanceId): { key: string; value: string }[] {
    const { namespace, component, endpoint } = this.identity;
    const subject = endpointSubject(namespace, component, endpoint, id);
    const fields = { component, endpoint, namespace, instance_id: id, transport: { nats_tcp: subject } };
    return this.layouts.map((layout) =>
      layout === 'v1'
        ? // the serde-tagged DiscoveryInstance of Dynamo's key-value discovery
          { key: v1InstanceKey(namespace, component, endpoint, id), value: stringifyJson({ type: 'Endpoint', ...fields }) }
        : { key: instanceKey(namespace, component, endpoint, id), value: stringifyJson(fields, 2) },
    );
  }

  /**
   * Writes the keys of instance `id` (by default the bound one), create-if-absent, bound to
   * `leaseId`, in one transaction. With `replacing` (the id before a lease change), that id's keys
   * are deleted in the same transaction: a watcher sees the old instance leave and the new one
   * arrive at one revision, never both listed, never neither.
   */
  async register(etcd: Etcd3, leaseId: string, id: bigint = this.instanceId, replacing?: bigint): Promise<void> {
    const regs = this.registrations(id);
    const [first, ...rest] = regs;
    if (first === undefined) throw new UsageError(`${this.identity.endpoint}: no discovery layout to register in`);
    const stale = replacing === undefined || replacing === id ? [] : this.registrations(replacing).map((r) => r.key);
    let cmp = etcd.if(first.key, 'Version', '==', 0);
    for (const r of rest) cmp = cmp.and(r.key, 'Version', '==', 0);
    const res = await cmp
      .then(...regs.map((r) => etcd.put(r.key).value(r.value).lease(leaseId)), ...stale.map((k) => etcd.delete().key(k)))
      .commit();
    if (res.succeeded) return;
    // a retried registration finds some keys ours already; any other holder is a conflict
    for (const r of regs) {
      const put = await etcd.if(r.key, 'Version', '==', 0).then(etcd.put(r.key).value(r.value).lease(leaseId)).commit();
      if (!put.succeeded && (await etcd.get(r.key).string()) !== r.value)
        throw new RegistrationConflictError(`etcd key ${r.key} already holds another instance`);
    }
    for (const k of stale) await etcd.delete().key(k);
  }

  /** Stops taking requests: unsubscribes and leaves the micro service. In-flight requests go on. */
  stopAccepting(): void {
    this.sub?.unsubscribe();
    this.sub = undefined;
    this.next?.sub.unsubscribe();
    this.next = undefined;
    this.service.removeEndpoint(microEndpointName(this.subjectName));
  }

  /** Resolves once no request is in flight, or after `timeoutMs` (then handlers are signalled to abort). */
  async drain(timeoutMs: number): Promise<boolean> {
    if (this.inflight === 0) return true;
    const idle = await settleWithin(new Promise<boolean>((resolve) => this.idleWaiters.push(() => resolve(true))), timeoutMs, false);
    if (!idle) {
      log.warn('in-flight requests still running at shutdown; aborting them', { endpoint: this.subjectName, inflight: this.inflight });
      this.aborting = true;
      for (const ac of this.handlerAborts) ac.abort();
    }
    return idle;
  }

  /** The request path. Never throws: every failure is answered, counted and observed. */
  private async handle(msg: Msg): Promise<void> {
    const cancelOf = msg.headers?.get(CANCEL_HEADER);
    if (cancelOf !== undefined && cancelOf !== '') {
      this.running.get(cancelOf)?.abort();
      return; // not a request: nothing answered, nothing counted but the cancellation itself
    }
    const req = this.begin(msg);
    try {
      await this.serve(msg, req);
    } finally {
      this.finish(msg.reply, req);
    }
  }

  /** Counts the request in and gives it its cancellation and its handler's signal. */
  private begin(msg: Msg): InflightRequest {
    this.observer.requestStarted(msg.data.length);
    this.inflight++;
    const req = new InflightRequest(performance.now());
    if (msg.reply) this.running.set(msg.reply, req.cancel);
    if (this.aborting) req.handlerAbort.abort();
    else {
      this.handlerAborts.add(req.handlerAbort);
      req.cancel.signal.addEventListener('abort', () => req.handlerAbort.abort(), { once: true });
    }
    return req;
  }

  /** Decodes, calls the handler and sends what it returned: one response, or a stream. */
  private async serve(msg: Msg, req: InflightRequest): Promise<void> {
    const reply = msg.reply;
    if (!reply || msg.headers?.hasError) {
      this.fail(req, 'invalid_message', new Error(reply ? 'status message' : 'request has no reply subject'));
      log.rateLimited('warn', `invalid-${this.subjectName}`, 'dropped a message that is not a request', { subject: this.subjectName });
      return;
    }
    const request = this.decode(msg, reply, req);
    if (request === UNDECODABLE) return;
    if (this.observer.modelRequestFinished !== undefined) req.model = requestModel(request);
    let result: unknown;
    try {
      result = await this.handler(request, {
        instanceId: this.instanceId,
        subject: this.subjectName,
        bytes: msg.data,
        signal: req.handlerAbort.signal,
      });
    } catch (err) {
      this.fail(req, 'generate', err);
      this.send(reply, errorFrame(errorMessage(err), 'generate'));
      return;
    }
    const stream = isAsyncIterable(result) && !(result instanceof Uint8Array) ? result : undefined;
    if (req.cancel.signal.aborted) {
      req.cancelled = true; // the client went away while the handler ran: nobody to answer
      if (stream !== undefined) closeQuietly(stream[Symbol.asyncIterator]());
      return;
    }
    if (stream === undefined) this.respondOnce(reply, result, req);
    else await this.relayStream(reply, stream[Symbol.asyncIterator](), req);
  }

  /** The request body as the handler takes it; on a body that is not JSON, answers the error. */
  private decode(msg: Msg, reply: string, req: InflightRequest): unknown {
    if (!this.decodeJson) return msg.data;
    try {
      return parseJson(msg.data);
    } catch (err) {
      this.fail(req, 'deserialization', err instanceof DecodeError ? err : new DecodeError(errorMessage(err)));
      this.send(reply, errorFrame(`cannot decode request: ${errorMessage(err)}`, 'deserialization'));
      return UNDECODABLE;
    }
  }

  /** Sends a single response as one last frame. */
  private respondOnce(reply: string, result: unknown, req: InflightRequest): void {
    const payload = toBytes(result ?? null);
    try {
      this.nc.publish(reply, frame(FRAME_LAST, payload));
      this.observer.responseBytes(payload.length);
    } catch (err) {
      this.fail(req, 'publish_response', err);
    }
  }

  /**
   * Sends each chunk as a data frame, then the end frame; a cancellation ends the stream at once,
   * even while the handler waits for its next chunk, and closes the handler's iterator.
   */
  private async relayStream(reply: string, it: AsyncIterator<unknown>, req: InflightRequest): Promise<void> {
    const obs = this.observer;
    req.chunks = 0;
    let last = 0;
    const cancelledAt = new Promise<typeof CANCELLED>((resolve) => {
      if (req.cancel.signal.aborted) resolve(CANCELLED);
      else req.cancel.signal.addEventListener('abort', () => resolve(CANCELLED), { once: true });
    });
    try {
      for (;;) {
        const step = await Promise.race([it.next(), cancelledAt]);
        if (step === CANCELLED) {
          req.cancelled = true;
          closeQuietly(it);
          return;
        }
        if (step.done === true) break;
        const payload = toBytes(step.value);
        try {
          this.nc.publish(reply, frame(FRAME_DATA, payload));
        } catch (err) {
          this.fail(req, 'publish_response', err);
          closeQuietly(it);
          return;
        }
        obs.responseBytes(payload.length);
        if (req.chunks === 0 && req.model !== undefined) req.firstChunkAt = performance.now();
        if (obs.streamChunk !== undefined) {
          const now = performance.now();
          obs.streamChunk((now - req.start) / 1000, req.chunks === 0 ? undefined : (now - last) / 1000);
          last = now;
        }
        req.chunks++;
      }
    } catch (err) {
      this.fail(req, 'response_stream', err);
      this.send(reply, errorFrame(`response stream failed: ${errorMessage(err)}`, 'response_stream'));
      return;
    }
    try {
      this.nc.publish(reply, endFrame());
    } catch (err) {
      this.fail(req, 'publish_final', err);
    }
  }

  /** Records the failure on the request and tells the observer. */
  private fail(req: InflightRequest, type: EndpointErrorType, err: unknown): void {
    req.failure = `${type}: ${errorMessage(err)}`;
    req.failureType = type;
    this.observer.error(type);
  }

  /** Counts the request out: observer, micro-service counters, in-flight, shutdown waiters. */
  private finish(replyTo: string | undefined, req: InflightRequest): void {
    const obs = this.observer;
    if (replyTo) this.running.delete(replyTo);
    this.handlerAborts.delete(req.handlerAbort);
    if (req.cancelled) obs.cancelled?.();
    if (req.chunks >= 0) obs.streamFinished?.(req.chunks);
    const ms = performance.now() - req.start;
    this.counters.record(ms * 1e6, req.failure);
    obs.requestFinished(ms / 1000);
    if (req.model !== undefined)
      obs.modelRequestFinished?.(req.model, {
        durationSeconds: ms / 1000,
        firstChunkSeconds: req.chunks > 0 ? (req.firstChunkAt - req.start) / 1000 : undefined,
        chunks: Math.max(req.chunks, 0),
        errorType: req.failureType ?? (req.cancelled ? 'cancelled' : undefined),
      });
    if (--this.inflight === 0 && this.idleWaiters.length > 0) {
      for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  /** Sends an error frame; a failure to send it is only logged (the request already failed). */
  private send(reply: string, data: Uint8Array): void {
    try {
      this.nc.publish(reply, data);
    } catch (err) {
      log.rateLimited('debug', `send-${this.subjectName}`, 'cannot send error response', { error: errorMessage(err) });
    }
  }
}
