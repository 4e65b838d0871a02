/**
 * One aggregator per target (docs/wire-protocol.md §7): the lease-bound key `metrics/{ns}/{comp}/{ep}/leader`,
 * create-if-absent. A second instance waits as a hot standby and takes over when the key is
 * deleted (the leader stopped, or its lease expired). A watch makes take-over prompt; a periodic
 * check covers what a watch can miss (etcd restarted with its data gone, the lease replaced).
 */
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import type { Watcher } from 'etcd3';
import { getLogger } from '../log.ts';
import type { DistributedRuntime } from '../runtime/DistributedRuntime.ts';
import { stringifyJson } from '../runtime/json.ts';
import { errorMessage } from '../errors.ts';

export const DEFAULT_LEADER_CHECK_INTERVAL_MS = 2_000;

const log = getLogger('metrics::leader');

export interface LeaderElectionEvents {
  changed: [isLeader: boolean];
}

export class LeaderElection extends EventEmitter<LeaderElectionEvents> {
  private leader = false;
  private watcher: Watcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private busy: Promise<void> | undefined;

  constructor(
    private readonly drt: DistributedRuntime,
    readonly key: string,
    /** Told whether each etcd check went through. */
    private readonly onEtcdResult: (ok: boolean) => void = () => undefined,
    private readonly checkIntervalMs = DEFAULT_LEADER_CHECK_INTERVAL_MS,
  ) {
    super();
  }

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
      const res = await etcd
        .if(this.key, 'Version', '==', 0)
        .then(etcd.put(this.key).value(mine).lease(this.drt.lease.idString))
        .else(etcd.get(this.key))
        .commit();
      let holder: string | undefined;
      if (res.succeeded) {
        holder = mine;
      } else {
        const kv = res.responses[0]?.response_range?.kvs[0];
        holder = kv?.value.toString();
      }
      this.onEtcdResult(true);
      this.set(holder === mine && !this.stopped);
    } catch (err) {
      this.onEtcdResult(false);
      // etcd unreachable: keep the current role; the lease decides if it lasts too long.
      log.rateLimited('warn', 'leader-check', 'cannot check the leader key', { key: this.key, error: errorMessage(err) });
    }
  }

  private set(isLeader: boolean): void {
    if (isLeader === this.leader) return;
    this.leader = isLeader;
    log.info(isLeader ? `leading ${this.key}` : this.stopped ? `released ${this.key}` : `standing by: ${this.key} is held by another instance`);
    this.emit('changed', isLeader);
  }

  /** Stops, and releases the key if held so that a standby takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.drt.off('leaseChanged', this.onLeaseChanged);
    await this.busy;
    await this.watcher?.cancel().catch(() => undefined);
    if (this.leader) {
      const etcd = this.drt.etcd;
      await etcd
        .if(this.key, 'Value', '==', this.value())
        .then(etcd.delete().key(this.key))
        .commit()
        .catch(() => undefined);
      this.set(false);
    }
  }
}
