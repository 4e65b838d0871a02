/**
 * The request a simulated worker takes: Dynamo's `PreprocessedRequest`, of which it reads
 * `token_ids` and `stop_conditions.max_tokens` (other fields, such as `model`,
 * `sampling_options` and `output_options`, are accepted and not used). Pure.
 */

/** Output tokens when `stop_conditions.max_tokens` is absent (OpenAI's completions default). */
export const DEFAULT_MAX_TOKENS = 16;
/** The largest token id accepted (ids are unsigned 32-bit in Dynamo). */
export const MAX_TOKEN_ID = 0xffffffff;

/** A request body that is not a `PreprocessedRequest` the engine can run. */
export class EngineRequestShapeError extends Error {
  override name = 'EngineRequestShapeError';
}

export interface ParsedEngineRequest {
  tokenIds: number[];
  maxTokens: number;
}

function isTokenId(t: unknown): t is number {
  return typeof t === 'number' && Number.isInteger(t) && t >= 0 && t <= MAX_TOKEN_ID;
}

export function parseEngineRequest(body: unknown): ParsedEngineRequest {
  if (typeof body !== 'object' || body === null) throw new EngineRequestShapeError('the request is not a JSON object');
  const { token_ids: tokenIds, stop_conditions: stop } = body as { token_ids?: unknown; stop_conditions?: unknown };
  if (!Array.isArray(tokenIds) || !tokenIds.every(isTokenId)) throw new EngineRequestShapeError('token_ids is not a list of token ids');
  let maxTokens = DEFAULT_MAX_TOKENS;
  if (typeof stop === 'object' && stop !== null && 'max_tokens' in stop) {
    const m = (stop as { max_tokens?: unknown }).max_tokens;
    if (m !== null && m !== undefined) {
      if (typeof m !== 'number' || !Number.isSafeInteger(m) || m < 1)
        throw new EngineRequestShapeError('stop_conditions.max_tokens is not a positive integer');
      maxTokens = m;
    }
  }
  return { tokenIds, maxTokens };
}
