/**
 * The `metrics` aggregator's main job (docs/wire-protocol.md §4–7): every poll interval, while it leads its
 * target, scatter `$SRV.STATS`, decode each endpoint's ForwardPassMetrics, pair each with its own
 * worker, compute load average and population deviation, swap in the new view (read by the
 * exporters at collection) and publish `ProcessedEndpoints`. KV hit-rate events are counted
 * as they arrive, also on a standby, so a take-over continues the same totals.
 */
import { getLogger } from '../log.ts';
import type { DistributedRuntime } from '../runtime/DistributedRuntime.ts';
import type { Instance, InstanceDiscovery } from '../runtime/InstanceDiscovery.ts';
import { publishLarge, type LargeForm } from '../runtime/largeMessages.ts';
import { aggregateSubject, leaderKey, serviceName } from '../runtime/names.ts';
import { encodeAggregate } from './aggregate.ts';
import type { MetricsPipeline } from '../export/MetricsPipeline.ts';
import { BRIDGE_METER_NAME } from '../export/MetricsPipeline.ts';
import { AggregatorHealth, AggregatorMetrics, type AggregateView } from './AggregatorMetrics.ts';
import { DEFAULT_MAX_TRACKED_WORKERS, HitRateTracker } from './HitRateTracker.ts';
import { EventIntake, type IntakeSinks } from './EventIntake.ts';
import { LoadBook } from './LoadBook.ts';
import { DEFAULT_MAX_MISSED_CYCLES, DEFAULT_POLL_INTERVAL_MS } from './options.ts';
import { LeaderElection } from './LeaderElection.ts';
import { DEFAULT_COMPLETE_GRACE_MS, DEFAULT_SCATTER_MAX_WAIT_MS, scatterStats } from './scatterStats.ts';
import { loadStatistics } from './statistics.ts';
import { CycleCollector } from './CycleCollector.ts';
import { DEFAULT_MAX_QUEUED_EVENTS } from './EventQueue.ts';
import { parseStatsReply, type WorkerStats } from './statsReply.ts';
import { errorMessage } from '../errors.ts';
import { StatusHistory } from './StatusHistory.ts';
import { readinessOf, type Readiness } from './readiness.ts';

/** A view older than this many poll intervals (and at least `MIN_STALE_AFTER_MS`) is not exported. */
export const STALE_AFTER_POLL_INTERVALS = 3;
export const MIN_STALE_AFTER_MS = 5_000;

/** Workers per `trace` line of a cycle's detail (a 63-bit id and its blocks take about 30 bytes). */
export const TRACE_WORKERS_PER_LINE = 300;

/** Least time between two re-listings of etcd prompted by stats from workers the view lacks. */
export const DISCOVERY_REFRESH_MIN_INTERVAL_MS = 1_000;
/**
 * Cycles in a row that may end without replacing the view when they would empty it while workers
 * answer under ids etcd does not list yet (registrations in flight); then the empty view is published.
 */
export const MAX_EMPTY_CYCLES_HELD = 3;

const log = getLogger('metrics');

/** Every worker's active KV blocks, one value per data-parallel rank where it reports ranks (the load statistics' input). */
function kvLoads(workers: ReadonlyMap<bigint, WorkerStats>): number[] {
  const out: number[] = [];
  for (const w of workers.values()) {
    if (w.ranks === undefined) out.push(w.metrics.kvActiveBlocks);
    else for (const m of w.ranks.values()) out.push(m.kvActiveBlocks);
  }
  return out;
}
const NOBODY: ReadonlyMap<bigint, string | undefined> = new Map();

export interface AggregatorOptions {
  namespace: string;
  component: string;
  endpoint: string;
  /** @default DEFAULT_POLL_INTERVAL_MS */
  pollIntervalMs?: number;
  /** Longest wait for stats replies in one cycle. @default min(1 s, poll interval) */
  scatterMaxWaitMs?: number;
  /** @default DEFAULT_MAX_TRACKED_WORKERS */
  maxTrackedWorkers?: number;
  /**
   * Cycles in a row a worker etcd still lists may miss (its last stats are kept meanwhile)
   * before it leaves the view. @default DEFAULT_MAX_MISSED_CYCLES
   */
  maxMissedCycles?: number;
  /** @default DEFAULT_MAX_QUEUED_EVENTS */
  maxQueuedEvents?: number;
  /**
   * Believe NATS answers and events alone, without etcd vouching for the worker: for Dynamo
   * clusters whose discovery is not etcd (Kubernetes). Anyone on NATS can then make up a worker.
   * @default false
   */
  trustNats?: boolean;
  /**
   * The event intake shared by every target of the process (`AggregatorSet`): it routes each
   * event to the target whose registry lists the worker. @default one of its own
   */
  intake?: EventIntake;
  /**
   * Asked before taking the target's free leader key (AggregatorSet spreads targets among
   * replicas with it); see `LeaderElection`. @default always take it
   */
  claimLeadership?: () => Promise<boolean>;
}

