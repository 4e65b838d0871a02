/**
 * What workers publish, from the NATS socket to the aggregator's books (docs/wire-protocol.md §5,
 * §8): KV hit-rate events on `namespace.{ns}.kv-hit-rate` into the hit-rate tracker, load events
 * on the target's `kv_metrics` subjects into the load book. Each body is size-checked in the
 * subscription callback (one far larger than any event is refused there, never queued), queued
 * in a bounded queue decoded in batches per turn of the event loop, checked against etcd's
 * registry, and, for a worker etcd does not list yet, held briefly (its registration may be in
 * flight) until its key lands or the hold ends. Every refusal is counted by reason.
 */
import type { Subscription } from '@nats-io/transport-node';
import { getLogger } from '../log.ts';
import type { DistributedRuntime, EventSubscription } from '../runtime/DistributedRuntime.ts';
import { componentEventSubject, endpointEventSubject, KV_HIT_RATE_EVENT, KV_METRICS_TOPIC } from '../runtime/names.ts';
import type { AggregatorHealth } from './AggregatorMetrics.ts';
import { EventQueue } from './EventQueue.ts';
import { HeldEvents } from './HeldEvents.ts';
import type { HitRateEvent, HitRateTracker } from './HitRateTracker.ts';
import { MAX_EVENT_BYTES } from './inputBounds.ts';
import type { LoadBook } from './LoadBook.ts';
import { decodeLoadEvent, MAX_LOAD_EVENT_BYTES, type LoadReading } from './loadEvent.ts';

/** How often held events are looked at again while some are held. */
export const HELD_EVENTS_CHECK_MS = 500;

const log = getLogger('metrics');

/** The workers etcd lists for the target, and whether that list is current (Aggregator.registeredSubjects). */
export type Registry = () => { subjects: ReadonlyMap<bigint, string | undefined>; verified: boolean };

export interface IntakeSinks {
  tracker: HitRateTracker;
  loadBook: LoadBook;
  health: AggregatorHealth;
  registry: Registry;
}

export interface IntakeTarget {
  namespace: string;
  component: string;
  endpoint: string;
}

export class EventIntake {
  /** Hit-rate events waiting to be decoded. */
  readonly hitRates: EventQueue<Uint8Array>;
  /** Load events waiting to be decoded. */
  readonly loads: EventQueue<Uint8Array>;
  private readonly heldHitRates = new HeldEvents();
  private readonly heldLoads = new HeldEvents<LoadReading>();
  private heldTimer: NodeJS.Timeout | undefined;
  private settleScheduled = false;
  private hitRateSub: EventSubscription | undefined;
  private loadSubs: Subscription[] = [];

  constructor(
    private readonly sinks: IntakeSinks,
    maxQueued: number,
  ) {
    this.hitRates = new EventQueue<Uint8Array>(this.onHitRate, maxQueued);
    this.loads = new EventQueue<Uint8Array>(this.onLoad, maxQueued);
  }

  /** Subscribes; the subscriptions are live once the caller flushes the connection. */
  subscribe(drt: DistributedRuntime, target: IntakeTarget): void {
    const { tracker } = this.sinks;
    this.hitRateSub = drt.namespace(target.namespace).subscribe(KV_HIT_RATE_EVENT, (e) => {
      if (e.bytes.length > MAX_EVENT_BYTES) {
        tracker.reject('too_large');
        log.rateLimited('warn', 'event-too_large', 'dropped a KV hit-rate event', { reason: 'too_large', bytes: e.bytes.length });
        return;
      }
      if (!this.hitRates.push(e.bytes)) {
        tracker.reject('overloaded');
        log.rateLimited('warn', 'event-overloaded', 'dropped a KV hit-rate event: the event queue is full', { reason: 'overloaded' });
      }
    });
    // load events, on the component's topic (Dynamo until early 2026) and the endpoint's (since)
    const { namespace, component, endpoint } = target;
    for (const subject of [componentEventSubject(namespace, component, KV_METRICS_TOPIC), endpointEventSubject(namespace, component, endpoint, KV_METRICS_TOPIC)]) {
      this.loadSubs.push(
        drt.nats.subscribe(subject, {
          callback: (err, msg) => {
            if (err !== null) return;
            if (msg.data.length > MAX_LOAD_EVENT_BYTES) return this.refuseLoad('too_large');
            if (!this.loads.push(msg.data)) this.refuseLoad('overloaded');
          },
        }),
      );
    }
  }

