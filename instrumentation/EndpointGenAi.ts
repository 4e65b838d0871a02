/**
 * The GenAI semantic conventions on a worker's endpoint (docs/metrics.md §6): for each request
 * whose body names a model, `gen_ai.server.request.duration`, and for a streamed success
 * `gen_ai.server.time_to_first_token` and `gen_ai.server.time_per_output_token` (a chunk counted
 * as a token, as Dynamo's engines send one token per chunk). Attributes: the conventions'
 * operation (`text_completion`: a worker receives tokens, not a chat), provider and request model,
 * `error.type` on a failure, and the endpoint's `dynamo_*` labels. Model names come from the
 * network, so an endpoint keeps at most `MAX_GEN_AI_MODELS_PER_ENDPOINT` of them; requests for
 * any further model are recorded under `_OTHER`.
 */
import type { Attributes } from '@opentelemetry/api';
import { GEN_AI_PROVIDER } from '../src/export/genAiConventions.ts';
import type { GenAiSeriesBase, GenAiServerMetrics } from '../src/export/GenAiServerMetrics.ts';
import type { ModelRequestOutcome } from '../src/runtime/observer.ts';

/** Distinct models one endpoint records before the rest go under `_OTHER`. */
export const MAX_GEN_AI_MODELS_PER_ENDPOINT = 32;
/** The model name requests beyond the limit are recorded under. */
export const OTHER_MODEL = '_OTHER';
/** `gen_ai.operation.name` of a worker's request. */
export const WORKER_GEN_AI_OPERATION = 'text_completion';

export class EndpointGenAi {
  private readonly bases = new Map<string, GenAiSeriesBase>();

  constructor(
    private readonly metrics: GenAiServerMetrics,
    /** The endpoint's labels (`dynamo_namespace`, `dynamo_component`, `dynamo_endpoint`). */
    private readonly endpointAttributes: Attributes,
    private readonly maxModels = MAX_GEN_AI_MODELS_PER_ENDPOINT,
  ) {}

  /** The observer hook: one request that named `model` is over. */
  readonly finished = (model: string, o: ModelRequestOutcome): void => {
    this.metrics.record(this.base(model), o.durationSeconds, o.errorType, o.firstChunkSeconds, o.chunks);
  };

  private base(model: string): GenAiSeriesBase {
    let b = this.bases.get(model);
    if (b !== undefined) return b;
    const name = this.bases.size < this.maxModels ? model : OTHER_MODEL;
    b = this.bases.get(name);
    if (b === undefined) {
      const key = `${this.endpointAttributes.dynamo_namespace}\u0000${this.endpointAttributes.dynamo_component}\u0000${this.endpointAttributes.dynamo_endpoint}\u0000${name}`;
      b = {
        key,
        attributes: {
          ...this.endpointAttributes,
          'gen_ai.operation.name': WORKER_GEN_AI_OPERATION,
          'gen_ai.provider.name': GEN_AI_PROVIDER,
          'gen_ai.request.model': name,
        },
      };
      this.bases.set(name, b);
    }
    return b;
  }
}
