/**
 * Every target of one `metrics` process (docs/configuration.md, "Several targets"): one
 * `Aggregator` per `namespace/component/endpoint`, each with its own cycle, load statistics,
 * aggregate subject, `component`/`endpoint` labels and leader key, sharing the process's runtime,
 * export pipeline and event intake (which routes each event to its worker's target). With
 * `allEndpoints` every endpoint of the namespace joins as its first worker registers.
 *
 * Replicas spread the targets through etcd alone: each says it is there under its lease
 * (`metrics/{ns}/replicas/{id}`), takes a free leader key only while it leads fewer targets than
 * its share (⌈targets / replicas⌉, or whoever sees a key free for `DEFAULT_UNCLAIMED_TAKE_MS`),
 * and gives up a target when it leads more than its share. A replica that dies loses its lease,
 * so its keys and its replica key go at once, and the others take its targets within the lease TTL.
 */
import type { ScopeMetrics } from '@opentelemetry/sdk-metrics';
import { getLogger } from '../log.ts';
import type { DistributedRuntime } from '../runtime/DistributedRuntime.ts';
import { InstanceDiscovery, type Instance } from '../runtime/InstanceDiscovery.ts';
import { idToHex, metricsReplicasPrefix } from '../runtime/names.ts';
import { BRIDGE_METER_NAME, type MetricsPipeline } from '../export/MetricsPipeline.ts';
import { errorMessage } from '../errors.ts';
import { Aggregator, type AggregatorOptions } from './Aggregator.ts';
import { AGGREGATOR_SCOPE } from './AggregatorMetrics.ts';
import { DEFAULT_LEADER_CHECK_INTERVAL_MS, DEFAULT_LEADER_CHECK_TIMEOUT_MS } from './LeaderElection.ts';
import { settleWithin } from '../time.ts';
import { EventIntake } from './EventIntake.ts';
import { DEFAULT_MAX_QUEUED_EVENTS } from './EventQueue.ts';
import { mergeReadiness, type Readiness } from './readiness.ts';
import { MAX_TARGETS, targetPath, type Target } from './targets.ts';

const log = getLogger('metrics');

/** How often a replica counts the replicas and gives up targets beyond its share. */
export const SHARE_CHECK_INTERVAL_MS = DEFAULT_LEADER_CHECK_INTERVAL_MS;

export interface AggregatorSetOptions
  extends Omit<AggregatorOptions, 'namespace' | 'component' | 'endpoint' | 'intake' | 'claimLeadership'> {
  namespace: string;
  targets: readonly Target[];
  /** Follow every endpoint of the namespace as workers register them. @default false */
  allEndpoints?: boolean;
}

/** How many targets one of `replicas` replicas leads at most. */
export function shareOf(targets: number, replicas: number): number {
  return Math.ceil(targets / Math.max(1, replicas));
}

export class AggregatorSet {
  /** Target path → its aggregator, in the order targets joined. */
  readonly aggregators = new Map<string, Aggregator>();
  readonly intake: EventIntake;
  private pipeline: MetricsPipeline | undefined;
  private namespaceWatch: InstanceDiscovery | undefined;
  private shareTimer: NodeJS.Timeout | undefined;
  private replicas = 1;
  private startedFlag = false;
  private stopped = false;
  /** Whether the NATS connection is up (what the status page says before any target exists). */
  natsConnected = true;
  /** Whether the latest etcd request of the set (the replica count) was answered. */
  etcdReachable = true;
  private readonly replicaPrefix: string;
  private replicaKey: string | undefined;

  constructor(
    private readonly drt: DistributedRuntime,
    readonly opts: AggregatorSetOptions,
  ) {
    this.intake = new EventIntake(drt, opts.maxQueuedEvents ?? DEFAULT_MAX_QUEUED_EVENTS);
    this.replicaPrefix = metricsReplicasPrefix(opts.namespace);
    for (const t of opts.targets) this.add(t);
  }

  /** The first target's aggregator (the only one of a process given one target). */
  get first(): Aggregator | undefined {
    return this.aggregators.values().next().value;
  }

