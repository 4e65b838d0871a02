/**
 * A client of one endpoint: the instances etcd lists, and requests to a random, the next
 * (round robin) or a chosen instance. Requests to an instance that deregisters fail at once.
 */
import { toBytes, type ResponseChunk } from './codec.ts';
import {
  CancelledError,
  NoInstancesError,
  NoRespondersError,
  InstanceGoneError,
  RemoteError,
  RequestTimeoutError,
  ShutdownError,
} from './errors.ts';
import type { Instance, InstanceDiscovery } from './InstanceDiscovery.ts';
import type { ClientErrorType, ClientObserver, EndpointIdentity } from './observer.ts';
import { ResponseStream, type ResponseRouter, type Reroute } from './ResponseRouter.ts';

export interface RequestOptions {
  /** How long to wait for the first and for each next chunk. @default DEFAULT_REQUEST_TIMEOUT_MS */
  timeoutMs?: number;
  /** Cancels the request when aborted: the worker is told, the stream fails with `CancelledError`. */
  signal?: AbortSignal;
}

/** The `error_type` of a client failure. */
export function clientErrorType(err: Error): ClientErrorType {
  if (err instanceof RequestTimeoutError) return 'timeout';
  if (err instanceof NoRespondersError) return 'no_responders';
  if (err instanceof InstanceGoneError) return 'instance_gone';
  if (err instanceof NoInstancesError) return 'no_instances';
  if (err instanceof RemoteError) return 'remote_error';
  if (err instanceof CancelledError) return 'cancelled';
  if (err instanceof ShutdownError) return 'shutdown';
  return 'other';
}

/** An instance served over NATS: the only kind this client can send to. */
export type NatsInstance = Instance & { readonly subject: string };

function overNats(inst: Instance): inst is NatsInstance {
  return inst.subject !== undefined;
}

export class Client {
  private rr = 0;
  private cached: { version: number; list: NatsInstance[] } | undefined;
  private readonly onRemoved = (inst: Instance): void => {
    if (inst.endpoint === this.identity.endpoint && overNats(inst)) this.router.failSubject(inst.subject);
  };

  constructor(
    readonly identity: EndpointIdentity,
    private readonly router: ResponseRouter,
    private readonly discovery: InstanceDiscovery,
    private readonly defaultTimeoutMs: number,
    /** What the process's instrumentation measures of this endpoint's requests, if anything. */
    private readonly observer?: ClientObserver,
  ) {
    discovery.on('removed', this.onRemoved);
  }

  /** The endpoint's instances served over NATS, ordered by id. */
  instances(): NatsInstance[] {
    return [...this.sorted()];
  }

  /** The sorted list, recomputed only when discovery changed; shared, never handed out. */
  private sorted(): readonly NatsInstance[] {
    const version = this.discovery.version;
    if (this.cached?.version !== version) {
      const list = this.discovery
        .list(this.identity.endpoint)
        .filter(overNats)
        .sort((a, b) => (a.instanceId < b.instanceId ? -1 : a.instanceId > b.instanceId ? 1 : 0));
      this.cached = { version, list };
    }
    return this.cached.list;
  }

  instanceIds(): bigint[] {
    return this.sorted().map((i) => i.instanceId);
  }

  /** Waits until at least `count` instances are registered. */
  async waitForInstances(count = 1, timeoutMs = 30_000): Promise<Instance[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const list = this.instances();
      if (list.length >= count) return list;
      if (Date.now() > deadline) {
        throw new RequestTimeoutError(`${list.length} of ${count} instances of ${this.path} registered after ${timeoutMs} ms`);
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, Math.max(1, deadline - Date.now()));
        function done(): void {
          clearTimeout(t);
          resolve();
        }
        this.discovery.once('added', done);
      });
    }
  }

  get path(): string {
    return `${this.identity.namespace}/${this.identity.component}/${this.identity.endpoint}`;
  }

  /** Sends to a random instance. */
  random(request: unknown, opts: RequestOptions = {}): ResponseStream {
    const list = this.sorted();
    const target = list[Math.floor(Math.random() * list.length)]; // undefined for an empty list
    if (target === undefined) return this.failed(new NoInstancesError(`no instances of ${this.path} are registered`));
    return this.sendTo(target, request, opts, this.rerouter());
  }

  /** Sends to the next instance in id order. */
  roundRobin(request: unknown, opts: RequestOptions = {}): ResponseStream {
    const list = this.sorted();
    if (list.length === 0) return this.failed(new NoInstancesError(`no instances of ${this.path} are registered`));
    const target = list[this.rr++ % list.length];
    if (target === undefined) return this.failed(new NoInstancesError(`no instances of ${this.path} are registered`));
    return this.sendTo(target, request, opts, this.rerouter());
  }

  /** Sends to the instance `instanceId`. */
  direct(request: unknown, instanceId: bigint, opts: RequestOptions = {}): ResponseStream {
    const inst = this.sorted().find((i) => i.instanceId === instanceId);
    if (inst === undefined) {
      return this.failed(new InstanceGoneError(instanceId, `instance ${instanceId} of ${this.path} is not registered`));
    }
    return this.sendTo(inst, request, opts);
  }

  /** A unary request to a random instance: resolves with the single (or last) chunk. */
  async request(request: unknown, opts: RequestOptions = {}): Promise<ResponseChunk> {
    const chunks = await this.random(request, opts).collect();
    const last = chunks[chunks.length - 1];
    if (last === undefined) throw new NoInstancesError(`${this.path} answered with an empty stream`);
    return last;
  }

  close(): void {
    this.discovery.off('removed', this.onRemoved);
  }

  private sendTo(inst: NatsInstance, request: unknown, opts: RequestOptions, reroute?: Reroute): ResponseStream {
    const signal = opts.signal;
    if (signal?.aborted === true) return this.failed(new CancelledError(`request to ${inst.subject} cancelled before it was sent`));
    const obs = this.observer;
    obs?.requestSent();
    const sentAt = performance.now();
    const stream = this.router.send(inst.instanceId, inst.subject, toBytes(request), opts.timeoutMs ?? this.defaultTimeoutMs, reroute);
    const onAbort = (): void => stream.cancel();
    signal?.addEventListener('abort', onAbort, { once: true });
    stream.detach = (error) => {
      signal?.removeEventListener('abort', onAbort);
      obs?.requestEnded((performance.now() - sentAt) / 1000, error === undefined ? undefined : clientErrorType(error));
    };
    return stream;
  }

  /**
   * For random and round-robin requests: when nobody listens on the chosen subject (the instance
   * is draining or dead but still listed), the request was never delivered, so it is safe to send
   * it to another instance; each is tried at most once.
   */
  private rerouter(): Reroute {
    const tried = new Set<bigint>();
    return (failed) => {
      tried.add(failed);
      const next = this.sorted().find((i) => !tried.has(i.instanceId));
      return next === undefined ? undefined : { instanceId: next.instanceId, subject: next.subject };
    };
  }

  private failed(err: Error): ResponseStream {
    if (this.observer !== undefined) {
      this.observer.requestSent();
      this.observer.requestEnded(0, clientErrorType(err));
    }
    const s = new ResponseStream(0n, '', 0, () => undefined);
    s.finish(err);
    return s;
  }
}
