/**
 * List-then-watch over etcd prefixes, as the instance discovery and the frontend's model registry
 * both follow theirs: after a listing at `revision`, each prefix is watched from the next revision
 * (nothing between the two is missed), and a watch that reconnects makes the owner list again
 * (events of the gap may be compacted away).
 */
import type { Etcd3, IKeyValue, Watcher } from 'etcd3';
import { getLogger } from '../log.ts';

const log = getLogger('runtime');

export interface PrefixWatchHandlers {
  put(kv: IKeyValue): void;
  delete(kv: IKeyValue): void;
  /** Lists again and makes the view equal to it. */
  resync(): Promise<unknown>;
  /** Whether the owner was closed meanwhile: then the watches made so far are cancelled. */
  closed(): boolean;
  /** What is watched, for log lines (`instances`, `model cards`). */
  what: string;
}

/** Watches every prefix from `revision + 1`; the watchers, or none when the owner closed meanwhile. */
export async function watchPrefixes(
  etcd: Etcd3,
  prefixes: readonly string[],
  revision: bigint,
  h: PrefixWatchHandlers,
): Promise<Watcher[]> {
  const watchers: Watcher[] = [];
  let disconnected = false;
  for (const prefix of prefixes) {
    const w = await etcd
      .watch()
      .prefix(prefix)
      .startRevision(String(revision + 1n))
      .create();
    watchers.push(w);
    if (h.closed()) {
      await Promise.all(watchers.map((x) => x.cancel().catch(() => undefined)));
      return [];
    }
    w.on('put', (kv) => h.put(kv));
    w.on('delete', (kv) => h.delete(kv));
    w.on('disconnected', () => {
      disconnected = true;
    });
    w.on('connected', () => {
      if (!disconnected) return;
      disconnected = false;
      h.resync().catch((err: Error) => log.warn(`cannot re-list ${h.what} after reconnecting`, { prefix, error: err.message }));
    });
    w.on('error', (err: Error) => log.rateLimited('warn', `watch-${prefix}`, 'etcd watch error', { prefix, error: err.message }));
  }
  return watchers;
}
