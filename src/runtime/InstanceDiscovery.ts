/**
 * Following a component's instances in etcd: a prefix list, then a watch from the next revision;
 * after the watch reconnects (etcd restarted, perhaps with its data gone) a full re-list replaces
 * the view so that nothing is missed or kept by mistake.
 */
import { EventEmitter } from 'node:events';
import type { Etcd3, IKeyValue, Watcher } from 'etcd3';
import { getLogger } from '../log.ts';
import { parseJson } from './json.ts';
import { idFromHex } from './names.ts';

const log = getLogger('runtime::discovery');

/** One registered endpoint instance, as its etcd key and value describe it. */
export interface Instance {
  readonly namespace: string;
  readonly component: string;
  readonly endpoint: string;
  readonly instanceId: bigint;
  /** The NATS subject requests go to. */
  readonly subject: string;
}

export interface InstanceDiscoveryEvents {
  added: [Instance];
  removed: [Instance];
}

/** Parses one etcd entry under `instances/`; undefined (and logged) if it is not a valid instance. */
export function parseInstance(key: string, value: Buffer | Uint8Array | string): Instance | undefined {
  const m = /^instances\/([^/]+)\/([^/]+)\/(.+):([0-9a-f]+)$/.exec(key);
  const idFromKey = m === null ? undefined : idFromHex(m[4] ?? '');
  if (m === null || idFromKey === undefined) return undefined;
  try {
    const v = parseJson(typeof value === 'string' ? value : new Uint8Array(value)) as Record<string, unknown>;
    const id = v.instance_id;
    const transport = v.transport as Record<string, unknown> | undefined;
    const subject = transport?.nats_tcp;
    if ((typeof id !== 'bigint' && typeof id !== 'number') || BigInt(id) !== idFromKey || typeof subject !== 'string') {
      return undefined;
    }
    return { namespace: m[1]!, component: m[2]!, endpoint: m[3]!, instanceId: idFromKey, subject };
  } catch {
    return undefined;
  }
}

export class InstanceDiscovery extends EventEmitter<InstanceDiscoveryEvents> {
  private readonly byKey = new Map<string, Instance>();
  /** Bumped on every change, so that clients can cache what they derive from the list. */
  version = 0;
  /** Whether a listing ever succeeded: before that, an empty list means "unknown", not "none". */
  listed = false;
  private watcher: Watcher | undefined;
  private closed = false;
  private disconnected = false;
  private readonly ready: Promise<void>;

  constructor(
    private readonly etcd: Etcd3,
    readonly prefix: string,
  ) {
    super();
    this.ready = this.start();
    this.ready.catch(() => undefined);
  }

  /** Resolves once the first listing is in. */
  async started(): Promise<void> {
    return this.ready;
  }

  /** Instances currently registered, optionally of one endpoint only. */
  list(endpoint?: string): Instance[] {
    const out: Instance[] = [];
    for (const inst of this.byKey.values()) if (endpoint === undefined || inst.endpoint === endpoint) out.push(inst);
    return out;
  }

  private refreshing: Promise<void> | undefined;

  /**
   * Lists the prefix again now (one at a time): for a caller that saw an instance the view does
   * not have, e.g. after etcd lost and regained its leases while a watch missed the change.
   */
  refresh(): Promise<void> {
    const running =
      this.refreshing ??
      this.resync().then(
        () => undefined,
        (err: Error) => void log.rateLimited('warn', `refresh-${this.prefix}`, 'cannot re-list instances', { prefix: this.prefix, error: err.message }),
      );
    this.refreshing = running;
    void running.finally(() => {
      if (this.refreshing === running) this.refreshing = undefined;
    });
    return running;
  }

  close(): void {
    this.closed = true;
    void this.watcher?.cancel().catch(() => undefined);
  }

  private async start(): Promise<void> {
    const revision = await this.resync();
    if (this.closed) return;
    const w = await this.etcd.watch().prefix(this.prefix).startRevision(String(revision + 1n)).create();
    if (this.closed) {
      await w.cancel().catch(() => undefined);
      return;
    }
    this.watcher = w;
    w.on('put', (kv) => this.put(kv));
    w.on('delete', (kv) => this.remove(kv.key.toString()));
    w.on('disconnected', () => {
      this.disconnected = true;
    });
    w.on('connected', () => {
      if (!this.disconnected) return;
      this.disconnected = false;
      this.resync().catch((err: Error) => log.warn('cannot re-list instances after reconnecting', { prefix: this.prefix, error: err.message }));
    });
    w.on('error', (err: Error) => log.rateLimited('warn', `watch-${this.prefix}`, 'etcd watch error', { prefix: this.prefix, error: err.message }));
  }

  /** Lists the prefix and makes the view equal to it; returns the listing's revision. */
  private async resync(): Promise<bigint> {
    const res = await this.etcd.getAll().prefix(this.prefix).exec();
    const seen = new Set<string>();
    for (const kv of res.kvs) {
      seen.add(kv.key.toString());
      this.put(kv);
    }
    for (const key of [...this.byKey.keys()]) if (!seen.has(key)) this.remove(key);
    this.listed = true;
    return BigInt(res.header.revision);
  }

  private put(kv: IKeyValue): void {
    const key = kv.key.toString();
    const inst = parseInstance(key, kv.value);
    if (inst === undefined) {
      log.rateLimited('warn', `bad-${this.prefix}`, 'ignoring an etcd entry that is not a valid instance', { key });
      return;
    }
    const old = this.byKey.get(key);
    if (old !== undefined && old.subject === inst.subject) return;
    this.byKey.set(key, inst);
    this.version++;
    if (old !== undefined) this.emit('removed', old);
    this.emit('added', inst);
  }

  private remove(key: string): void {
    const old = this.byKey.get(key);
    if (old === undefined) return;
    this.byKey.delete(key);
    this.version++;
    this.emit('removed', old);
  }
}
