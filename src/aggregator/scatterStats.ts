/**
 * Scatter-gather of `$SRV.STATS.{service}` (wire.md §4): a fresh inbox, one publish, replies
 * collected until every expected worker has answered or the maximum wait passes (Dynamo always
 * waited a fixed 1 s). No responders means no workers, not an error.
 */
import { createInbox, type NatsConnection } from '@nats-io/transport-node';

export const DEFAULT_SCATTER_MAX_WAIT_MS = 1_000;

export interface ScatterResult {
  /** Raw reply bodies, each to be parsed on its own. */
  replies: Uint8Array[];
  /** NATS said nobody listens on the subject. */
  noResponders: boolean;
  /** Ended because every expected worker answered (not by the deadline). */
  complete: boolean;
  elapsedMs: number;
}

/**
 * @param onReply called with each reply as it arrives; returns true once nothing more is expected
 *   (every instance etcd lists has answered).
 */
export async function scatterStats(
  nc: NatsConnection,
  service: string,
  onReply: (body: Uint8Array) => boolean,
  maxWaitMs = DEFAULT_SCATTER_MAX_WAIT_MS,
): Promise<ScatterResult> {
  const started = performance.now();
  const inbox = createInbox();
  const replies: Uint8Array[] = [];
  let noResponders = false;
  let complete = false;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(finish, maxWaitMs);
    const sub = nc.subscribe(inbox, {
      callback: (err, msg) => {
        if (err !== null) return;
        if (msg.headers?.hasError) {
          if (msg.headers.code === 503) noResponders = true;
          finish();
          return;
        }
        replies.push(msg.data);
        if (onReply(msg.data)) {
          complete = true;
          finish();
        }
      },
    });
    function finish(): void {
      clearTimeout(timer);
      sub.unsubscribe();
      resolve();
    }
    try {
      nc.publish(`$SRV.STATS.${service}`, new Uint8Array(0), { reply: inbox });
    } catch {
      finish();
    }
  });
  return { replies, noResponders, complete, elapsedMs: performance.now() - started };
}
