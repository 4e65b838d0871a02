/**
 * The distributed runtime: a NATS connection, an etcd client and the primary lease of this
 * process, and the namespace → component → endpoint hierarchy on top of them.
 */
import { EventEmitter } from 'node:events';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Etcd3 } from 'etcd3';
import { getLogger } from '../log.ts';
import { redactUrl } from '../redact.ts';
import { sleep, withTimeout } from '../time.ts';
import { Client, type RequestOptions } from './Client.ts';
import {
  DEFAULT_CONNECT_TIMEOUT_MS,
  closeEtcdClient,
  connectNats,
  createEtcdClient,
  etcdOptionsFromEnv,
  natsOptionsFromEnv,
  type EtcdOptions,
  type NatsOptions,
} from './connections.ts';
import { EndpointServer, type Handler, type ServeOptions } from './EndpointServer.ts';
import { RegistrationConflictError, ShutdownError, UsageError } from './errors.ts';
import { retryTransient } from './leaseGrants.ts';
import { publishEvent, subscribeEvents, type EventHandler } from './events.ts';
import { InstanceDiscovery } from './InstanceDiscovery.ts';
import { MicroService } from './MicroService.ts';
import { NOOP_METRICS_FACTORY, type MetricsFactory } from './metricsFactory.ts';
import {
  componentEventSubject,
  DISCOVERY_LAYOUTS,
  instancesPrefix,
  namespaceEventSubject,
  serviceName,
  v1InstancesPrefix,
  validateName,
  type DiscoveryLayout,
} from './names.ts';
import { NOOP_OBSERVER, type EndpointIdentity, type ObservedRuntime, type RuntimeInstrumentation } from './observer.ts';
import { DEFAULT_LEASE_TTL_SECONDS, PrimaryLease } from './PrimaryLease.ts';
import { DEFAULT_REQUEST_TIMEOUT_MS } from './ResponseRouter.ts';
import { ResponseRouter } from './ResponseRouter.ts';
import { errorMessage } from '../errors.ts';
import { DEFAULT_DISCOVERY_LAYOUTS } from './defaults.ts';

/** How long shutdown waits for in-flight requests before aborting them. */
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 10_000;
/** Bound on each etcd/NATS step of shutdown, so that closing never hangs on a dead server. */
export const SHUTDOWN_STEP_TIMEOUT_MS = 2_000;
/** Pause between attempts to re-register after the lease changed. */
export const REREGISTER_RETRY_MS = 1_000;
/** Bound on one attempt to re-register an endpoint: a call stuck on a dying connection is given up and made again. */
export const REREGISTER_ATTEMPT_TIMEOUT_MS = 5_000;

const log = getLogger('runtime');

export interface DistributedRuntimeOptions {
  /** NATS settings; unset fields come from the environment (`NATS_SERVER`, `NATS_AUTH_*`). */
  nats?: Partial<NatsOptions>;
  /** etcd settings; unset fields come from the environment (`ETCD_ENDPOINTS`, `ETCD_AUTH_*`). */
  etcd?: Partial<EtcdOptions>;
  /**
   * Connections to share instead of opening new ones (many workers in one process). Shared
   * connections are not closed by `shutdown()`.
   */
  shared?: { nats: NatsConnection; etcd: Etcd3 };
  /** @default DEFAULT_LEASE_TTL_SECONDS (10) */
  leaseTtlSeconds?: number;
  /** @default DEFAULT_CONNECT_TIMEOUT_MS (5000) */
  connectTimeoutMs?: number;
  /** Default per-chunk timeout of clients. @default DEFAULT_REQUEST_TIMEOUT_MS (30000) */
  requestTimeoutMs?: number;
  /** @default DEFAULT_SHUTDOWN_TIMEOUT_MS (10000) */
  shutdownTimeoutMs?: number;
  /**
   * Where endpoints report their requests and custom metrics go. `instrumentation/` provides one
   * (`connectInstrumented()`); without it nothing is measured.
   * @default NOOP_INSTRUMENTATION
   */
  instrumentation?: RuntimeInstrumentation | undefined;
  /** Environment to read settings from. @default process.env */
  env?: NodeJS.ProcessEnv;
  /**
   * The etcd layouts endpoints register in: `instances` (this project's and Dynamo's until late
   * 2025), `v1` (Dynamo's key-value discovery since), or both, so that current Dynamo clients
   * find a TypeScript worker. From `DYN_DISCOVERY_LAYOUTS` (comma list).
   * @default ['instances']
   */
  discoveryLayouts?: DiscoveryLayout[];
}

