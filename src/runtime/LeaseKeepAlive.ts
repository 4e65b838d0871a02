/**
 * The keepalive of an etcd client, shared by every lease granted on it (docs/runtime-api.md,
 * "Registration bursts").
 *
 * etcd3's `Lease` keeps itself alive with a gRPC stream, an interval timer and a debounce timer
 * of its own. That suits one lease per process, the normal case; a process holding thousands
 * (`mock_worker --workers 10000`, a test fleet) opened thousands of streams: at 10,000 leases it
 * spent 270 ms of CPU per second idle, and etcd 570 ms, and a starved process sent its
 * keepalives so late that leases were lost faster than they were granted again.
 *
 * Here every lease granted on a client is renewed by a single timer over a few shared streams: each
 * lease is renewed a third of its TTL after its last renewal (the Go client's and etcd3's period); a
 * lease is lost when etcd answers TTL 0 (expired or revoked) or after two TTLs without a renewal
 * (etcd3's rule); a stream that errs, ends or stops answering is replaced, and every lease of it is
 * renewed on the next one at once (so a lease etcd lost with its data is known lost within a turn).
 * Why several streams and not one: etcd answers a stream's renewals one after another, and a
 * renewal of a lease that has just expired waits there until etcd has revoked it; at 10,000 leases
 * on one stream, a few late leases held up the renewals of all the others until they expired too.
 * Leases are dealt to `KEEPALIVE_STREAMS` streams in turn, so a stall holds up a fraction of them,
 * and a process with one lease opens one stream.
 */
import type { Etcd3 } from 'etcd3';
import type { IDuplexStream, ILeaseKeepAliveRequest, ILeaseKeepAliveResponse } from 'etcd3/lib/rpc.js';
import { getLogger } from '../log.ts';
import { errorMessage } from '../errors.ts';
import { LeaseLostError } from './errors.ts';

/** How often the due leases are renewed (the Go client's loop period). */
export const KEEPALIVE_TICK_MS = 500;
/** Streams at most per etcd client; leases are dealt to them in turn. */
export const KEEPALIVE_STREAMS = 64;
/** An attempt to open a stream that has not settled after this long is abandoned and made again. */
export const KEEPALIVE_STREAM_OPEN_TIMEOUT_MS = 5_000;
/** Pause before opening a new stream after one failed (etcd3's). */
export const KEEPALIVE_STREAM_RETRY_MS = 100;
/** A lease is renewed after this fraction of its TTL (the Go client's and etcd3's). */
export const KEEPALIVE_FRACTION_OF_TTL = 1 / 3;
/** A lease with no renewal for this many TTLs is given up as lost (etcd3's rule). */
export const KEEPALIVE_LOST_AFTER_TTLS = 2;

const log = getLogger('runtime::lease');

/** etcd3's ClientClosedError, told by its message (the class is not imported: no etcd3 at load). */
const CLIENT_CLOSED = /client was already closed/;

type KeepAliveStream = IDuplexStream<ILeaseKeepAliveRequest, ILeaseKeepAliveResponse>;

interface Entry {
  readonly id: string;
  readonly ttlMs: number;
  readonly onLost: (err: Error) => void;
  /** When the next renewal is due. */
  dueAt: number;
  /** When etcd last renewed it (or granted it). */
  renewedAt: number;
  /**
   * When the latest renewal etcd answered was sent (or the grant): etcd restarted the TTL after
   * that moment, so the lease lives at least until `confirmedAt + ttlMs`.
   */
  confirmedAt: number;
  /** When the renewal in flight was sent. */
  sentAt: number;
  /** A renewal was written and not yet answered. */
  awaiting: boolean;
  /** The stream it is renewed on. */
  readonly shard: Shard;
}

/** One keepalive stream and the renewals it has not answered. */
interface Shard {
  stream: KeepAliveStream | undefined;
  opening: boolean;
  openingSince: number;
  /** Counts attempts to open, so that a late answer to an abandoned one is told apart. */
  attempt: number;
  retryAt: number;
  /** Unanswered renewals on the current stream, and when the stream last made progress. */
  outstanding: number;
  progressAt: number;
  /** Its leases. */
  leases: number;
  /** Its stream failed or stalled: the next one renews every lease of the shard at once. */
  replacing: boolean;
}

/** What the keepalive of a client has done (for tests and logs). */
export interface KeepAliveCounts {
  /** Leases kept alive now. */
  leases: number;
  streamsOpened: number;
  renewalsSent: number;
  renewalsAnswered: number;
  lost: number;
}

