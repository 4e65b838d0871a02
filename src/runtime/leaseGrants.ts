/**
 * Lease grants paced per etcd client (docs/runtime-api.md, "Registration bursts"). Thousands of
 * workers registering at once (one process with `--workers 10000`, a fleet restarting, every
 * lease lost when etcd fails over) would otherwise fire thousands of grants together; a few
 * fail, the etcd client's circuit breaker opens, and every other grant fails at once with
 * "the circuit breaker is open". Here at most `MAX_CONCURRENT_GRANTS` grants are in flight per
 * client, the rest wait their turn, and a failed grant is retried with exponential backoff and
 * jitter. A grant gives up only when etcd has granted nothing to this client for the whole
 * deadline (etcd is unreachable), never because the queue is long.
 */
import type { Etcd3, Lease } from 'etcd3';
import { sleep, withTimeout } from '../time.ts';

/** Grants in flight at once per etcd client. */
export const MAX_CONCURRENT_GRANTS = 64;
/** First pause after a failed grant; doubled on each failure up to `GRANT_BACKOFF_MAX_MS`. */
export const GRANT_BACKOFF_INITIAL_MS = 50;
export const GRANT_BACKOFF_MAX_MS = 2_000;

/** Nothing listens there at all: with no grant ever made on the client, there is nothing to wait for. */
const NOBODY_THERE = /ECONNREFUSED|ENOTFOUND|EAI_AGAIN/;

/** Errors no retry can cure: refused credentials or permissions. */
const FATAL = /auth|password|user name|permission denied/i;

export function isFatalGrantError(err: unknown): boolean {
  const e = err as Error | undefined;
  return FATAL.test(`${e?.name ?? ''} ${e?.message ?? String(err)}`);
}

/** Backoff before retry `attempt` (1-based): exponential, capped, with full jitter in its upper half. */
export function grantBackoffMs(attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(GRANT_BACKOFF_MAX_MS, GRANT_BACKOFF_INITIAL_MS * 2 ** Math.min(attempt - 1, 30));
  return ceiling / 2 + random() * (ceiling / 2);
}

/** The grants of one etcd client: a slot count, the waiting queue, and when etcd last granted one. */
class GrantQueue {
  active = 0;
  private readonly waiting: (() => void)[] = [];
  lastGrantAt = 0;
  /** Grants retried after a failure (for tests and logs). */
  retries = 0;

  async acquire(): Promise<void> {
    if (this.active < MAX_CONCURRENT_GRANTS) {
      this.active++;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  release(): void {
    const next = this.waiting.shift();
    if (next !== undefined) next();
    else this.active--;
  }
}

const queues = new WeakMap<Etcd3, GrantQueue>();

function queueOf(etcd: Etcd3): GrantQueue {
  let q = queues.get(etcd);
  if (q === undefined) {
    q = new GrantQueue();
    queues.set(etcd, q);
  }
  return q;
}

/** How many grants on `etcd` were retried after a failure. */
export function grantRetries(etcd: Etcd3): number {
  return queues.get(etcd)?.retries ?? 0;
}

export interface GrantOptions {
  ttlSeconds: number;
  /** Give up once etcd has granted nothing to this client for this long. */
  deadlineMs: number;
  /** Called once when a grant gives up, to make the error. */
  unreachable: (lastError: unknown) => Error;
  /** Stop retrying (the caller shut down): rejects with the last error. */
  cancelled?: () => boolean;
}

/**
 * Grants a lease on `etcd`, paced with every other grant on that client and retried with backoff.
 * Throws at once on a fatal error (credentials), else `opts.unreachable(lastError)` once etcd
 * has granted nothing to this client for `deadlineMs`.
 */
export async function grantLease(etcd: Etcd3, opts: GrantOptions): Promise<{ lease: Lease; id: bigint }> {
  const q = queueOf(etcd);
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    await q.acquire();
    let lastError: unknown;
    // kept alive by the owner over the client's shared stream (LeaseKeepAlive.ts), not one stream each
    const lease = etcd.lease(opts.ttlSeconds, { autoKeepAlive: false });
    lease.on('lost', () => undefined); // the owner watches it once granted; never an unhandled 'error'
    try {
      const id = await withTimeout(lease.grant(), opts.deadlineMs, undefined);
      q.lastGrantAt = Date.now();
      return { lease, id: BigInt(id) };
    } catch (err) {
      lease.release();
      lastError = err;
    } finally {
      q.release();
    }
    if (isFatalGrantError(lastError)) throw lastError;
    // a wrong address at start-up is reported at once, not after the deadline
    if (q.lastGrantAt === 0 && NOBODY_THERE.test(String((lastError as Error | undefined)?.message ?? lastError)))
      throw opts.unreachable(lastError);
    // etcd is reachable while it grants to anyone on this client: keep going until it stops
    const progressAt = Math.max(started, q.lastGrantAt);
    if (Date.now() - progressAt >= opts.deadlineMs || opts.cancelled?.() === true) throw opts.unreachable(lastError);
    q.retries++;
    await sleep(grantBackoffMs(attempt));
  }
}

export interface RetryOptions {
  deadlineMs: number;
  /** Errors not worth retrying (thrown at once). */
  fatal: (err: unknown) => boolean;
  cancelled?: () => boolean;
}

/**
 * Runs an etcd write, retrying transient failures (a burst tripping the client's circuit
 * breaker, a deadline) with the same backoff as grants, for at most `deadlineMs`.
 */
export async function retryTransient<T>(op: () => Promise<T>, opts: RetryOptions): Promise<T> {
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await op();
    } catch (err) {
      if (opts.fatal(err) || isFatalGrantError(err) || Date.now() - started >= opts.deadlineMs || opts.cancelled?.() === true) throw err;
    }
    await sleep(grantBackoffMs(attempt));
  }
}
