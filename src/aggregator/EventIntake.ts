/**
 * What workers publish, from the NATS socket to the books of the target each worker belongs to
 * (docs/wire-protocol.md §5, §8): KV hit-rate events on `namespace.{ns}.kv-hit-rate` into that
 * target's hit-rate tracker, load events on the `kv_metrics` subjects into its load book. One
 * intake serves every target of a process: each subject is subscribed once, and an event goes to
 * the targets whose etcd registry lists its worker (a hit-rate event names only its worker, and a
 * component's `kv_metrics` subject is shared by its endpoints), never to another target; a worker
 * serving several endpoints is listed under each, and each of those targets counts its events, as
 * one process per target would.
 *
 * Each body is size-checked in the subscription callback (one far larger than any event is
 * refused there, never queued), queued in a bounded queue decoded in batches per turn of the event
 * loop, and routed; an event whose worker no target lists yet is held briefly (its registration
 * may be in flight) until its key lands or the hold ends. Every refusal is counted by reason.
 */
import type { Subscription } from '@nats-io/transport-node';
import type { Attributes, Meter } from '@opentelemetry/api';
import { getLogger } from '../log.ts';
import type { DistributedRuntime, EventSubscription } from '../runtime/DistributedRuntime.ts';
import { componentEventSubject, endpointEventSubject, KV_HIT_RATE_EVENT, KV_METRICS_TOPIC } from '../runtime/names.ts';
import type { AggregatorHealth } from './AggregatorMetrics.ts';
import { EventQueue } from './EventQueue.ts';
import { HeldEvents } from './HeldEvents.ts';
import { decodeHitRateEvent, type HitRateEvent, type HitRateTracker } from './HitRateTracker.ts';
import { MAX_EVENT_BYTES } from '../runtime/inputBounds.ts';
import type { LoadBook } from './LoadBook.ts';
import { decodeLoadEvent, MAX_LOAD_EVENT_BYTES, type LoadReading } from '../runtime/loadEvent.ts';
import { targetPath, type Target } from './targets.ts';

/** How often held events are looked at again while some are held. */
export const HELD_EVENTS_CHECK_MS = 500;
/** Workers whose target the intake remembers (twice the default cap of tracked workers). */
export const MAX_REMEMBERED_OWNERS = 20_000;

const log = getLogger('metrics');

/** The workers etcd lists for a target, and whether that list is current (Aggregator.registeredSubjects). */
export type Registry = () => { subjects: ReadonlyMap<bigint, unknown>; verified: boolean };

/** Where a target's events go, and who it vouches for. */
export interface IntakeSinks {
  tracker: HitRateTracker;
  loadBook: LoadBook;
  health: AggregatorHealth;
  /** The workers the target vouches for (its events are routed by it). */
  registry: Registry;
  /**
   * The target believes any worker (`--discovery-backend kubernetes`): alone in the running it
   * takes every event, and among several it takes those of the workers its registry (the workers
   * it has seen) lists.
   */
  trustsAll?: boolean;
}

/** A load event as queued: its body and the targets its subject may belong to. */
interface QueuedLoad {
  bytes: Uint8Array;
  /** A target's path (its endpoint's subject) or a component's name (the component's subject). */
  scope: string;
  byEndpoint: boolean;
}

interface Member {
  target: Target;
  sinks: IntakeSinks;
  endpointSub: Subscription;
}