  /** Targets this replica leads now. */
  get leading(): number {
    let n = 0;
    for (const a of this.aggregators.values()) if (a.election.isLeader) n++;
    return n;
  }

  /** Adds a target (no-op if followed already); started at once when the set is. */
  private add(t: Target): Aggregator | undefined {
    const path = targetPath(t);
    const known = this.aggregators.get(path);
    if (known !== undefined) return known;
    if (this.aggregators.size >= MAX_TARGETS) {
      log.rateLimited('warn', 'max-targets', `not following ${path}: this process follows ${MAX_TARGETS} targets already`);
      return undefined;
    }
    // with one target the share is always at least one: nothing to ask
    const spread = this.opts.allEndpoints === true || this.opts.targets.length > 1;
    const a = new Aggregator(this.drt, { ...this.opts, ...t, intake: this.intake, ...(spread ? { claimLeadership: this.claim } : {}) });
    this.aggregators.set(path, a);
    if (this.pipeline !== undefined)
      a.health.observeWith(this.pipeline.meter(BRIDGE_METER_NAME), { component: t.component, endpoint: t.endpoint });
    if (this.startedFlag) {
      log.info(`following ${path}`);
      void a.start().catch((err: unknown) => log.warn('cannot start following a target', { target: path, error: errorMessage(err) }));
    }
    return a;
  }

  /** Whether to take a free leader key: while leading fewer targets than this replica's share (replicas counted afresh). */
  private readonly claim = async (): Promise<boolean> => {
    if (this.stopped) return false;
    await this.countReplicas();
    return this.leading < shareOf(this.aggregators.size, this.replicas);
  };

  /** Counts the replicas in etcd; unanswered within `DEFAULT_LEADER_CHECK_TIMEOUT_MS`, the last count stands. */
  private async countReplicas(): Promise<void> {
    const n = await settleWithin(
      this.drt.etcd
        .getAll()
        .prefix(this.replicaPrefix)
        .count()
        .catch(() => undefined),
      DEFAULT_LEADER_CHECK_TIMEOUT_MS,
      undefined,
    );
    // etcd unreachable: the last count stands (the elections say so in their own health)
    this.etcdReachable = n !== undefined;
    if (n !== undefined) this.replicas = Math.max(1, n);
  }

  /** Exports every target through `pipeline`: one snapshot of all the targets' series, and each target's health. */
  attach(pipeline: MetricsPipeline): void {
    this.pipeline = pipeline;
    pipeline.snapshots.add(this.snapshot, { version: this.version });
    const meter = pipeline.meter(BRIDGE_METER_NAME);
    this.intake.observeWith(meter);
    for (const a of this.aggregators.values()) a.health.observeWith(meter, { component: a.opts.component, endpoint: a.opts.endpoint });
  }

  private readonly version = (): string => {
    let v = '';
    for (const a of this.aggregators.values()) v += `${a.metrics.version()}|`;
    return v;
  };

  /** The series of every target in one scope, one metric per name (Prometheus wants one family per name). */
  private readonly snapshot = async (): Promise<ScopeMetrics> => {
    // one target (the common case): its snapshot as it is, no copy of its data points
    const only = this.aggregators.size === 1 ? this.first : undefined;
    if (only !== undefined) return only.metrics.snapshot();
    const byName = new Map<string, ScopeMetrics['metrics'][number]>();
    for (const a of this.aggregators.values()) {
      for (const m of (await a.metrics.snapshot()).metrics) {
        const have = byName.get(m.descriptor.name);
        if (have === undefined) byName.set(m.descriptor.name, { ...m, dataPoints: [...m.dataPoints] } as typeof m);
        else for (const p of m.dataPoints) (have.dataPoints as unknown[]).push(p); // no spread: a target may hold 100,000 points
      }
    }
    return { scope: { name: AGGREGATOR_SCOPE }, metrics: [...byName.values()] };
  };

  /** Listening and in the elections (start() has resolved), not stopping. */
  get started(): boolean {
    return this.startedFlag && !this.stopped;
  }