/**
 * The registry of a cluster whose discovery etcd does not hold: every worker id is taken as
 * registered at the subject its stats must name (`{service}.{endpoint}-{hex}`).
 */
class EveryWorker extends Map<bigint, string | undefined> {
  constructor(private readonly prefix: string) {
    super();
  }
  override has(): boolean {
    return true;
  }
  override get(id: bigint): string {
    return `${this.prefix}${id.toString(16)}`;
  }
}

export interface CycleResult {
  workers: number;
  complete: boolean;
  elapsedMs: number;
}

export class Aggregator {
  readonly tracker: HitRateTracker;
  readonly health: AggregatorHealth;
  readonly metrics: AggregatorMetrics;
  readonly election: LeaderElection;
  readonly path: string;
  /** One point per cycle for the status page (bounded ring). */
  readonly history = new StatusHistory();
  private readonly service: string;
  readonly pollIntervalMs: number;
  private readonly maxWaitMs: number;
  private current: AggregateView | undefined;
  private discovery: InstanceDiscovery | undefined;
  private registeredCache: { version: number; subjects: ReadonlyMap<bigint, string | undefined> } | undefined;
  private lastRefreshAt = 0;
  /** Worker id → the micro-service instance that answers for it (forgotten when etcd drops the worker). */
  private readonly owners = new Map<bigint, string>();
  /** Hit-rate and load events, from the NATS socket to the tracker and the load book. */
  readonly intake: EventIntake;
  /** The intake is this aggregator's alone (it exports its refusals and stops with it). */
  private readonly ownIntake: boolean;
  /** Worker id → cycles in a row it has missed while kept in the view. */
  private readonly missed = new Map<bigint, number>();
  /** The latest load each worker published as events (`kv_metrics`), merged into every cycle. */
  readonly loadBook: LoadBook;
  private emptyCyclesHeld = 0;
  /**
   * Workers etcd lists that the view does not hold yet (counted when a cycle publishes, then as
   * they register), less those already taken as replacements: a key that leaves while such a
   * newcomer waits is a worker that re-registered under a new id (one transaction puts the new
   * key and deletes the old), so its old id stays until the next cycle reads the new one.
   */
  private newcomers = 0;
  /** With `trustNats`: the registry that takes every worker as registered. */
  private readonly everyWorker: EveryWorker | undefined;
  private readonly maxMissedCycles: number;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<CycleResult | undefined> | undefined;
  private stopped = false;
  private startedFlag = false;
  private natsConnected = true;
  private lastCycleAt = 0;
  private lastPublishForm: LargeForm = 'plain';
  private readonly staleAfterMs: number;

  constructor(
    private readonly drt: DistributedRuntime,
    readonly opts: AggregatorOptions,
  ) {
    const { namespace, component, endpoint } = opts;
    this.path = `${namespace}/${component}/${endpoint}`;
    this.service = serviceName(namespace, component);
    this.pollIntervalMs = opts.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
    this.maxWaitMs = opts.scatterMaxWaitMs ?? Math.min(DEFAULT_SCATTER_MAX_WAIT_MS, this.pollIntervalMs);
    this.tracker = new HitRateTracker(opts.maxTrackedWorkers ?? DEFAULT_MAX_TRACKED_WORKERS);
    this.loadBook = new LoadBook(opts.maxTrackedWorkers ?? DEFAULT_MAX_TRACKED_WORKERS);
    if (opts.trustNats === true) this.everyWorker = new EveryWorker(`${this.service}.${opts.endpoint}-`);
    this.health = new AggregatorHealth(this.tracker, () => this.viewCurrent);
    this.metrics = new AggregatorMetrics(component, endpoint, this.tracker, () => this.exportedView());
    this.staleAfterMs = Math.max(STALE_AFTER_POLL_INTERVALS * this.pollIntervalMs, MIN_STALE_AFTER_MS);
    this.maxMissedCycles = opts.maxMissedCycles ?? DEFAULT_MAX_MISSED_CYCLES;
    this.ownIntake = opts.intake === undefined;
    this.intake = opts.intake ?? new EventIntake(drt, opts.maxQueuedEvents ?? DEFAULT_MAX_QUEUED_EVENTS);
    this.election = new LeaderElection(
      drt,
      leaderKey(namespace, component, endpoint),
      (ok) => {
        this.health.etcdReachable = ok;
      },
      undefined,
      undefined,
      undefined,
      opts.claimLeadership,
    );
  }

