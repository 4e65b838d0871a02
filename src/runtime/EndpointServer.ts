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
import { errorMessage } from '../errors.ts';
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

export class EndpointServer {
  readonly counters = new EndpointCounters();
  private sub: Subscription | undefined;
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

  /** Subscribes on the subject derived from `id`, replacing any earlier subscription. */
  bind(id: bigint): void {
    const { namespace, component, endpoint } = this.identity;
    if (this.sub !== undefined) {
      this.sub.unsubscribe();
      this.service.removeEndpoint(microEndpointName(this.subjectName));
    }
    this.instanceId = id;
    this.subjectName = endpointSubject(namespace, component, endpoint, id);
    this.sub = this.nc.subscribe(this.subjectName, {
      queue: QUEUE_GROUP,
      callback: (err, msg) => {
        if (err === null) void this.handle(msg);
      },
    });
    this.service.addEndpoint({
      name: microEndpointName(this.subjectName),
      subject: this.subjectName,
      counters: this.counters,
      statsHandler: this.opts.statsHandler,
    });
  }

  /** The etcd key and value of this instance (docs/wire-protocol.md §3), one per layout it registers in. */
  registrations(): { key: string; value: string }[] {
    const { namespace, component, endpoint } = this.identity;
    const fields = { component, endpoint, namespace, instance_id: this.instanceId, transport: { nats_tcp: this.subjectName } };
    return this.layouts.map((layout) =>
      layout === 'v1'
        ? // the serde-tagged DiscoveryInstance of Dynamo's key-value discovery
          { key: v1InstanceKey(namespace, component, endpoint, this.instanceId), value: stringifyJson({ type: 'Endpoint', ...fields }) }
        : { key: instanceKey(namespace, component, endpoint, this.instanceId), value: stringifyJson(fields, 2) },
    );
  }

  /** Writes the instance keys, create-if-absent, bound to `leaseId`, in one transaction. */
  async register(etcd: Etcd3, leaseId: string): Promise<void> {
    const regs = this.registrations();
    let cmp = etcd.if(regs[0]!.key, 'Version', '==', 0);
    for (const r of regs.slice(1)) cmp = cmp.and(r.key, 'Version', '==', 0);
    const res = await cmp.then(...regs.map((r) => etcd.put(r.key).value(r.value).lease(leaseId))).commit();
    if (res.succeeded) return;
    // a retried registration finds some keys ours already; any other holder is a conflict
    for (const r of regs) {
      const put = await etcd.if(r.key, 'Version', '==', 0).then(etcd.put(r.key).value(r.value).lease(leaseId)).commit();
      if (!put.succeeded && (await etcd.get(r.key).string()) !== r.value)
        throw new RegistrationConflictError(`etcd key ${r.key} already holds another instance`);
    }
  }

  /** Stops taking requests: unsubscribes and leaves the micro service. In-flight requests go on. */
  stopAccepting(): void {
    this.sub?.unsubscribe();
    this.sub = undefined;
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
    const start = performance.now();
    const obs = this.observer;
    obs.requestStarted(msg.data.length);
    this.inflight++;
    const cancel = new AbortController();
    const replyTo = msg.reply;
    if (replyTo) this.running.set(replyTo, cancel);
    // the handler's signal: aborted by the client's cancellation, or at shutdown
    const handlerAbort = new AbortController();
    const signal = handlerAbort.signal;
    if (this.aborting) handlerAbort.abort();
    else {
      this.handlerAborts.add(handlerAbort);
      cancel.signal.addEventListener('abort', () => handlerAbort.abort(), { once: true });
    }
    let cancelled = false;
    let failure: EndpointErrorType | undefined;
    let failureMessage = '';
    /** Set once the response is a stream: how many chunks went out. */
    let streamed: (() => number) | undefined;
    const fail = (type: EndpointErrorType, err: unknown): void => {
      failure = type;
      failureMessage = `${type}: ${errorMessage(err)}`;
      obs.error(type);
    };
    try {
      const reply = msg.reply;
      if (!reply || msg.headers?.hasError) {
        fail('invalid_message', new Error(reply ? 'status message' : 'request has no reply subject'));
        log.rateLimited('warn', `invalid-${this.subjectName}`, 'dropped a message that is not a request', { subject: this.subjectName });
        return;
      }
      let request: unknown = msg.data;
      if (this.decodeJson) {
        try {
          request = parseJson(msg.data);
        } catch (err) {
          fail('deserialization', err instanceof DecodeError ? err : new DecodeError(errorMessage(err)));
          this.send(reply, errorFrame(`cannot decode request: ${errorMessage(err)}`, 'deserialization'));
          return;
        }
      }
      let result: unknown;
      try {
        result = await this.handler(request, { instanceId: this.instanceId, subject: this.subjectName, bytes: msg.data, signal });
      } catch (err) {
        fail('generate', err);
        this.send(reply, errorFrame(errorMessage(err), 'generate'));
        return;
      }
      if (cancel.signal.aborted) {
        cancelled = true; // the client went away while the handler ran: nobody to answer
        if (isAsyncIterable(result) && !(result instanceof Uint8Array))
          void result[Symbol.asyncIterator]()
            .return?.()
            ?.catch(() => undefined);
        return;
      }
      if (!isAsyncIterable(result) || result instanceof Uint8Array) {
        const payload = toBytes(result ?? null);
        try {
          this.nc.publish(reply, frame(FRAME_LAST, payload));
          obs.responseBytes(payload.length);
        } catch (err) {
          fail('publish_response', err);
        }
        return;
      }
      let last = 0;
      let chunks = 0;
      streamed = () => chunks;
      const it = result[Symbol.asyncIterator]();
      // a cancellation ends the stream at once, even while the handler waits for its next chunk
      const cancelledAt = new Promise<typeof CANCELLED>((resolve) => {
        if (cancel.signal.aborted) resolve(CANCELLED);
        else cancel.signal.addEventListener('abort', () => resolve(CANCELLED), { once: true });
      });
      try {
        for (;;) {
          const step = await Promise.race([it.next(), cancelledAt]);
          if (step === CANCELLED) {
            cancelled = true;
            void it.return?.()?.catch(() => undefined); // closes the handler's generator
            return;
          }
          if (step.done === true) break;
          const chunk: unknown = step.value;
          const payload = toBytes(chunk);
          try {
            this.nc.publish(reply, frame(FRAME_DATA, payload));
          } catch (err) {
            fail('publish_response', err);
            void it.return?.()?.catch(() => undefined); // closes the handler's iterator
            return;
          }
          obs.responseBytes(payload.length);
          if (obs.streamChunk !== undefined) {
            const now = performance.now();
            obs.streamChunk((now - start) / 1000, chunks === 0 ? undefined : (now - last) / 1000);
            last = now;
          }
          chunks++;
        }
      } catch (err) {
        fail('response_stream', err);
        this.send(reply, errorFrame(`response stream failed: ${errorMessage(err)}`, 'response_stream'));
        return;
      }
      try {
        this.nc.publish(reply, endFrame());
      } catch (err) {
        fail('publish_final', err);
      }
    } finally {
      if (replyTo) this.running.delete(replyTo);
      this.handlerAborts.delete(handlerAbort);
      if (cancelled) obs.cancelled?.();
      if (streamed !== undefined) obs.streamFinished?.(streamed());
      const ms = performance.now() - start;
      this.counters.record(ms * 1e6, failure === undefined ? undefined : failureMessage);
      obs.requestFinished(ms / 1000);
      if (--this.inflight === 0 && this.idleWaiters.length > 0) {
        for (const w of this.idleWaiters.splice(0)) w();
      }
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
