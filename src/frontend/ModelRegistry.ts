/**
 * The models a namespace serves, from the workers' model cards in etcd: a prefix list, then a
 * watch from the next revision, and a full re-list after the watch reconnects (as the runtime's
 * instance discovery does). A model is known while at least one card names it; its endpoint is
 * the one its cards name (the first card's, if workers disagree). An entry that is not a model
 * card is ignored, counted by reason and logged (rate limited).
 */
import type { Etcd3, IKeyValue, Watcher } from 'etcd3';
import { getLogger } from '../log.ts';
import { decodeModelCard, type ModelCardEntry, type ModelCardProblem, modelCardsPrefix } from '../runtime/modelCard.ts';
import { watchPrefixes } from '../runtime/prefixWatch.ts';

const log = getLogger('frontend::models');

/** A model and where it is served. */
export interface ServedModel {
  readonly name: string;
  readonly namespace: string;
  readonly component: string;
  readonly endpoint: string;
  /** The instances whose cards name it. */
  readonly instances: readonly bigint[];
  /** The first card seen (its configuration gauges). */
  readonly card: ModelCardEntry['card'];
  /** Seconds since the epoch when the model was first seen (`created` in `/v1/models`). */
  readonly created: number;
}

export class ModelRegistry {
  private readonly byKey = new Map<string, ModelCardEntry>();
  private readonly created = new Map<string, number>();
  private changes = 0;
  private viewAt = -1;
  private byName = new Map<string, ServedModel>();
  private watchers: Watcher[] = [];
  private closed = false;
  /** Entries ignored, by reason. */
  readonly ignored = new Map<ModelCardProblem, number>();
  private readonly prefix: string;

  constructor(
    private readonly etcd: Etcd3,
    namespace: string,
    /** Told when a model's card is first seen. */
    private readonly onCard: (model: string, entry: ModelCardEntry) => void = () => undefined,
  ) {
    this.prefix = modelCardsPrefix(namespace);
  }

  /** Lists the cards and starts watching. */
  async start(): Promise<void> {
    const revision = await this.resync();
    if (this.closed) return;
    this.watchers = await watchPrefixes(this.etcd, [this.prefix], revision, {
      put: (kv) => this.put(kv),
      delete: (kv) => this.remove(kv.key.toString()),
      resync: () => this.resync(),
      closed: () => this.closed,
      what: 'model cards',
    });
    if (this.closed) this.close(); // closed while the last watch was being made
  }

  close(): void {
    this.closed = true;
    for (const w of this.watchers) void w.cancel().catch(() => undefined);
  }

  /** Every model served now, by name. */
  models(): ServedModel[] {
    return [...this.view().values()];
  }

  /** The model called `name`, if served. */
  model(name: string): ServedModel | undefined {
    return this.view().get(name);
  }

  /** Changes with every card put or removed: what a caller that keeps derived state compares. */
  get generation(): number {
    return this.changes;
  }

  /** The models by name, built again only after a card changed (every request asks for one). */
  private view(): Map<string, ServedModel> {
    if (this.viewAt === this.changes) return this.byName;
    const entries = new Map<string, ModelCardEntry[]>();
    for (const e of this.byKey.values()) {
      const list = entries.get(e.card.displayName);
      if (list === undefined) entries.set(e.card.displayName, [e]);
      else list.push(e);
    }
    this.byName = new Map([...entries].map(([name, list]) => [name, this.served(name, list)]));
    this.viewAt = this.changes;
    return this.byName;
  }

  private served(name: string, entries: ModelCardEntry[]): ServedModel {
    const first = entries[0] as ModelCardEntry;
    const same = entries.filter((e) => e.namespace === first.namespace && e.component === first.component && e.endpoint === first.endpoint);
    return {
      name,
      namespace: first.namespace,
      component: first.component,
      endpoint: first.endpoint,
      instances: same.map((e) => e.instanceId),
      card: first.card,
      created: this.created.get(name) ?? 0,
    };
  }

  private async resync(): Promise<bigint> {
    const res = await this.etcd.getAll().prefix(this.prefix).exec();
    const seen = new Set<string>();
    for (const kv of res.kvs) {
      seen.add(kv.key.toString());
      this.put(kv);
    }
    for (const key of [...this.byKey.keys()]) if (!seen.has(key)) this.remove(key);
    return BigInt(res.header.revision);
  }

  private put(kv: IKeyValue): void {
    const key = kv.key.toString();
    const e = decodeModelCard(key, kv.value.toString());
    if (typeof e === 'string') {
      this.ignored.set(e, (this.ignored.get(e) ?? 0) + 1);
      log.rateLimited('warn', `bad-${e}`, 'ignoring an etcd entry that is not a model card', { key, reason: e });
      return;
    }
    this.byKey.set(key, e);
    this.changes++;
    const name = e.card.displayName;
    if (!this.created.has(name)) {
      this.created.set(name, Math.floor(Date.now() / 1000));
      log.info(`model ${name} served by ${e.namespace}/${e.component}/${e.endpoint}`);
    }
    this.onCard(name, e);
  }

  private remove(key: string): void {
    if (this.byKey.delete(key)) this.changes++;
  }
}