  /** The latest view: undefined on a standby. */
  get view(): AggregateView | undefined {
    return this.current;
  }

  /**
   * What the exporters get: nothing on a standby, and nothing while NATS is disconnected or the
   * latest cycle is too old: never stale data presented as fresh. The bridge's own metrics go on
   * being exported meanwhile (a scrape still answers 200), so the outage itself reaches the
   * operator (`dynamo_metrics_nats_connected 0`, `dynamo_metrics_view_current 0`).
   */
  private exportedView(): AggregateView | undefined {
    const problem = this.viewProblem();
    if (problem === undefined) return this.current;
    log.rateLimited('warn', 'view-withheld', 'worker series withheld from the exports', { why: problem });
    return undefined;
  }

  /** Whether a current view is exported: leading, NATS connected, the latest cycle recent. */
  get viewCurrent(): boolean {
    return this.current !== undefined && this.viewProblem() === undefined;
  }

  /** Why the current view cannot be vouched for (it is not exported meanwhile), if it cannot. */
  viewProblem(): string | undefined {
    if (this.current === undefined) return undefined;
    if (!this.natsConnected) return 'NATS is disconnected: no current worker stats';
    const age = Date.now() - this.lastCycleAt;
    if (age > this.staleAfterMs) return `the latest scrape cycle is ${(age / 1000).toFixed(1)} s old`;
    return undefined;
  }

  /** Cycles in a row the worker has missed while kept in the view (0 when it answered the latest). */
  missedCycles(workerId: bigint): number {
    return this.missed.get(workerId) ?? 0;
  }

  /** Follows the NATS connection: no cycle replaces the view while it is down. */
  private async watchNats(): Promise<void> {
    for await (const s of this.drt.nats.status()) {
      if (s.type === 'disconnect') {
        this.natsConnected = false;
        this.health.natsConnected = false;
        log.warn('NATS disconnected; exports of worker stats fail until it is back');
      } else if (s.type === 'reconnect') {
        this.natsConnected = true;
        this.health.natsConnected = true;
        log.info('NATS reconnected');
        if (this.election.isLeader) this.schedule(0);
      }
    }
  }

  /** Exports through `pipeline`: the worker series and the bridge's health. */
  attach(pipeline: MetricsPipeline): void {
    pipeline.snapshots.add(this.metrics.snapshot, { version: this.metrics.version });
    const meter = pipeline.meter(BRIDGE_METER_NAME);
    this.health.observeWith(meter, { component: this.opts.component, endpoint: this.opts.endpoint });
    if (this.ownIntake) this.intake.observeWith(meter);
  }

  /** What the intake routes to this target: its books, and the workers it vouches for. */
  private intakeSinks(): IntakeSinks {
    const sinks = { tracker: this.tracker, loadBook: this.loadBook, health: this.health };
    if (this.everyWorker === undefined) return { ...sinks, registry: () => this.registeredSubjects() };
    // believing any worker: among several targets, an event goes to the one that has seen its worker
    const seen = { has: (id: bigint) => this.current?.workers.has(id) === true || this.loadBook.has(id) };
    return { ...sinks, registry: () => ({ subjects: seen as ReadonlyMap<bigint, unknown>, verified: true }), trustsAll: true };
  }

  async start(): Promise<void> {
    void this.watchNats().catch(() => undefined);
    log.info(`Scraping endpoint ${this.path} for stats`);
    // etcd listed first: an event that arrived before the first listing would be refused as
    // unverified (no list to hold it against), where one a moment later is checked or held
    this.discovery = this.drt.discovery(this.opts.namespace, this.opts.component);
    this.discovery.on('removed', this.onRemoved);
    this.discovery.on('added', this.onAdded);
    this.discovery.on('added', this.intake.registrationLanded);
    await this.discovery.started().catch((err: Error) => log.warn('cannot list instances in etcd yet', { error: err.message }));
    this.intake.join(this.opts, this.intakeSinks());
    // the subscription is live on the server before anyone is told we listen: no event is missed
    await this.drt.nats.flush().catch(() => undefined);
    this.election.on('changed', (leading) => {
      this.health.leader = leading;
      if (leading) this.schedule(0);
      else this.current = undefined;
    });
    await this.election.start();
    this.health.leader = this.election.isLeader;
    this.startedFlag = true;
  }