  /** A registration landed: held events may now count (once per turn, however many landed). */
  readonly registrationLanded = (): void => {
    if ((this.heldHitRates.size === 0 && this.heldLoads.size === 0) || this.settleScheduled) return;
    this.settleScheduled = true;
    setImmediate(this.settle);
  };

  stop(): void {
    this.hitRateSub?.unsubscribe();
    for (const sub of this.loadSubs) sub.unsubscribe();
    this.loadSubs = [];
    clearInterval(this.heldTimer);
    this.heldTimer = undefined;
  }

  private readonly onHitRate = (bytes: Uint8Array): void => {
    const r = this.sinks.registry(); // cached per etcd listing version
    // an unknown worker's events wait for its registration while etcd can vouch for it
    const hold = r.verified ? this.holdHitRate : undefined;
    const reason = this.sinks.tracker.ingest(bytes, (id) => r.subjects.has(id), r.verified ? 'unregistered_worker' : 'unverified_worker', hold);
    if (reason !== undefined && reason !== 'held') log.rateLimited('warn', `event-${reason}`, 'dropped a KV hit-rate event', { reason });
  };

  private readonly holdHitRate = (e: HitRateEvent): boolean => {
    if (!this.heldHitRates.hold(e, Date.now())) return false;
    this.watchHeld();
    return true;
  };

  /** One load event: decoded, checked against etcd (held while a registration may be in flight), recorded. */
  private readonly onLoad = (bytes: Uint8Array): void => {
    const r = decodeLoadEvent(bytes);
    if (typeof r === 'string') return this.refuseLoad(r);
    const reg = this.sinks.registry();
    if (!reg.subjects.has(r.workerId)) {
      if (reg.verified && this.heldLoads.hold(r, Date.now())) return this.watchHeld();
      return this.refuseLoad(reg.verified ? 'unregistered_worker' : 'unverified_worker');
    }
    this.recordLoad(r);
  };

  private recordLoad(r: LoadReading): void {
    if (!this.sinks.loadBook.record(r, Date.now())) return this.refuseLoad('overloaded');
    this.sinks.health.loadEventsAccepted++;
  }

  private refuseLoad(reason: string): void {
    this.sinks.health.rejectLoadEvent(reason);
    log.rateLimited('warn', `load-event-${reason}`, 'dropped a load event', { reason });
  }

  private watchHeld(): void {
    this.heldTimer ??= setInterval(this.settle, HELD_EVENTS_CHECK_MS).unref();
  }

  /** Counts the held events whose worker is now registered, and refuses those held too long. */
  private readonly settle = (): void => {
    this.settleScheduled = false;
    const r = this.sinks.registry();
    const now = Date.now();
    const hitRates = this.heldHitRates.settle((id) => r.subjects.has(id), now);
    for (const e of hitRates.ready) this.sinks.tracker.add(e);
    for (let i = 0; i < hitRates.expired; i++) this.sinks.tracker.reject('unregistered_worker');
    if (hitRates.expired > 0) log.rateLimited('warn', 'event-unregistered_worker', 'dropped a KV hit-rate event', { reason: 'unregistered_worker' });
    const loads = this.heldLoads.settle((id) => r.subjects.has(id), now);
    for (const l of loads.ready) this.recordLoad(l);
    for (let i = 0; i < loads.expired; i++) this.refuseLoad('unregistered_worker');
    if (this.heldHitRates.size === 0 && this.heldLoads.size === 0 && this.heldTimer !== undefined) {
      clearInterval(this.heldTimer);
      this.heldTimer = undefined;
    }
  };
}