export class LeaseKeepAlive {
  private readonly entries = new Map<string, Entry>();
  private readonly shards: Shard[] = Array.from({ length: KEEPALIVE_STREAMS }, () => ({
    stream: undefined,
    opening: false,
    openingSince: 0,
    attempt: 0,
    retryAt: 0,
    outstanding: 0,
    progressAt: 0,
    leases: 0,
    replacing: false,
  }));
  private nextShard = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly counts: Omit<KeepAliveCounts, 'leases'> = { streamsOpened: 0, renewalsSent: 0, renewalsAnswered: 0, lost: 0 };
  private readonly now = Date.now;

  private constructor(private readonly etcd: Etcd3) {}

  private static readonly byClient = new WeakMap<Etcd3, LeaseKeepAlive>();

  /** The keepalive of `etcd` (one per client). */
  static of(etcd: Etcd3): LeaseKeepAlive {
    let k = LeaseKeepAlive.byClient.get(etcd);
    if (k === undefined) {
      k = new LeaseKeepAlive(etcd);
      LeaseKeepAlive.byClient.set(etcd, k);
    }
    return k;
  }

  /**
   * Until when lease `id` is known to live, by this process's clock: the send time of the latest
   * renewal etcd answered (or of the grant) plus the TTL. Undefined for a lease not kept here.
   */
  confirmedUntil(id: bigint | string): number | undefined {
    const e = this.entries.get(String(id));
    return e === undefined ? undefined : e.confirmedAt + e.ttlMs;
  }

  /**
   * Keeps lease `id` (just granted with `ttlSeconds`) alive until `remove(id)`; `onLost` is
   * called once if etcd no longer has it or it could not be renewed for two TTLs.
   */
  add(id: bigint | string, ttlSeconds: number, onLost: (err: Error) => void): void {
    const now = this.now();
    const ttlMs = ttlSeconds * 1000;
    const key = String(id);
    this.remove(key);
    // biome-ignore lint/style/noNonNullAssertion: nextShard is kept below shards.length, and shards is never empty
    const shard = this.shards[this.nextShard]!;
    this.nextShard = (this.nextShard + 1) % this.shards.length;
    shard.leases++;
    this.entries.set(key, {
      id: key,
      ttlMs,
      onLost,
      dueAt: now + ttlMs * KEEPALIVE_FRACTION_OF_TTL,
      renewedAt: now,
      confirmedAt: now,
      sentAt: now,
      awaiting: false,
      shard,
    });
    if (this.timer === undefined) {
      this.timer = setInterval(() => this.safeTick(), KEEPALIVE_TICK_MS);
    }
  }

  /** Stops renewing lease `id` (revoked or released by its owner). */
  remove(id: bigint | string): void {
    const e = this.entries.get(String(id));
    if (e === undefined) return;
    this.forget(e);
    if (this.entries.size === 0) this.stop();
  }

  /** Stops everything (the client is closing). */
  close(): void {
    this.entries.clear();
    for (const sh of this.shards) sh.leases = 0;
    this.stop();
  }

  stats(): KeepAliveCounts {
    return { ...this.counts, leases: this.entries.size };
  }

  private forget(e: Entry): void {
    this.entries.delete(e.id);
    e.shard.leases--;
  }

