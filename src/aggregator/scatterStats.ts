/**
 * Scatter-gather of `$SRV.STATS.{service}` (docs/wire-protocol.md §4): a fresh inbox, one publish, replies
 * collected until every expected worker has answered or the maximum wait passes (Dynamo always
 * waited a fixed 1 s). No responders means no workers, not an error.
 *
 * Replies are handed to `onReply` in chunks between turns of the event loop: a thousand workers
 * answer within milliseconds of each other, and parsing them all in the callbacks of one socket
 * read would stall everything else (scrapes, events) for tens of milliseconds.
 */
import { createInbox, type NatsConnection } from '@nats-io/transport-node';

export const DEFAULT_SCATTER_MAX_WAIT_MS = 1_000;
/**
 * How long replies are still taken once every expected worker answered: a second answer for a
 * worker (a forger on an open NATS that answered first, under the worker's own micro-service
 * instance id, read from an earlier `$SRV.STATS`) then arrives inside the cycle and is the
 * conflict it is (CycleCollector), instead of the first answer winning by arrival order. The
 * defence at the source is NATS permissions (deploy/nats/nats-server.conf).
 */
export const DEFAULT_COMPLETE_GRACE_MS = 50;
/** Replies parsed per turn of the event loop. */
export const REPLIES_PER_TURN = 50;
const NO_BODY = new Uint8Array(0);

export interface ScatterResult {
  /** Replies received (each handed to `onReply` once, then let go). */
  received: number;
  /** NATS said nobody listens on the subject. */
  noResponders: boolean;
  /** Ended because every expected worker answered (not by the deadline). */
  complete: boolean;
  elapsedMs: number;
}

/**
 * @param onReply called with each reply; returns true once nothing more is expected (every
 *   instance etcd lists has answered).
 */
export async function scatterStats(
  nc: NatsConnection,
  service: string,
  onReply: (body: Uint8Array) => boolean,
  maxWaitMs = DEFAULT_SCATTER_MAX_WAIT_MS,
  graceMs = DEFAULT_COMPLETE_GRACE_MS,
): Promise<ScatterResult> {
  const started = performance.now();
  const inbox = createInbox();
  const replies: Uint8Array[] = [];
  let parsed = 0;
  let noResponders = false;
  let complete = false;
  let receiving = true;
  await new Promise<void>((resolve) => {
    let scheduled = false;
    let graceTimer: NodeJS.Timeout | undefined;
    const timer = setTimeout(stopReceiving, maxWaitMs);
    const sub = nc.subscribe(inbox, {
      callback: (err, msg) => {
        if (err !== null || !receiving) return;
        if (msg.headers?.hasError) {
          if (msg.headers.code === 503) noResponders = true;
          stopReceiving();
          return;
        }
        replies.push(msg.data);
        schedule();
      },
    });
    function schedule(): void {
      if (scheduled) return;
      scheduled = true;
      setImmediate(drain);
    }
    function drain(): void {
      scheduled = false;
      const end = Math.min(replies.length, parsed + REPLIES_PER_TURN);
      while (parsed < end) {
        // let each reply go once handed over: 10,000 bodies kept to the end of the cycle would
        // outlive the young generation and be copied into the old one
        // biome-ignore lint/style/noNonNullAssertion: parsed < end <= replies.length
        const body = replies[parsed]!;
        replies[parsed++] = NO_BODY;
        if (onReply(body) && receiving) {
          complete = true;
          const g = Math.min(graceMs, Math.max(0, maxWaitMs - (performance.now() - started)));
          if (g <= 0) stopReceiving();
          else graceTimer ??= setTimeout(stopReceiving, g);
        } else if (graceTimer !== undefined && complete) {
          complete = false; // a reply after completion undid it (a conflict): wait for the deadline
          clearTimeout(graceTimer);
          graceTimer = undefined;
        }
      }
      if (parsed < replies.length) schedule();
      else if (!receiving) resolve();
    }
    // Stops taking replies; those already received are still parsed before the result is given.
    function stopReceiving(): void {
      if (!receiving) return;
      receiving = false;
      clearTimeout(timer);
      clearTimeout(graceTimer);
      sub.unsubscribe();
      if (parsed < replies.length) schedule();
      else if (!scheduled) resolve();
    }
    try {
      nc.publish(`$SRV.STATS.${service}`, new Uint8Array(0), { reply: inbox });
    } catch {
      stopReceiving();
    }
  });
  return { received: replies.length, noResponders, complete, elapsedMs: performance.now() - started };
}