  /** Listening for events, watching etcd and in the leader election (start() has resolved). */
  get started(): boolean {
    return this.startedFlag && !this.stopped;
  }

  /** Whether the aggregator does its job now (`/health`): see readiness.ts. */
  readiness(): Readiness {
    return readinessOf({
      started: this.startedFlag,
      stopping: this.stopped,
      leader: this.election.isLeader,
      natsConnected: this.natsConnected,
      etcdReachable: this.health.etcdReachable,
      hasView: this.current !== undefined,
      viewProblem: this.viewProblem(),
    });
  }

  private readonly onAdded = (inst: Instance): void => {
    if (inst.endpoint === this.opts.endpoint && this.current !== undefined && !this.current.workers.has(inst.instanceId)) this.newcomers++;
  };

  /**
   * A worker whose etcd key is deleted leaves the view at once, not at the next cycle, unless a
   * newcomer waits to take its place (a re-registration: see `newcomers`); then the next cycle
   * drops it as deregistered while it reads the newcomer.
   */
  private readonly onRemoved = (inst: Instance): void => {
    if (inst.endpoint === this.opts.endpoint) {
      this.owners.delete(inst.instanceId);
      this.missed.delete(inst.instanceId);
      this.loadBook.forget(inst.instanceId);
    }
    if (inst.endpoint !== this.opts.endpoint || this.current === undefined || !this.current.workers.has(inst.instanceId)) return;
    if (this.newcomers > 0) {
      this.newcomers--;
      return;
    }
    const workers = new Map(this.current.workers);
    workers.delete(inst.instanceId);
    this.health.dropWorker('deregistered');
    this.current = { workers, stats: loadStatistics(kvLoads(workers)) };
    this.health.workers = workers.size;
  };

