/**
 * One aggregator per target (docs/wire-protocol.md §7): the lease-bound key `metrics/{ns}/{comp}/{ep}/leader`,
 * create-if-absent. A second instance waits as a hot standby and takes over when the key is
 * deleted (the leader stopped, or its lease expired). A watch makes take-over prompt; a periodic
 * check covers what a watch can miss (etcd restarted with its data gone, the lease replaced).
 *
 * Fencing: a leader whose lease etcd has not confirmed for its TTL less a margin (by this
 * process's clock, from the send time of the last answered renewal) stops leading on its own,
 * before the lease can expire and a standby can take the key: when etcd's traffic stalls (a
 * frozen connection, not a refused one) there are never two aggregators exporting worker series.
 * It leads again once a check confirms the key and the lease is renewed.
 */
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import type { Watcher } from 'etcd3';
import { getLogger } from '../log.ts';
import type { DistributedRuntime } from '../runtime/DistributedRuntime.ts';
import { stringifyJson } from '../runtime/json.ts';
import { errorMessage } from '../errors.ts';
import { settleWithin } from '../time.ts';

export const DEFAULT_LEADER_CHECK_INTERVAL_MS = 2_000;
/** A check of the leader key that has not answered after this long counts as etcd unreachable. */
export const DEFAULT_LEADER_CHECK_TIMEOUT_MS = 2_000;
/** A leader steps down this long before its lease could expire, unconfirmed. */
export const DEFAULT_LEADER_FENCE_MARGIN_MS = 2_000;
/** How often a leader compares the time with its lease's confirmed life. */
export const LEADER_FENCE_CHECK_INTERVAL_MS = 200;
/**
 * A free key that `claim` declines is taken anyway once it has been seen free this long: a target
 * is never left without a leader because every replica holds its share.
 */
export const DEFAULT_UNCLAIMED_TAKE_MS = 4_000;

const TIMED_OUT = Symbol('timed out');

const log = getLogger('metrics::leader');

export interface LeaderElectionEvents {
  changed: [isLeader: boolean];
}

export class LeaderElection extends EventEmitter<LeaderElectionEvents> {
  private leader = false;
  private watcher: Watcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private fenceTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private busy: Promise<void> | undefined;

  constructor(
    private readonly drt: DistributedRuntime,
    readonly key: string,
    /** Told whether each etcd check went through. */
    private readonly onEtcdResult: (ok: boolean) => void = () => undefined,
    private readonly checkIntervalMs = DEFAULT_LEADER_CHECK_INTERVAL_MS,
    private readonly fenceMarginMs = DEFAULT_LEADER_FENCE_MARGIN_MS,
    private readonly checkTimeoutMs = DEFAULT_LEADER_CHECK_TIMEOUT_MS,
    /**
     * Asked before taking a free key (AggregatorSet: whether this replica leads fewer targets than
     * its share); a declined key is taken anyway after `DEFAULT_UNCLAIMED_TAKE_MS`. @default always
     */
    private readonly claim?: () => Promise<boolean>,
  ) {
    super();
  }

  /** When the key was first seen free while `claim` declined it. */
  private freeSince: number | undefined;

  get isLeader(): boolean {
    return this.leader;
  }

  private value(): string {
    return stringifyJson({ instance_id: this.drt.instanceId, host: hostname(), pid: process.pid });
  }

  private readonly onLeaseChanged = (): void => void this.check();

  async start(): Promise<void> {
    this.drt.on('leaseChanged', this.onLeaseChanged);
    await this.check();
    if (!this.leader) log.info(`standing by: ${this.key} is held by another instance`);
    try {
      const w = await this.drt.etcd.watch().key(this.key).create();
      this.watcher = w;
      w.on('delete', () => void this.check());
      w.on('error', () => undefined);
    } catch (err) {
      log.warn('cannot watch the leader key; relying on periodic checks', { key: this.key, error: errorMessage(err) });
    }
    this.timer = setInterval(() => void this.check(), this.checkIntervalMs);
    this.fenceTimer = setInterval(() => this.fence(), LEADER_FENCE_CHECK_INTERVAL_MS);
  }

  /** Whether the lease is confirmed for longer than the margin from now. */
  private leaseConfirmed(): boolean {
    return Date.now() < this.drt.lease.confirmedUntil() - this.fenceMarginMs;
  }