export interface DistributedRuntimeEvents {
  /** The primary lease was replaced (etcd lost it); the instance id changed. */
  leaseChanged: [newId: bigint, oldId: bigint];
}

/** A runtime that measures nothing: endpoints observed by a no-op, custom metrics no-ops. */
export const NOOP_INSTRUMENTATION: RuntimeInstrumentation = {
  endpointObserver: () => NOOP_OBSERVER,
  metrics: () => NOOP_METRICS_FACTORY,
};

export class DistributedRuntime extends EventEmitter<DistributedRuntimeEvents> implements ObservedRuntime {
  private readonly services = new Map<string, MicroService>();
  private readonly discoveries = new Map<string, InstanceDiscovery>();
  private readonly servers = new Set<EndpointServer>();
  private readonly subscriptions = new Set<Subscription>();
  private routerInstance: ResponseRouter | undefined;
  private shuttingDown: Promise<void> | undefined;
  readonly instrumentation: RuntimeInstrumentation;
  private readonly connectTimeoutMs: number;
  /** What to call when a served endpoint with a stats handler stops (instrumentation). */
  private readonly statsSources = new Map<EndpointServer, () => void>();
  readonly requestTimeoutMs: number;
  readonly shutdownTimeoutMs: number;
  /** The etcd layouts its endpoints register in. */
  readonly discoveryLayouts: readonly DiscoveryLayout[];

  private constructor(
    readonly nats: NatsConnection,
    readonly etcd: Etcd3,
    readonly lease: PrimaryLease,
    private readonly ownsConnections: boolean,
    opts: DistributedRuntimeOptions,
  ) {
    super();
    this.instrumentation = opts.instrumentation ?? NOOP_INSTRUMENTATION;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.shutdownTimeoutMs = opts.shutdownTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS;
    this.discoveryLayouts = opts.discoveryLayouts ?? discoveryLayoutsFromEnv(opts.env ?? process.env);
    lease.on('changed', (newId, oldId) => void this.reregister(newId, oldId));
    this.instrumentation.runtimeStarted?.(this);
  }

  /**
   * Connects to NATS and etcd and takes the primary lease. Throws `NatsUnavailableError` or
   * `EtcdUnavailableError` (one-line messages) within `connectTimeoutMs` if a server is unreachable.
   */
  static async connect(opts: DistributedRuntimeOptions = {}): Promise<DistributedRuntime> {
    const timeout = opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    const ttl = opts.leaseTtlSeconds ?? DEFAULT_LEASE_TTL_SECONDS;
    const env = opts.env ?? process.env;
    if (opts.shared !== undefined) {
      const lease = await PrimaryLease.grant(opts.shared.etcd, ttl, timeout, 'the shared etcd client');
      return new DistributedRuntime(opts.shared.nats, opts.shared.etcd, lease, false, opts);
    }
    const natsOpts = { ...natsOptionsFromEnv(env), ...stripUndefined(opts.nats ?? {}) };
    const etcdOpts = { ...etcdOptionsFromEnv(env), ...stripUndefined(opts.etcd ?? {}) };
    const nc = await connectNats(natsOpts, timeout);
    let etcd: Etcd3 | undefined;
    try {
      etcd = createEtcdClient(etcdOpts, timeout);
      const lease = await PrimaryLease.grant(etcd, ttl, timeout, etcdOpts.endpoints.map(redactUrl).join(','));
      return new DistributedRuntime(nc, etcd, lease, true, opts);
    } catch (err) {
      etcd?.close();
      await nc.close().catch(() => undefined);
      throw err;
    }
  }