  private async watchNats(): Promise<void> {
    for await (const s of this.drt.nats.status()) {
      if (s.type === 'disconnect') this.natsConnected = false;
      else if (s.type === 'reconnect') this.natsConnected = true;
    }
  }

  async start(): Promise<void> {
    void this.watchNats().catch(() => undefined);
    await this.announce();
    this.drt.on('leaseChanged', this.onLeaseChanged);
    await this.countReplicas();
    // one after the other, so that each election sees how many this replica leads already
    for (const a of this.aggregators.values()) await a.start();
    this.startedFlag = true;
    if (this.opts.allEndpoints === true) await this.followNamespace();
    this.shareTimer = setInterval(() => void this.keepShare(), SHARE_CHECK_INTERVAL_MS).unref();
  }

  /** The replica key, under this process's lease (again after the lease is replaced). */
  private async announce(): Promise<void> {
    this.replicaKey = `${this.replicaPrefix}${idToHex(this.drt.instanceId)}`;
    const put = this.drt.etcd
      .put(this.replicaKey)
      .value(JSON.stringify({ targets: this.aggregators.size }))
      .lease(this.drt.lease.idString);
    const failed = await settleWithin(
      put.then(
        () => undefined,
        (err: unknown) => errorMessage(err),
      ),
      DEFAULT_LEADER_CHECK_TIMEOUT_MS,
      `etcd did not answer within ${DEFAULT_LEADER_CHECK_TIMEOUT_MS} ms`,
    );
    // the lease is replaced when etcd comes back, and this runs again then
    if (failed !== undefined)
      log.warn('cannot say in etcd that this replica is there; the other replicas count one fewer meanwhile', { error: failed });
  }

  private readonly onLeaseChanged = (): void => void this.announce();

  /** `--all-endpoints`: every endpoint of the namespace with a registered worker becomes a target. */
  private async followNamespace(): Promise<void> {
    const ns = this.opts.namespace;
    const d = new InstanceDiscovery(this.drt.etcd, [`instances/${ns}/`, `v1/instances/${ns}/`]);
    this.namespaceWatch = d;
    d.on('added', this.onInstance);
    try {
      await d.started();
    } catch (err) {
      log.warn('cannot list the namespace in etcd yet; endpoints join as they are seen', { error: errorMessage(err) });
    }
    for (const i of d.list()) this.onInstance(i);
  }

  private readonly onInstance = (i: Instance): void => {
    if (this.stopped || i.namespace !== this.opts.namespace) return;
    this.add({ namespace: i.namespace, component: i.component, endpoint: i.endpoint });
  };

  /** Gives up one target when this replica leads more than its share (another replica takes it). */
  private async keepShare(): Promise<void> {
    if (this.stopped) return;
    await this.countReplicas();
    const share = shareOf(this.aggregators.size, this.replicas);
    if (this.leading <= share) return;
    const last = [...this.aggregators.values()].reverse().find((a) => a.election.isLeader);
    if (last === undefined) return;
    log.info(`leading ${this.leading} targets with ${this.replicas} replicas (share ${share}): giving ${last.path} to another replica`);
    await last.election.resign();
  }

  /** Ready when every target is (readiness.ts), each reason naming its target. */
  readiness(): Readiness {
    return mergeReadiness([...this.aggregators.values()].map((a) => [a.path, a.readiness()]));
  }

  /** Stops every cycle, keeping the last views and the leader keys for the final export. */
  async quiesce(): Promise<void> {
    this.stopped = true;
    clearInterval(this.shareTimer);
    this.namespaceWatch?.off('added', this.onInstance);
    this.namespaceWatch?.close();
    await Promise.all([...this.aggregators.values()].map((a) => a.quiesce()));
  }

  /** Releases every leader key and the replica key. */
  async stop(): Promise<void> {
    await this.quiesce();
    this.drt.off('leaseChanged', this.onLeaseChanged);
    await Promise.all([...this.aggregators.values()].map((a) => a.stop()));
    if (this.replicaKey !== undefined)
      await this.drt.etcd
        .delete()
        .key(this.replicaKey)
        .catch(() => undefined);
  }
}
