/**
 * The frontend's GenAI semantic-convention instruments (src/export/GenAiServerMetrics.ts): one
 * series per model and OpenAI operation (`chat`, `text_completion`), with the frontend's
 * `server.address` and `server.port`; a failure's `error.type` is the frontend's error type.
 */
import type { Attributes } from '@opentelemetry/api';
import { GEN_AI_PROVIDER } from '../export/genAiConventions.ts';
import { type GenAiSeriesBase, GenAiServerMetrics } from '../export/GenAiServerMetrics.ts';
import type { ScopeMetrics } from '@opentelemetry/sdk-metrics';
import type { FrontendErrorType, RequestStatus } from './FrontendMetrics.ts';
import type { OperationKind } from './openai.ts';

/** `gen_ai.operation.name` of each OpenAI route. */
export const GEN_AI_OPERATION: Record<OperationKind, string> = { chat_completions: 'chat', completions: 'text_completion' };

export class FrontendGenAiMetrics {
  private readonly metrics = new GenAiServerMetrics();
  private readonly bases = new Map<string, GenAiSeriesBase>();

  constructor(
    /** `server.address` and `server.port` of every point (asked when a series begins: the port may be chosen at listen). */
    private readonly server: () => { address: string; port: number },
  ) {}

  /** A request ended (`errorType` is read for a failure only; an empty one is `_OTHER`). */
  record(
    model: string,
    kind: OperationKind,
    seconds: number,
    status: RequestStatus,
    errorType: FrontendErrorType,
    ttftSeconds: number | undefined,
    outputTokens: number,
  ): void {
    this.metrics.record(
      this.base(model, kind),
      seconds,
      status === 'success' ? undefined : errorType || '_OTHER',
      ttftSeconds,
      outputTokens,
    );
  }

  snapshot(): ScopeMetrics {
    return this.metrics.snapshot();
  }

  private base(model: string, kind: OperationKind): GenAiSeriesBase {
    const key = `${model}\u0000${kind}`;
    let b = this.bases.get(key);
    if (b === undefined) {
      const server = this.server();
      const attributes: Attributes = {
        'gen_ai.operation.name': GEN_AI_OPERATION[kind],
        'gen_ai.provider.name': GEN_AI_PROVIDER,
        'gen_ai.request.model': model,
        'gen_ai.response.model': model,
        'server.address': server.address,
        'server.port': server.port,
      };
      b = { key, attributes };
      this.bases.set(key, b);
    }
    return b;
  }
}