  /** Ready once it serves endpoints and is not shutting down (the status server's /health). */
  readiness(): { ready: boolean; endpoints: string[] } {
    const endpoints = [...this.servers].map((s) => `${s.identity.namespace}/${s.identity.component}/${s.identity.endpoint}`);
    return { ready: this.shuttingDown === undefined && endpoints.length > 0, endpoints };
  }

  /** This process's instance id: its primary lease id. */
  get instanceId(): bigint {
    return this.lease.id;
  }

  get isShuttingDown(): boolean {
    return this.shuttingDown !== undefined;
  }

  namespace(name: string): Namespace {
    return new Namespace(this, validateName('namespace', name));
  }

  /** @internal Serves an endpoint: NATS subscription, micro service entry, then the etcd key. */
  async serve(identity: EndpointIdentity, handler: Handler<never>, opts: ServeOptions = {}): Promise<ServedEndpoint> {
    if (this.shuttingDown !== undefined) throw new ShutdownError('the runtime is shutting down');
    const service = this.service(identity.namespace, identity.component);
    const server = new EndpointServer(
      identity,
      this.nats,
      service,
      handler as Handler<unknown>,
      this.instrumentation.endpointObserver(identity),
      opts,
      this.discoveryLayouts,
    );
    server.bind(this.lease.id);
    this.servers.add(server);
    const stats = opts.statsHandler;
    if (stats !== undefined && this.instrumentation.endpointStats !== undefined) {
      this.statsSources.set(server, this.instrumentation.endpointStats({ identity, instanceId: () => this.lease.id, read: () => stats() }));
    }
    try {
      await this.nats.flush(); // the subscription is live on the server before anyone can find us
      // paced like grants: in a registration burst a write may meet the client's open circuit breaker
      await retryTransient(() => server.register(this.etcd, this.lease.idString), {
        deadlineMs: this.connectTimeoutMs,
        fatal: (e) => e instanceof RegistrationConflictError,
        cancelled: () => this.shuttingDown !== undefined,
      });
    } catch (err) {
      server.stopAccepting();
      this.servers.delete(server);
      this.statsSources.get(server)?.();
      this.statsSources.delete(server);
      throw err;
    }
    log.debug('serving endpoint', { subject: server.subject });
    return new ServedEndpoint(this, server);
  }

  /** @internal */
  async unserve(server: EndpointServer): Promise<void> {
    if (!this.servers.delete(server)) return;
    this.statsSources.get(server)?.();
    this.statsSources.delete(server);
    // Stop accepting, let in-flight requests finish, then deregister (clients
    // fail requests to an instance whose key is gone, so the key stays while they run).
    server.stopAccepting();
    await server.drain(this.shutdownTimeoutMs);
    await withTimeout(Promise.all(server.registrations().map((r) => this.etcd.delete().key(r.key).exec())), SHUTDOWN_STEP_TIMEOUT_MS).catch(
      () => undefined,
    );
  }

  /** @internal A client of one endpoint. */
  async client(identity: EndpointIdentity): Promise<Client> {
    const discovery = this.discovery(identity.namespace, identity.component);
    await discovery.started();
    return new Client(identity, this.router(), discovery, this.requestTimeoutMs, this.instrumentation.clientObserver?.(identity));
  }

  /** @internal The (cached) discovery of a component's instances. */
  discovery(namespace: string, component: string): InstanceDiscovery {
    const prefix = instancesPrefix(namespace, component);
    let d = this.discoveries.get(prefix);
    if (d === undefined) {
      // both layouts, read and watched together: a worker is believed in either
      d = new InstanceDiscovery(this.etcd, [prefix, v1InstancesPrefix(namespace, component)]);
      this.discoveries.set(prefix, d);
    }
    return d;
  }

  /** @internal */
  publish(subject: string, value: unknown): void {
    publishEvent(this.nats, subject, value);
  }