export class EventIntake {
  /** Hit-rate events waiting to be decoded. */
  readonly hitRates: EventQueue<Uint8Array>;
  /** Load events waiting to be decoded. */
  readonly loads: EventQueue<QueuedLoad>;
  /** Hit-rate events refused, by reason (none of them is any target's). */
  readonly hitRateRejected = new Map<string, number>();
  /** Load events refused, by reason. */
  readonly loadRejected = new Map<string, number>();
  private readonly heldHitRates = new HeldEvents();
  private readonly heldLoads = new HeldEvents<LoadReading & { scope: string; byEndpoint: boolean }>();
  private heldTimer: NodeJS.Timeout | undefined;
  private settleScheduled = false;
  private namespace: string | undefined;
  private hitRateSub: EventSubscription | undefined;
  /** Component → its `kv_metrics` subscription and how many targets share it. */
  private readonly componentSubs = new Map<string, { sub: Subscription; users: number }>();
  /** Target path → the target. */
  private readonly members = new Map<string, Member>();
  /** The same, as a list (a hit-rate event of a worker not in `lastOwners` looks through it). */
  private memberList: Member[] = [];
  /**
   * Worker id → the targets its latest hit-rate event went to: checked against those targets'
   * registries before the list is searched, so routing costs about the same with one target or a
   * thousand. Cleared when it outgrows `MAX_REMEMBERED_OWNERS`, when a target joins or leaves, and
   * when a registration lands (the worker may now be listed under one more target).
   */
  private readonly lastOwners = new Map<bigint, Member[]>();
  private readonly reasonAttrs = new Map<string, Attributes>();

  constructor(
    private readonly drt: DistributedRuntime,
    maxQueued: number,
  ) {
    this.hitRates = new EventQueue<Uint8Array>(this.onHitRate, maxQueued);
    this.loads = new EventQueue<QueuedLoad>(this.onLoad, maxQueued);
  }

  /**
   * Routes the events of `target` to `sinks` from now on, subscribing to what is not subscribed
   * yet; the subscriptions are live once the caller flushes the connection. Every target of one
   * intake is in one namespace.
   */
  join(target: Target, sinks: IntakeSinks): void {
    const path = targetPath(target);
    if (this.members.has(path)) throw new Error(`${path} already receives events`);
    if (this.namespace !== undefined && this.namespace !== target.namespace)
      throw new Error(`one event intake serves one namespace (${this.namespace}), not ${target.namespace}`);
    if (this.hitRateSub === undefined) {
      this.namespace = target.namespace;
      this.hitRateSub = this.drt.namespace(target.namespace).subscribe(KV_HIT_RATE_EVENT, (e) => {
        if (e.bytes.length > MAX_EVENT_BYTES) return this.refuseHitRate('too_large');
        if (!this.hitRates.push(e.bytes)) this.refuseHitRate('overloaded');
      });
    }
    // load events, on the component's topic (Dynamo until early 2026) and the endpoint's (since)
    const { namespace, component, endpoint } = target;
    const shared = this.componentSubs.get(component);
    if (shared !== undefined) shared.users++;
    else
      this.componentSubs.set(component, {
        sub: this.subscribeLoads(componentEventSubject(namespace, component, KV_METRICS_TOPIC), component, false),
        users: 1,
      });
    const endpointSub = this.subscribeLoads(endpointEventSubject(namespace, component, endpoint, KV_METRICS_TOPIC), path, true);
    this.members.set(path, { target, sinks, endpointSub });
    this.memberList = [...this.members.values()];
    this.lastOwners.clear();
  }

  /** Stops routing the events of `target` (its subscriptions end when no other target shares them). */
  leave(target: Target): void {
    const path = targetPath(target);
    const m = this.members.get(path);
    if (m === undefined) return;
    this.members.delete(path);
    this.memberList = [...this.members.values()];
    this.lastOwners.clear();
    m.endpointSub.unsubscribe();
    const shared = this.componentSubs.get(target.component);
    if (shared !== undefined && --shared.users === 0) {
      shared.sub.unsubscribe();
      this.componentSubs.delete(target.component);
    }
    if (this.members.size === 0) this.stop();
  }

  private subscribeLoads(subject: string, scope: string, byEndpoint: boolean): Subscription {
    return this.drt.nats.subscribe(subject, {
      callback: (err, msg) => {
        if (err !== null) return;
        if (msg.data.length > MAX_LOAD_EVENT_BYTES) return this.refuseLoad('too_large');
        if (!this.loads.push({ bytes: msg.data, scope, byEndpoint })) this.refuseLoad('overloaded');
      },
    });
  }