  private stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    for (const sh of this.shards) this.dropStream(sh);
  }

  /** A timer callback must never throw: that would end the process. */
  private safeTick(): void {
    try {
      this.tick();
    } catch (err) {
      log.rateLimited('error', 'keepalive-tick', 'lease keepalive turn failed; trying again at the next', { error: errorMessage(err) });
    }
  }

  /** One turn: give up expired leases, replace dead or stalled streams, renew the due leases. */
  private tick(): void {
    const now = this.now();
    let shortestTtl = Infinity;
    for (const e of this.entries.values()) {
      if (now - e.renewedAt > KEEPALIVE_LOST_AFTER_TTLS * e.ttlMs) {
        this.lose(
          e,
          new LeaseLostError(`lease ${e.id} had no renewal for ${KEEPALIVE_LOST_AFTER_TTLS} TTLs (etcd unreachable); it has expired`),
        );
      } else if (e.ttlMs < shortestTtl) {
        shortestTtl = e.ttlMs;
      }
    }
    if (this.entries.size === 0) {
      this.stop();
      return;
    }
    for (const sh of this.shards) {
      if (sh.leases === 0) {
        this.dropStream(sh);
        continue;
      }
      if (sh.stream !== undefined && sh.outstanding > 0 && now - sh.progressAt > shortestTtl) {
        log.rateLimited('warn', 'keepalive-stall', 'a lease keepalive stream stopped answering; opening a new one', {
          unanswered: sh.outstanding,
        });
        this.dropStream(sh);
        sh.replacing = true;
      }
      if (sh.stream === undefined) this.open(sh, now);
    }
    for (const e of this.entries.values()) {
      const stream = e.shard.stream;
      if (e.dueAt > now || stream === undefined) continue;
      e.dueAt = now + e.ttlMs * KEEPALIVE_FRACTION_OF_TTL;
      if (!e.awaiting) e.sentAt = now; // an unanswered renewal sent again: its answer confirms no later than the first send
      e.awaiting = true;
      if (e.shard.outstanding++ === 0) e.shard.progressAt = now;
      this.counts.renewalsSent++;
      try {
        stream.write({ ID: e.id });
      } catch (err) {
        this.failed(e.shard, stream, err as Error);
      }
    }
  }

  private open(sh: Shard, now: number): void {
    if (sh.opening && now - sh.openingSince < KEEPALIVE_STREAM_OPEN_TIMEOUT_MS) return;
    if (now < sh.retryAt) return;
    // an attempt that never settled is abandoned: its stream, if it ever comes, is ended unused
    const attempt = ++sh.attempt;
    sh.opening = true;
    sh.openingSince = now;
    this.etcd.leaseClient.leaseKeepAlive().then(
      (stream) => {
        if (attempt !== sh.attempt) {
          stream.end();
          return;
        }
        sh.opening = false;
        if (sh.leases === 0) {
          stream.end();
          return;
        }
        this.counts.streamsOpened++;
        sh.stream = stream;
        sh.outstanding = 0;
        sh.progressAt = this.now();
        stream.on('data', (res) => this.answered(sh, stream, res));
        stream.on('error', (err) => this.failed(sh, stream, err));
        stream.on('end', () => this.failed(sh, stream, new Error('the keepalive stream ended')));
        // after a failure (etcd restarted, a leader change, a reset connection) every lease of the
        // shard is renewed at the next turn: a lease etcd lost with its data is known lost at once,
        // not a third of a TTL later; otherwise what the last stream left unanswered is renewed
        const all = sh.replacing;
        sh.replacing = false;
        for (const e of this.entries.values()) if (e.shard === sh && (all || e.awaiting)) e.dueAt = 0;
      },
      (err: unknown) => {
        if (attempt !== sh.attempt) return;
        sh.opening = false;
        if (CLIENT_CLOSED.test(errorMessage(err))) {
          // the owner closed the client under live leases: nothing can renew them any more, and
          // retrying for ever would keep the process alive (the etcd3 trap this module avoids)
          log.rateLimited('warn', 'keepalive-closed', 'the etcd client was closed with leases still kept alive; stopping their keepalive', {
            leases: this.entries.size,
          });
          this.close();
          return;
        }
        sh.retryAt = this.now() + KEEPALIVE_STREAM_RETRY_MS;
        log.rateLimited('warn', 'keepalive-open', 'cannot open a lease keepalive stream; retrying', { error: errorMessage(err) });
      },
    );
  }

  private answered(sh: Shard, stream: KeepAliveStream, res: ILeaseKeepAliveResponse): void {
    if (stream !== sh.stream) return;
    const now = this.now();
    if (sh.outstanding > 0) sh.outstanding--;
    sh.progressAt = now;
    this.counts.renewalsAnswered++;
    const e = this.entries.get(String(res.ID));
    if (e === undefined) return;
    e.awaiting = false;
    if (res.TTL === '0') this.lose(e, new LeaseLostError(`etcd no longer has lease ${e.id} (expired or revoked)`));
    else {
      e.renewedAt = now;
      e.confirmedAt = e.sentAt;
    }
  }

  private failed(sh: Shard, stream: KeepAliveStream, err: Error): void {
    if (stream !== sh.stream) return;
    if (sh.leases > 0)
      log.rateLimited('warn', 'keepalive-error', 'a lease keepalive stream failed; opening a new one', { error: errorMessage(err) });
    this.dropStream(sh);
    sh.replacing = true;
    sh.retryAt = this.now() + KEEPALIVE_STREAM_RETRY_MS;
  }

  private dropStream(sh: Shard): void {
    const s = sh.stream;
    sh.stream = undefined;
    sh.outstanding = 0;
    if (s !== undefined) {
      // end() first: etcd3 counts an error on a still-writable stream as a failure of the host
      // (tripping its circuit breaker and resetting the connection every other stream shares)
      try {
        s.end();
        s.cancel();
      } catch {
        // already closed
      }
    }
  }

  private lose(e: Entry, err: Error): void {
    this.forget(e);
    this.counts.lost++;
    try {
      e.onLost(err);
    } catch (cause) {
      log.rateLimited('error', 'keepalive-onlost', 'a lease-lost handler threw', { lease_id: e.id, error: errorMessage(cause) });
    }
  }
}