  /** @internal */
  subscribe(subject: string, handler: EventHandler): EventSubscription {
    const sub = subscribeEvents(this.nats, subject, handler);
    this.subscriptions.add(sub);
    return {
      subject,
      unsubscribe: () => {
        this.subscriptions.delete(sub);
        sub.unsubscribe();
      },
    };
  }

  private router(): ResponseRouter {
    this.routerInstance ??= new ResponseRouter(this.nats);
    return this.routerInstance;
  }

  private service(namespace: string, component: string): MicroService {
    const name = serviceName(namespace, component);
    let svc = this.services.get(name);
    if (svc === undefined) {
      svc = new MicroService(this.nats, { name, description: `Dynamo component ${component} in namespace ${namespace}` });
      svc.start();
      this.services.set(name, svc);
    }
    return svc;
  }

  private async reregister(newId: bigint, oldId: bigint): Promise<void> {
    log.rateLimited('info', 'reregister-start', 're-registering endpoints under the new lease', { instance_id: newId, previous: oldId });
    // each endpoint takes requests on its new subject at once, answers stats under its old id
    // (whose keys stay listed) until its new keys replace them, then under the new one
    for (const server of this.servers) server.listenAlso(newId);
    const pending = new Set(this.servers);
    while (pending.size > 0 && this.shuttingDown === undefined && this.lease.id === newId) {
      for (const server of [...pending]) {
        try {
          await withTimeout(server.register(this.etcd, this.lease.idString, newId, oldId), REREGISTER_ATTEMPT_TIMEOUT_MS);
          if (this.lease.id === newId && this.servers.has(server)) server.bind(newId);
          pending.delete(server);
        } catch (err) {
          log.rateLimited('warn', 'reregister', 'cannot re-register an endpoint yet; retrying', {
            subject: server.subject,
            error: errorMessage(err),
          });
        }
      }
      if (pending.size > 0) await sleep(REREGISTER_RETRY_MS);
    }
    // only now: until the new keys were listed, the old ones kept the workers in view
    await this.lease.revokeEarlier(oldId, SHUTDOWN_STEP_TIMEOUT_MS);
    this.emit('leaseChanged', newId, oldId);
  }

  /**
   * Stops accepting requests and deregisters, lets in-flight requests finish (bounded), revokes
   * the lease and closes the connections. Idempotent; never hangs on a dead server.
   */
  shutdown(): Promise<void> {
    this.shuttingDown ??= this.doShutdown();
    return this.shuttingDown;
  }

  private async doShutdown(): Promise<void> {
    await Promise.all([...this.servers].map((s) => this.unserve(s)));
    for (const svc of this.services.values()) svc.stop();
    for (const sub of this.subscriptions) sub.unsubscribe();
    this.subscriptions.clear();
    for (const d of this.discoveries.values()) d.close();
    this.routerInstance?.close();
    await this.lease.revoke(SHUTDOWN_STEP_TIMEOUT_MS);
    await this.instrumentation.runtimeStopped?.(this);
    if (this.ownsConnections) {
      await withTimeout(this.nats.drain(), SHUTDOWN_STEP_TIMEOUT_MS).catch(() => this.nats.close());
      closeEtcdClient(this.etcd);
    }
  }
}

export interface EventSubscription {
  readonly subject: string;
  unsubscribe(): void;
}

/** A served endpoint, as `Endpoint.serve()` returns it. */
export class ServedEndpoint {
  constructor(
    private readonly drt: DistributedRuntime,
    private readonly server: EndpointServer,
  ) {}
  get subject(): string {
    return this.server.subject;
  }
  get instanceId(): bigint {
    return this.server.id;
  }
  get inflightRequests(): number {
    return this.server.inflightRequests;
  }
  /** Stops serving: deregisters, then waits for in-flight requests (bounded). */
  stop(): Promise<void> {
    return this.drt.unserve(this.server);
  }
}