  /** A registration landed: held events may now count (once per turn, however many landed). */
  readonly registrationLanded = (): void => {
    if (this.lastOwners.size > 0) this.lastOwners.clear();
    if ((this.heldHitRates.size === 0 && this.heldLoads.size === 0) || this.settleScheduled) return;
    this.settleScheduled = true;
    setImmediate(this.settle);
  };

  stop(): void {
    this.hitRateSub?.unsubscribe();
    this.hitRateSub = undefined;
    this.namespace = undefined;
    for (const { sub } of this.componentSubs.values()) sub.unsubscribe();
    this.componentSubs.clear();
    for (const m of this.members.values()) m.endpointSub.unsubscribe();
    this.members.clear();
    this.memberList = [];
    this.lastOwners.clear();
    clearInterval(this.heldTimer);
    this.heldTimer = undefined;
  }

  /** The targets a load event's subject may belong to. */
  private candidates(scope: string, byEndpoint: boolean): Member[] {
    if (byEndpoint) {
      const m = this.members.get(scope);
      return m === undefined ? [] : [m];
    }
    const out: Member[] = [];
    for (const m of this.members.values()) if (m.target.component === scope) out.push(m);
    return out;
  }

  /**
   * The candidates whose registry lists `id` (a worker serving several endpoints is listed under
   * each, and each of those targets counts its events, as one process per target would); when
   * none does, whether any candidate's list is current (the event may then be held).
   */
  private owners(candidates: readonly Member[], id: bigint): Member[] | { verified: boolean } {
    const [only] = candidates;
    if (candidates.length === 1 && only?.sinks.trustsAll === true) return [only];
    let found: Member[] | undefined;
    let verified = false;
    for (const m of candidates) {
      const r = m.sinks.registry(); // cached per etcd listing version
      if (r.subjects.has(id)) {
        found ??= [];
        found.push(m);
      } else verified ||= r.verified;
    }
    return found ?? { verified };
  }

  /** The targets a hit-rate event of `id` goes to: remembered while each still lists the worker. */
  private hitRateOwners(id: bigint): Member[] | { verified: boolean } {
    const known = this.lastOwners.get(id);
    if (known?.every((m) => m.sinks.registry().subjects.has(id))) return known;
    const owners = this.owners(this.memberList, id);
    if (Array.isArray(owners) && this.memberList.length > 1) {
      if (this.lastOwners.size >= MAX_REMEMBERED_OWNERS) this.lastOwners.clear();
      this.lastOwners.set(id, owners);
    }
    return owners;
  }

  private readonly onHitRate = (bytes: Uint8Array): void => {
    const e = decodeHitRateEvent(bytes);
    if (typeof e === 'string') {
      this.refuseHitRate(e);
      return;
    }
    const list = this.memberList;
    const only = list.length === 1 ? list[0] : undefined;
    if (only !== undefined) {
      // one target (the common case): no list to build, nothing to remember
      const r = only.sinks.registry();
      if (only.sinks.trustsAll === true || r.subjects.has(e.workerId)) only.sinks.tracker.add(e);
      else this.unknownHitRate(e, r.verified);
      return;
    }
    const owners = this.hitRateOwners(e.workerId);
    if (Array.isArray(owners)) {
      for (const m of owners) m.sinks.tracker.add(e);
      return;
    }
    this.unknownHitRate(e, owners.verified);
  };

  /** An event of a worker no target lists: held for its registration while etcd can vouch for it, else refused. */
  private unknownHitRate(e: HitRateEvent, verified: boolean): void {
    if (verified && this.heldHitRates.hold(e, Date.now())) this.watchHeld();
    else this.refuseHitRate(verified ? 'unregistered_worker' : 'unverified_worker');
  }