  /** Stops leading when the lease could expire soon without this process knowing it was renewed. */
  private fence(): void {
    if (!this.leader || this.leaseConfirmed()) return;
    const age = (Date.now() - (this.drt.lease.confirmedUntil() - this.drt.lease.ttlSeconds * 1000)) / 1000;
    log.warn(`etcd has not confirmed the lease for ${age.toFixed(1)} s: no longer leading ${this.key} before the lease can expire`);
    this.set(false);
  }

  /** Acquires the key if free; confirms or gives up leadership according to who holds it. */
  check(): Promise<void> {
    this.busy ??= this.doCheck().finally(() => {
      this.busy = undefined;
    });
    return this.busy;
  }

  private async doCheck(): Promise<void> {
    if (this.stopped) return;
    const etcd = this.drt.etcd;
    const mine = this.value();
    try {
      if (!this.leader && this.claim !== undefined && !(await this.mayTake())) return;
      const res = await settleWithin(
        etcd
          .if(this.key, 'Version', '==', 0)
          .then(etcd.put(this.key).value(mine).lease(this.drt.lease.idString))
          .else(etcd.get(this.key))
          .commit(),
        this.checkTimeoutMs,
        TIMED_OUT,
      );
      if (res === TIMED_OUT) throw new Error(`etcd did not answer within ${this.checkTimeoutMs} ms`);
      let holder: string | undefined;
      if (res.succeeded) {
        holder = mine;
      } else {
        const kv = res.responses[0]?.response_range?.kvs[0];
        holder = kv?.value.toString();
      }
      this.onEtcdResult(true);
      // a fenced leader leads again only once its lease is confirmed too
      this.set(holder === mine && !this.stopped && this.leaseConfirmed());
    } catch (err) {
      this.onEtcdResult(false);
      // etcd unreachable: keep the current role; the lease decides if it lasts too long.
      log.rateLimited('warn', 'leader-check', 'cannot check the leader key', { key: this.key, error: errorMessage(err) });
    }
  }

  /**
   * With `claim`: whether to try for the key now. A held key: no (checked as a standby would be).
   * A free one: if `claim` says so, or once it has been free for `DEFAULT_UNCLAIMED_TAKE_MS`.
   */
  private async mayTake(): Promise<boolean> {
    const held = await settleWithin(this.drt.etcd.get(this.key).string(), this.checkTimeoutMs, TIMED_OUT);
    if (held === TIMED_OUT) throw new Error(`etcd did not answer within ${this.checkTimeoutMs} ms`);
    this.onEtcdResult(true);
    if (held !== null) {
      this.freeSince = undefined;
      this.set(false);
      return false;
    }
    const now = Date.now();
    this.freeSince ??= now;
    return now - this.freeSince >= DEFAULT_UNCLAIMED_TAKE_MS || this.claim === undefined || (await this.claim());
  }

  /**
   * Gives the key up while staying in the election (another replica takes it; this one stands by
   * and takes it back only when `claim` allows or nobody else does).
   */
  async resign(): Promise<void> {
    if (!this.leader) return;
    const etcd = this.drt.etcd;
    this.set(false);
    this.freeSince = Date.now();
    await settleWithin(
      etcd
        .if(this.key, 'Value', '==', this.value())
        .then(etcd.delete().key(this.key))
        .commit()
        .catch(() => undefined),
      this.checkTimeoutMs,
      undefined,
    );
  }

  private set(isLeader: boolean): void {
    if (isLeader === this.leader) return;
    this.leader = isLeader;
    if (isLeader) this.freeSince = undefined;
    log.info(
      isLeader ? `leading ${this.key}` : this.stopped ? `released ${this.key}` : `standing by: ${this.key} is held by another instance`,
    );
    this.emit('changed', isLeader);
  }

  /** Stops, and releases the key if held so that a standby takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    clearInterval(this.fenceTimer);
    this.drt.off('leaseChanged', this.onLeaseChanged);
    await this.busy;
    await this.watcher?.cancel().catch(() => undefined);
    // compare-and-delete: a fenced leader may still hold the key; a standby's value never matches
    const etcd = this.drt.etcd;
    const release = etcd.if(this.key, 'Value', '==', this.value()).then(etcd.delete().key(this.key)).commit();
    await settleWithin(
      release.catch(() => undefined),
      this.checkTimeoutMs,
      undefined,
    );
    this.set(false);
  }
}
