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
import { watchPrefixes } from './prefixWatch.ts';

const log = getLogger('runtime::discovery');

/** One registered endpoint instance, as its etcd key and value describe it. */
export interface Instance {
  readonly namespace: string;
  readonly component: string;
  readonly endpoint: string;
  readonly instanceId: bigint;
  /**
   * The NATS subject requests go to; undefined for an instance served over another request
   * plane (Dynamo's `tcp` or `http` transports), which is known but cannot be asked over NATS.
   */
  readonly subject: string | undefined;
}

export interface InstanceDiscoveryEvents {
  added: [Instance];
  removed: [Instance];
}

const LEGACY_KEY = /^instances\/([^/]+)\/([^/]+)\/(.+):([0-9a-f]+)$/;
const V1_KEY = /^v1\/instances\/([^/]+)\/([^/]+)\/([^/]+)\/([0-9a-f]+)$/;

/**
 * Parses one etcd entry of either layout (`instances/{ns}/{comp}/{ep}:{hex}` or
 * `v1/instances/{ns}/{comp}/{ep}/{hex}`) holding either value shape (the plain instance, or
 * Dynamo's serde-tagged `DiscoveryInstance` with `"type": "Endpoint"`); undefined if it is not a
 * valid endpoint instance: the key and the value must agree on every name and the id.
 */
export function parseInstance(key: string, value: Buffer | Uint8Array | string): Instance | undefined {
  const m = LEGACY_KEY.exec(key) ?? V1_KEY.exec(key);
  const idFromKey = m === null ? undefined : idFromHex(m[4] ?? '');
  if (m === null || idFromKey === undefined) return undefined;
  try {
    const v = parseJson(typeof value === 'string' ? value : new Uint8Array(value)) as Record<string, unknown>;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
    if ('type' in v && v.type !== 'Endpoint') return undefined;
    const id = v.instance_id;
    if ((typeof id !== 'bigint' && typeof id !== 'number') || BigInt(id) !== idFromKey) return undefined;
    for (const [field, fromKey] of [
      ['namespace', m[1]],
      ['component', m[2]],
      ['endpoint', m[3]],
    ] as const) {
      if (field in v && v[field] !== fromKey) return undefined;
    }
    const transport = v.transport;
    if (typeof transport !== 'object' || transport === null) return undefined;
    const nats = (transport as Record<string, unknown>).nats_tcp;
    if (nats !== undefined && typeof nats !== 'string') return undefined;
    // biome-ignore lint/style/noNonNullAssertion: groups 1 to 3 are not optional in the key pattern
    return { namespace: m[1]!, component: m[2]!, endpoint: m[3]!, instanceId: idFromKey, subject: nats };
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
  private readonly watchers: Watcher[] = [];
  private closed = false;
  private readonly ready: Promise<void>;

  /** The prefixes followed, one per layout (`instances/{ns}/{comp}/`, `v1/instances/{ns}/{comp}/`). */
  readonly prefix: string;

  constructor(
    private readonly etcd: Etcd3,
    private readonly prefixes: readonly [string, ...string[]],
  ) {
    super();
    this.prefix = prefixes.join(' ');
    this.ready = this.start();
    this.ready.catch(() => undefined);
  }

  /** Resolves once the first listing is in. */
  async started(): Promise<void> {
    return this.ready;
  }

  /**
   * Instances currently registered, optionally of one endpoint only; an instance registered in
   * both layouts is listed once.
   */
  list(endpoint?: string): Instance[] {
    const out: Instance[] = [];
    const seen = new Set<string>();
    for (const inst of this.byKey.values()) {
      if (endpoint !== undefined && inst.endpoint !== endpoint) continue;
      const id = `${inst.component}\u0000${inst.endpoint}\u0000${inst.instanceId}`;
      if (seen.has(id)) continue;
      seen.add(id);
      out.push(inst);
    }
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
        (err: Error) =>
          void log.rateLimited('warn', `refresh-${this.prefix}`, 'cannot re-list instances', { prefix: this.prefix, error: err.message }),
      );
    this.refreshing = running;
    void running.finally(() => {
      if (this.refreshing === running) this.refreshing = undefined;
    });
    return running;
  }

  close(): void {
    this.closed = true;
    for (const w of this.watchers) void w.cancel().catch(() => undefined);
  }

  private async start(): Promise<void> {
    const revision = await this.resync();
    if (this.closed) return;
    const watchers = await watchPrefixes(this.etcd, this.prefixes, revision, {
      put: (kv) => this.put(kv),
      delete: (kv) => this.remove(kv.key.toString()),
      resync: () => this.resync(),
      closed: () => this.closed,
      what: 'instances',
    });
    this.watchers.push(...watchers);
    if (this.closed) this.close(); // closed while the last watch was being made
  }

  /** Lists every prefix at one revision and makes the view equal to it; returns that revision. */
  private async resync(): Promise<bigint> {
    const first = await this.etcd.getAll().prefix(this.prefixes[0]).exec();
    const revision = first.header.revision;
    const listings = [first];
    for (const prefix of this.prefixes.slice(1)) {
      // the same revision as the first listing, so that the watches start where all of them end
      listings.push(await this.etcd.getAll().prefix(prefix).revision(revision).exec());
    }
    const seen = new Set<string>();
    for (const res of listings) {
      for (const kv of res.kvs) {
        seen.add(kv.key.toString());
        this.put(kv);
      }
    }
    for (const key of [...this.byKey.keys()]) if (!seen.has(key)) this.remove(key);
    this.listed = true;
    return BigInt(revision);
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