  private schedule(delayMs: number): void {
    clearTimeout(this.timer);
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.loop(), delayMs);
  }

  private async loop(): Promise<void> {
    if (this.stopped || !this.election.isLeader) return;
    const started = performance.now();
    await this.cycle();
    this.schedule(Math.max(0, this.pollIntervalMs - (performance.now() - started)));
  }

  /** One scrape cycle. Never throws. */
  cycle(): Promise<CycleResult | undefined> {
    this.running ??= this.doCycle().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async doCycle(): Promise<CycleResult | undefined> {
    try {
      const cycleStartedAt = Date.now();
      const { subjects: registered, verified } = this.registeredSubjects();
      const collector = new CycleCollector(registered, this.owners, verified);
      const res = await scatterStats(
        this.drt.nats,
        this.service,
        (body) => {
          for (const r of collector.add(parseStatsReply(body, this.service, this.opts.endpoint))) {
            this.health.rejectStats(r);
            log.rateLimited('warn', `stats-${r}`, 'dropped a stats reply or endpoint', { reason: r });
          }
          return registered.size > 0 && collector.answered === registered.size;
        },
        this.maxWaitMs,
        // after everyone answered, a short grace for a second answer for any worker: a forger that
        // copied a worker's instance id and answered first is then a conflict, not the worker
        DEFAULT_COMPLETE_GRACE_MS,
      );
      collector.commitOwners();
      const answered = collector.workers.size;
      const workers = this.keepMissing(collector, registered);
      // load events: newer than the stats request they win; events-only workers join; stale ones leave
      const now = Date.now();
      const freshFrom = now - (this.maxMissedCycles + 1) * this.pollIntervalMs;
      this.loadBook.prune(freshFrom);
      // a worker kept from an earlier cycle holds older stats than any event since
      const fromEvents = this.loadBook.mergeInto(
        workers,
        this.registeredSubjects().subjects,
        (id) => (this.missed.has(id) ? -Infinity : cycleStartedAt),
        freshFrom,
      );
      // a worker etcd lists but our view does not (a missed watch event): list again, at most once a second
      if ((collector.rejected.get('unregistered') ?? 0) > 0 && Date.now() - this.lastRefreshAt >= DISCOVERY_REFRESH_MIN_INTERVAL_MS) {
        this.lastRefreshAt = Date.now();
        void this.discovery?.refresh();
      }
      if (!this.election.isLeader || this.stopped || !this.natsConnected) return undefined;
      // workers answer under ids etcd does not list yet (their registrations in flight, as when
      // every id changes at once): an empty view now would be a moment's artefact, not the fleet
      const unlisted = collector.rejected.get('unregistered') ?? 0;
      if (workers.size === 0 && unlisted > 0) {
        // held for a few cycles in a row at most: answers etcd never vouches for (a forger) do not stop publishing
        if (this.emptyCyclesHeld < MAX_EMPTY_CYCLES_HELD) {
          this.emptyCyclesHeld++;
          this.lastRefreshAt = Date.now();
          void this.discovery?.refresh();
          log.rateLimited(
            'info',
            'empty-held',
            'workers answer under ids etcd does not list yet; the view is not replaced by an empty one',
            { answers: unlisted },
          );
          return { workers: 0, complete: res.complete, elapsedMs: res.elapsedMs };
        }
      } else this.emptyCyclesHeld = 0;
      const stats = loadStatistics(kvLoads(workers));
      this.current = { workers, stats };
      this.newcomers = 0;
      for (const id of this.registeredSubjects().subjects.keys()) if (!workers.has(id)) this.newcomers++;
      this.lastCycleAt = Date.now();
      this.health.workers = workers.size;
      this.health.workersMissing = workers.size - answered - fromEvents.length;
      this.health.cycles++;
      this.health.lastCycleUnixSeconds = Date.now() / 1000;
      this.health.recordScrapeDuration(res.elapsedMs / 1000);
      this.health.lastCycleMs = res.elapsedMs;
      const t = this.tracker;
      this.history.record({
        t: this.lastCycleAt / 1000,
        workers: workers.size,
        load: stats,
        events: t.accepted,
        islTotal: t.islTotal,
        overlapTotal: t.overlapTotal,
      });
      await this.publish(workers, stats);
      if (workers.size === 0) {
        log.rateLimited('warn', 'no-endpoints', `No endpoints found matching ${this.path}`);
      } else {
        log.resetRateLimit('no-endpoints');
        if (log.enabled('debug')) this.logCycle(workers, stats, answered);
      }
      return { workers: workers.size, complete: res.complete, elapsedMs: res.elapsedMs };
    } catch (err) {
      log.rateLimited('warn', 'cycle', 'scrape cycle failed', { error: errorMessage(err) });
      return undefined;
    }
  }

  /**
   * The cycle at `debug`: one summary line (about 200 bytes whatever the number of workers); at
   * `trace` also every worker's active KV blocks, `TRACE_WORKERS_PER_LINE` to a line so that no
   * line nears the 16 KiB a container runtime splits at.
   */
  private logCycle(workers: ReadonlyMap<bigint, WorkerStats>, stats: { avg: number; std: number } | undefined, answered: number): void {
    let min = Infinity;
    let max = -Infinity;
    for (const w of workers.values()) {
      min = Math.min(min, w.metrics.kvActiveBlocks);
      max = Math.max(max, w.metrics.kvActiveBlocks);
    }
    log.debug('aggregated', {
      workers: workers.size,
      answered,
      load_avg: stats?.avg,
      load_std: stats?.std,
      kv_active_min: min,
      kv_active_max: max,
    });
    if (!log.enabled('trace')) return;
    const all = [...workers];
    const parts = Math.ceil(all.length / TRACE_WORKERS_PER_LINE);
    for (let p = 0; p < parts; p++) {
      const slice = all.slice(p * TRACE_WORKERS_PER_LINE, (p + 1) * TRACE_WORKERS_PER_LINE);
      log.trace('aggregated workers', {
        part: `${p + 1}/${parts}`,
        kv_active_blocks: Object.fromEntries(slice.map(([id, w]) => [id.toString(), w.metrics.kvActiveBlocks])),
      });
    }
  }

  /**
   * The new view's workers: those that answered, plus those of the last view that did not but
   * are still registered at the same subject and have missed at most `maxMissedCycles` cycles in
   * a row (their last stats kept). A slow or flooded cycle therefore never empties the view; a
   * worker etcd drops leaves at once (`onRemoved`), one that stops answering after the limit.
   * A worker in conflict this cycle is never kept.
   */
  private keepMissing(collector: CycleCollector, registered: ReadonlyMap<bigint, string | undefined>): Map<bigint, WorkerStats> {
    // the cycle's own map, extended with the missing (no copy of 10,000 entries): an id added here
    // is one of `previous`, each of which is looked at once
    const workers = collector.workers;
    if (this.missed.size > 0) for (const id of workers.keys()) this.missed.delete(id);
    const previous = this.current?.workers;
    if (previous === undefined) return workers;
    for (const [id, w] of previous) {
      if (workers.has(id) || (collector.conflicts.size > 0 && collector.conflicts.has(id))) continue;
      if (w.fromEvents === true) continue; // rebuilt from the load events every cycle
      if (registered.get(id) !== w.subject) {
        this.missed.delete(id);
        this.health.dropWorker('deregistered');
        continue;
      }
      const n = (this.missed.get(id) ?? 0) + 1;
      if (n > this.maxMissedCycles) {
        this.missed.delete(id);
        this.health.dropWorker('missed_cycles');
        log.rateLimited('warn', 'missed-cycles', `a worker missed ${n} scrape cycles in a row; its series are dropped`, { worker_id: id });
        continue;
      }
      this.missed.set(id, n);
      workers.set(id, w);
    }
    return workers;
  }

  /**
   * The workers etcd lists for the target (worker id → subject), and whether that list is current.
   * While etcd cannot be consulted it is the last listing: the workers known before the outage
   * are still believed, and new ids wait for etcd (`unverified`), so that no made-up worker
   * enters the view meanwhile. Never listed: nobody can be vouched for.
   */
  private registeredSubjects(): { subjects: ReadonlyMap<bigint, string | undefined>; verified: boolean } {
    if (this.everyWorker !== undefined) return { subjects: this.everyWorker, verified: true };
    const d = this.discovery;
    if (d === undefined || !d.listed) return { subjects: NOBODY, verified: false };
    if (this.registeredCache?.version !== d.version) {
      this.registeredCache = { version: d.version, subjects: new Map(d.list(this.opts.endpoint).map((i) => [i.instanceId, i.subject])) };
    }
    return { subjects: this.registeredCache.subjects, verified: this.health.etcdReachable };
  }

  /**
   * `ProcessedEndpoints` on `namespace.{ns}.l2c.{comp}.{ep}` (object keys are decimal ids): as it
   * is when it fits the NATS server's max_payload, else gzipped, else in gzipped parts
   * (runtime/largeMessages.ts; `subscribeLarge` reads all three). Never dropped silently.
   */
  private async publish(workers: ReadonlyMap<bigint, WorkerStats>, stats: { avg: number; std: number } | undefined): Promise<void> {
    const subject = aggregateSubject(this.opts.namespace, this.opts.component, this.opts.endpoint);
    try {
      const body = encodeAggregate(workers, stats);
      const sent = await publishLarge(this.drt.nats, subject, body);
      this.health.published.set(sent.form, (this.health.published.get(sent.form) ?? 0) + 1);
      if (sent.form !== this.lastPublishForm) {
        this.lastPublishForm = sent.form;
        if (sent.form !== 'plain') {
          log.info(
            `the aggregate of ${workers.size} workers is ${sent.bytes} bytes, above the NATS server's max_payload of ${this.drt.nats.info?.max_payload} bytes: published gzipped${sent.form === 'parts' ? ` in ${sent.parts} parts` : ''} (read it with subscribeLarge)`,
            { subject, bytes: sent.bytes, wire_bytes: sent.wireBytes },
          );
        }
      }
    } catch (err) {
      this.health.publishFailures.set('error', (this.health.publishFailures.get('error') ?? 0) + 1);
      log.rateLimited('error', 'publish-error', 'cannot publish the aggregate', { subject, error: errorMessage(err) });
    }
  }

  /**
   * Stops scraping and listening, keeping the last view and the leader key: what the exporters'
   * final export (at shutdown) carries. `stop()` then releases the key.
   */
  async quiesce(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
    this.intake.leave(this.opts);
    this.discovery?.off('removed', this.onRemoved);
    this.discovery?.off('added', this.onAdded);
    this.discovery?.off('added', this.intake.registrationLanded);
  }

  /** Stops scraping, releases the leader key (a standby takes over at once). */
  async stop(): Promise<void> {
    await this.quiesce();
    await this.election.stop();
    this.current = undefined;
  }
}