  /** One load event: decoded, routed by etcd's registry (held while a registration may be in flight), recorded. */
  private readonly onLoad = (q: QueuedLoad): void => {
    const r = decodeLoadEvent(q.bytes);
    if (typeof r === 'string') {
      this.refuseLoad(r);
      return;
    }
    const owners = this.owners(this.candidates(q.scope, q.byEndpoint), r.workerId);
    if (Array.isArray(owners)) {
      for (const m of owners) this.recordLoad(m, r);
      return;
    }
    if (owners.verified && this.heldLoads.hold({ ...r, scope: q.scope, byEndpoint: q.byEndpoint }, Date.now())) this.watchHeld();
    else this.refuseLoad(owners.verified ? 'unregistered_worker' : 'unverified_worker');
  };

  private recordLoad(m: Member, r: LoadReading): void {
    if (m.sinks.loadBook.record(r, Date.now())) m.sinks.health.loadEventsAccepted++;
    else this.refuseLoad('overloaded');
  }

  private refuseHitRate(reason: string): void {
    this.hitRateRejected.set(reason, (this.hitRateRejected.get(reason) ?? 0) + 1);
    log.rateLimited('warn', `event-${reason}`, 'dropped a KV hit-rate event', { reason });
  }

  private refuseLoad(reason: string): void {
    this.loadRejected.set(reason, (this.loadRejected.get(reason) ?? 0) + 1);
    log.rateLimited('warn', `load-event-${reason}`, 'dropped a load event', { reason });
  }

  private watchHeld(): void {
    this.heldTimer ??= setInterval(this.settle, HELD_EVENTS_CHECK_MS).unref();
  }

  /** Counts the held events whose worker is now registered, and refuses those held too long. */
  private readonly settle = (): void => {
    this.settleScheduled = false;
    const now = Date.now();
    const members = this.memberList;
    const hitRates = this.heldHitRates.settle((id) => Array.isArray(this.owners(members, id)), now);
    for (const e of hitRates.ready) {
      const owners = this.owners(members, e.workerId);
      if (Array.isArray(owners)) for (const m of owners) m.sinks.tracker.add(e);
    }
    for (let i = 0; i < hitRates.expired; i++) this.refuseHitRate('unregistered_worker');
    const loads = this.heldLoads.settle((id) => Array.isArray(this.owners(members, id)), now);
    for (const l of loads.ready) {
      const owners = this.owners(this.candidates(l.scope, l.byEndpoint), l.workerId);
      if (Array.isArray(owners)) for (const m of owners) this.recordLoad(m, l);
      else this.refuseLoad('unregistered_worker'); // listed, but for another target than its subject's
    }
    for (let i = 0; i < loads.expired; i++) this.refuseLoad('unregistered_worker');
    if (this.heldHitRates.size === 0 && this.heldLoads.size === 0 && this.heldTimer !== undefined) {
      clearInterval(this.heldTimer);
      this.heldTimer = undefined;
    }
  };

  private reason(r: string): Attributes {
    let a = this.reasonAttrs.get(r);
    if (a === undefined) {
      a = { reason: r };
      this.reasonAttrs.set(r, a);
    }
    return a;
  }

  /** Exports the refusals, for every target at once (docs/metrics.md §3). */
  observeWith(meter: Meter): void {
    const eventsRejected = meter.createObservableCounter('dynamo_metrics_events_rejected_total', {
      description: 'KV hit-rate events rejected, by reason',
    });
    const loadRejected = meter.createObservableCounter('dynamo_metrics_load_events_rejected_total', {
      description: 'Load events (kv_metrics) rejected, by reason',
    });
    meter.addBatchObservableCallback(
      (r) => {
        for (const [reason, n] of this.hitRateRejected) r.observe(eventsRejected, n, this.reason(reason));
        for (const [reason, n] of this.loadRejected) r.observe(loadRejected, n, this.reason(reason));
      },
      [eventsRejected, loadRejected],
    );
  }
}