export class Namespace {
  constructor(
    readonly drt: DistributedRuntime,
    readonly name: string,
  ) {}
  component(name: string): Component {
    return new Component(this, validateName('component', name));
  }
  /** Custom metrics of this namespace (labelled `dynamo_namespace` by the instrumentation). */
  get metrics(): MetricsFactory {
    return this.drt.instrumentation.metrics({ namespace: this.name });
  }
  /** Publishes `value` as JSON on `namespace.{ns}.{name}`. */
  publish(name: string, value: unknown): void {
    this.drt.publish(namespaceEventSubject(this.name, name), value);
  }
  /** Subscribes to `namespace.{ns}.{name}` (`name` may hold NATS wildcards). */
  subscribe(name: string, handler: EventHandler): EventSubscription {
    return this.drt.subscribe(namespaceEventSubject(this.name, name), handler);
  }
}

export class Component {
  constructor(
    readonly namespace: Namespace,
    readonly name: string,
  ) {}
  get drt(): DistributedRuntime {
    return this.namespace.drt;
  }
  /** The NATS micro service name. */
  get serviceName(): string {
    return serviceName(this.namespace.name, this.name);
  }
  endpoint(name: string): Endpoint {
    return new Endpoint(this, validateName('endpoint', name));
  }
  /** Custom metrics of this component (labelled `dynamo_namespace`, `dynamo_component`). */
  get metrics(): MetricsFactory {
    return this.drt.instrumentation.metrics({ namespace: this.namespace.name, component: this.name });
  }
  /** Publishes on `namespace.{ns}.component.{comp}.{name}`. */
  publish(name: string, value: unknown): void {
    this.drt.publish(componentEventSubject(this.namespace.name, this.name, name), value);
  }
  subscribe(name: string, handler: EventHandler): EventSubscription {
    return this.drt.subscribe(componentEventSubject(this.namespace.name, this.name, name), handler);
  }
}

export class Endpoint {
  constructor(
    readonly component: Component,
    readonly name: string,
  ) {}
  get identity(): EndpointIdentity {
    return { namespace: this.component.namespace.name, component: this.component.name, endpoint: this.name };
  }
  get path(): string {
    return `${this.component.namespace.name}/${this.component.name}/${this.name}`;
  }
  /** Custom metrics of this endpoint (labelled `dynamo_namespace`, `dynamo_component`, `dynamo_endpoint`). */
  get metrics(): MetricsFactory {
    return this.component.drt.instrumentation.metrics(this.identity);
  }
  /** Serves requests with `handler`; resolves once the endpoint is subscribed and registered in etcd. */
  serve<Req = unknown>(handler: Handler<Req>, opts: ServeOptions = {}): Promise<ServedEndpoint> {
    return this.component.drt.serve(this.identity, handler as Handler<never>, opts);
  }
  /** A client that discovers this endpoint's instances. */
  client(): Promise<Client> {
    return this.component.drt.client(this.identity);
  }
}

export type { RequestOptions };

/**
 * `DYN_DISCOVERY_LAYOUTS`: a comma list of `instances` and `v1`; unset, `instances`. An unknown
 * name is a `UsageError`.
 */
export function discoveryLayoutsFromEnv(env: NodeJS.ProcessEnv): DiscoveryLayout[] {
  const raw = env.DYN_DISCOVERY_LAYOUTS?.trim();
  if (raw === undefined || raw === '') return [...DEFAULT_DISCOVERY_LAYOUTS];
  const out: DiscoveryLayout[] = [];
  for (const part of raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')) {
    if (!(DISCOVERY_LAYOUTS as readonly string[]).includes(part)) {
      throw new UsageError(`DYN_DISCOVERY_LAYOUTS: unknown layout ${JSON.stringify(part)} (use instances, v1 or both, comma-separated)`);
    }
    if (!out.includes(part as DiscoveryLayout)) out.push(part as DiscoveryLayout);
  }
  return out.length > 0 ? out : [...DEFAULT_DISCOVERY_LAYOUTS];
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
