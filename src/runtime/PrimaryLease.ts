/**
 * The process's primary etcd lease (docs/wire-protocol.md §3): TTL 10 s, kept alive continuously
 * (with the other leases of its etcd client, LeaseKeepAlive.ts); when it is lost a new one is granted
 * and listeners re-register; revoked on clean shutdown.
 */
import { EventEmitter } from 'node:events';
import type { Etcd3, Lease } from 'etcd3';
import { getLogger } from '../log.ts';
import { EtcdUnavailableError } from './errors.ts';
import { sleep, withTimeout } from '../time.ts';
import { grantLease, isFatalGrantError } from './leaseGrants.ts';
import { LeaseKeepAlive } from './LeaseKeepAlive.ts';
import { errorMessage } from '../errors.ts';

export const DEFAULT_LEASE_TTL_SECONDS = 10;
/** Pause between attempts to grant a replacement lease while etcd is unreachable. */
export const DEFAULT_REGRANT_INTERVAL_MS = 1_000;

const log = getLogger('runtime::lease');

export interface PrimaryLeaseEvents {
  /** A new lease replaced a lost one; everything bound to the old id must be re-registered. */
  changed: [newId: bigint, oldId: bigint];
}

export class PrimaryLease extends EventEmitter<PrimaryLeaseEvents> {
  private lease: Lease;
  private closed = false;
  private regranting = false;
  private readonly keepAlive: LeaseKeepAlive;

  private constructor(
    private readonly etcd: Etcd3,
    readonly ttlSeconds: number,
    lease: Lease,
    private currentId: bigint,
  ) {
    super();
    this.keepAlive = LeaseKeepAlive.of(etcd);
    this.lease = lease;
    this.watch(lease, currentId);
  }

  /**
   * Grants the first lease, paced with the other grants on this client and retried with backoff
   * (leaseGrants.ts); throws `EtcdUnavailableError` once etcd has granted nothing for `timeoutMs`.
   */
  static async grant(etcd: Etcd3, ttlSeconds: number, timeoutMs: number, endpoints: string): Promise<PrimaryLease> {
    const unreachable = (why: string): EtcdUnavailableError =>
      new EtcdUnavailableError(`cannot reach etcd at ${endpoints} ${why}; is etcd running? (set ETCD_ENDPOINTS or --etcd-endpoints)`);
    try {
      const { lease, id } = await grantLease(etcd, {
        ttlSeconds,
        deadlineMs: timeoutMs,
        unreachable: (last) =>
          unreachable(
            last === undefined || /timed out|timeout/i.test(errorMessage(last)) ? `within ${timeoutMs} ms` : `(${shortReason(last)})`,
          ),
      });
      return new PrimaryLease(etcd, ttlSeconds, lease, id);
    } catch (err) {
      if (err instanceof EtcdUnavailableError) throw err;
      if (isFatalGrantError(err)) {
        throw new EtcdUnavailableError(
          `etcd at ${endpoints} refused the credentials (${shortReason(err)}); check ETCD_AUTH_USERNAME and ETCD_AUTH_PASSWORD`,
        );
      }
      throw unreachable(`(${shortReason(err)})`);
    }
  }

  /** The current lease id: this process's instance id. */
  get id(): bigint {
    return this.currentId;
  }

  /** The lease id as etcd3 wants it (a decimal string). */
  get idString(): string {
    return this.currentId.toString();
  }

  /**
   * Until when (`Date.now()` milliseconds) the current lease is known to live: the send time of
   * its latest renewal etcd answered plus its TTL. A holder of a lease-bound key (a leader) that
   * is past this moment may already have lost the key to another process.
   */
  confirmedUntil(): number {
    return this.keepAlive.confirmedUntil(this.currentId) ?? 0;
  }

  /** Keeps `lease` alive; its loss (told by the keepalive, or by etcd refusing a put) starts one regrant. */
  private watch(lease: Lease, id: bigint): void {
    const lost = (err: Error): void => {
      if (this.closed || lease !== this.lease || this.regranting) return;
      this.regranting = true;
      this.keepAlive.remove(id);
      lease.release();
      // rate limited: one process may hold thousands of leases (mock_worker), all lost at once
      log.rateLimited('warn', 'lease-lost', 'primary lease lost; granting a new one', { lease_id: id, error: err.message });
      // regrant() ends only with a new lease (which clears the flag) or at close
      void this.regrant();
    };
    lease.on('lost', lost);
    this.keepAlive.add(id, this.ttlSeconds, lost);
  }

  /** Grants a replacement, paced and retried with backoff for as long as it takes (never gives up while open). */
  private async regrant(): Promise<void> {
    const oldId = this.currentId;
    while (!this.closed) {
      try {
        const { lease, id } = await grantLease(this.etcd, {
          ttlSeconds: this.ttlSeconds,
          deadlineMs: this.ttlSeconds * 1000,
          unreachable: (last) => new EtcdUnavailableError(shortReason(last)),
          cancelled: () => this.closed,
        });
        if (this.closed) {
          await lease.revoke().catch(() => undefined);
          return;
        }
        this.lease = lease;
        this.currentId = id;
        // a loss of the new lease, however soon, starts a regrant of its own
        this.regranting = false;
        this.watch(lease, id);
        log.rateLimited('info', 'lease-granted', 'new primary lease granted', { lease_id: id, previous: oldId });
        // the old lease may have survived on the server (etcd refreshes leases on restart): the
        // listener revokes it once everything is bound to the new one (revokeEarlier)
        this.emit('changed', id, oldId);
        return;
      } catch (err) {
        log.rateLimited('warn', 'regrant', 'cannot grant a new lease yet; retrying', { error: shortReason(err) });
        await sleep(DEFAULT_REGRANT_INTERVAL_MS);
      }
    }
  }

  /**
   * Revokes a lease this one replaced, in case it survived on the server (etcd refreshes leases
   * on restart), so that the keys still bound to it go now rather than at its TTL. Never throws,
   * never hangs past `timeoutMs`.
   */
  async revokeEarlier(oldId: bigint, timeoutMs: number): Promise<void> {
    if (oldId === this.currentId) return;
    await withTimeout(this.etcd.leaseClient.leaseRevoke({ ID: oldId.toString() }), timeoutMs, undefined).catch(() => undefined);
  }

  /** Revokes the lease (its keys vanish at once) and stops the keepalive. Never hangs past `timeoutMs`. */
  async revoke(timeoutMs: number): Promise<void> {
    this.closed = true;
    this.keepAlive.remove(this.currentId);
    await withTimeout(this.lease.revoke(), timeoutMs, undefined).catch((err: Error) => {
      log.debug('lease revoke failed; it will expire by its TTL', { error: err.message });
    });
    this.lease.release();
  }
}

/** grpc errors are long ("14 UNAVAILABLE: No connection established. Last error: ..."); keep the cause. */
function shortReason(err: unknown): string {
  const msg = errorMessage(err);
  const sys = /(ECONNREFUSED|ENOTFOUND|ETIMEDOUT|EHOSTUNREACH|ECONNRESET)( \S+?)?(?=\.?(\s|$))/.exec(msg);
  if (sys) return sys[0];
  return (msg.split(/\. /, 1)[0] ?? '').slice(0, 200);
}
