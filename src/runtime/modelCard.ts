/**
 * Model cards in etcd, as Dynamo's key-value discovery writes them (docs/wire-protocol.md §3): a
 * worker serving a model puts `v1/mdc/{ns}/{comp}/{ep}/{idHex}` under its lease, holding the
 * serde-tagged `DiscoveryInstance::Model` whose `card_json` is the ModelDeploymentCard. A frontend
 * lists and watches the bucket to learn which models exist and which endpoint serves each. Only
 * the card fields a frontend reads are written and read here. Pure functions.
 */
import { idFromHex, idToHex } from './names.ts';

/** The bucket of model cards. */
export const MODEL_CARDS_BUCKET = 'v1/mdc';

/** What a worker's model card says (the ModelDeploymentCard fields a frontend uses). */
export interface ModelCard {
  /** The model's name as clients give it (`model` in OpenAI requests). */
  readonly displayName: string;
  readonly contextLength: number;
  readonly kvCacheBlockSize: number;
  readonly migrationLimit: number;
  readonly totalKvBlocks: number;
  readonly maxNumSeqs: number;
  readonly maxNumBatchedTokens: number;
}

/** One model card entry: the card and the endpoint instance that serves it. */
export interface ModelCardEntry {
  readonly namespace: string;
  readonly component: string;
  readonly endpoint: string;
  readonly instanceId: bigint;
  readonly card: ModelCard;
}

/** The etcd key of an instance's model card. */
export function modelCardKey(namespace: string, component: string, endpoint: string, id: bigint): string {
  return `${MODEL_CARDS_BUCKET}/${namespace}/${component}/${endpoint}/${idToHex(id)}`;
}

/** The etcd prefix of a namespace's model cards (trailing slash kept). */
export function modelCardsPrefix(namespace: string): string {
  return `${MODEL_CARDS_BUCKET}/${namespace}/`;
}

/** The value of a model card key. `instance_id` is written as a JSON integer (it may exceed 2^53). */
export function encodeModelCard(e: ModelCardEntry): string {
  const c = e.card;
  const cardJson = {
    display_name: c.displayName,
    slug: c.displayName.toLowerCase().replace(/[^a-z0-9_-]/g, '_'),
    model_input: 'Tokens',
    context_length: c.contextLength,
    kv_cache_block_size: c.kvCacheBlockSize,
    migration_limit: c.migrationLimit,
    runtime_config: { total_kv_blocks: c.totalKvBlocks, max_num_seqs: c.maxNumSeqs, max_num_batched_tokens: c.maxNumBatchedTokens },
  };
  const head = JSON.stringify({ type: 'Model', namespace: e.namespace, component: e.component, endpoint: e.endpoint });
  return `${head.slice(0, -1)},"instance_id":${e.instanceId},"card_json":${JSON.stringify(cardJson)}}`;
}

/** Why a model card entry could not be read. */
export type ModelCardProblem = 'bad_key' | 'bad_json' | 'not_a_model' | 'missing_field';

const KEY_RE = /^v1\/mdc\/([a-zA-Z0-9_-]+)\/([a-zA-Z0-9_-]+)\/([a-zA-Z0-9_-]+)\/([0-9a-f]{1,16})$/;

function nonNegative(v: unknown): number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : 0;
}

/**
 * Reads a model card entry. The key names the instance (the value's `instance_id` may have lost
 * precision in a JSON parser); absent numeric fields read as 0. A LoRA suffix after the id is
 * not read (`bad_key`).
 */
export function decodeModelCard(key: string, value: string): ModelCardEntry | ModelCardProblem {
  const m = KEY_RE.exec(key);
  const instanceId = m === null ? undefined : idFromHex(m[4] as string);
  if (m === null || instanceId === undefined) return 'bad_key';
  let v: unknown;
  try {
    v = JSON.parse(value);
  } catch {
    return 'bad_json';
  }
  if (typeof v !== 'object' || v === null || (v as { type?: unknown }).type !== 'Model') return 'not_a_model';
  const card = (v as { card_json?: unknown }).card_json;
  if (typeof card !== 'object' || card === null) return 'missing_field';
  const c = card as Record<string, unknown>;
  const name = c.display_name;
  if (typeof name !== 'string' || name === '') return 'missing_field';
  const rc = (typeof c.runtime_config === 'object' && c.runtime_config !== null ? c.runtime_config : {}) as Record<string, unknown>;
  return {
    namespace: m[1] as string,
    component: m[2] as string,
    endpoint: m[3] as string,
    instanceId,
    card: {
      displayName: name,
      contextLength: nonNegative(c.context_length),
      kvCacheBlockSize: nonNegative(c.kv_cache_block_size),
      migrationLimit: nonNegative(c.migration_limit),
      totalKvBlocks: nonNegative(rc.total_kv_blocks),
      maxNumSeqs: nonNegative(rc.max_num_seqs),
      maxNumBatchedTokens: nonNegative(rc.max_num_batched_tokens),
    },
  };
}
