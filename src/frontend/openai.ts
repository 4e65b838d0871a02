/**
 * The OpenAI HTTP API as the frontend speaks it: reading `/v1/chat/completions` and
 * `/v1/completions` bodies (the fields it uses; others are accepted and ignored), and writing
 * responses, stream chunks and errors in OpenAI's shapes. Pure.
 */
import type { ChatMessage } from './tokenizer.ts';

/** Output tokens when a request gives no `max_tokens` (OpenAI's completions default). */
export const DEFAULT_MAX_TOKENS = 16;
/** The most `max_tokens` a request may ask for. */
export const MAX_MAX_TOKENS = 1_000_000;

export type OperationKind = 'chat_completions' | 'completions';

/** A request the frontend accepted. */
export interface InferenceRequest {
  kind: OperationKind;
  model: string;
  /** The prompt text (a chat rendered by `renderChat` later). */
  messages?: ChatMessage[];
  prompt?: string;
  stream: boolean;
  /** `stream_options.include_usage`: a last chunk with the usage and no choices. */
  includeUsage: boolean;
  maxTokens: number;
}

/** A request body the API refuses (400, `invalid_request_error`). */
export class InvalidRequestError extends Error {
  override name = 'InvalidRequestError';
  constructor(
    message: string,
    readonly param: string | null = null,
  ) {
    super(message);
  }
}

function text(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  // content parts: the text ones, joined
  if (Array.isArray(v) && v.every((p) => typeof p === 'object' && p !== null)) {
    const parts = v.filter((p: { type?: unknown }) => p.type === 'text').map((p: { text?: unknown }) => p.text);
    if (parts.every((p): p is string => typeof p === 'string')) return parts.join(' ');
  }
  return undefined;
}

function maxTokensOf(body: Record<string, unknown>, kind: OperationKind): number {
  const keys = kind === 'chat_completions' ? ['max_completion_tokens', 'max_tokens'] : ['max_tokens'];
  for (const key of keys) {
    const v = body[key];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1 || v > MAX_MAX_TOKENS)
      throw new InvalidRequestError(`${key} must be an integer from 1 to ${MAX_MAX_TOKENS}`, key);
    return v;
  }
  return DEFAULT_MAX_TOKENS;
}

/** Reads a request body; throws `InvalidRequestError` naming the field that is wrong. */
export function parseInferenceRequest(kind: OperationKind, body: unknown): InferenceRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new InvalidRequestError('the request body must be a JSON object');
  const b = body as Record<string, unknown>;
  if (typeof b.model !== 'string' || b.model === '') throw new InvalidRequestError('model is required', 'model');
  if (b.stream !== undefined && b.stream !== null && typeof b.stream !== 'boolean')
    throw new InvalidRequestError('stream must be a boolean', 'stream');
  const stream = b.stream === true;
  const so = b.stream_options;
  const includeUsage = stream && typeof so === 'object' && so !== null && (so as { include_usage?: unknown }).include_usage === true;
  const req: InferenceRequest = { kind, model: b.model, stream, includeUsage, maxTokens: maxTokensOf(b, kind) };
  if (kind === 'chat_completions') {
    if (!Array.isArray(b.messages) || b.messages.length === 0)
      throw new InvalidRequestError('messages must be a non-empty list', 'messages');
    req.messages = b.messages.map((m: unknown, i: number) => {
      const role = (m as { role?: unknown } | null)?.role;
      const content = text((m as { content?: unknown } | null)?.content);
      if (typeof role !== 'string' || content === undefined)
        throw new InvalidRequestError(`messages[${i}] must have a role and text content`, `messages[${i}]`);
      return { role, content };
    });
  } else {
    const p = Array.isArray(b.prompt) && b.prompt.length === 1 ? b.prompt[0] : b.prompt;
    if (typeof p !== 'string') throw new InvalidRequestError('prompt must be a string', 'prompt');
    req.prompt = p;
  }
  return req;
}

/** OpenAI's `usage` object. */
export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details?: { cached_tokens: number };
}

/** The error body: `{"error": {"message", "type", "param", "code"}}`. */
export function errorBody(message: string, type: string, code: string | number | null, param: string | null = null): string {
  return JSON.stringify({ error: { message, type, param, code } });
}

/** One streamed chunk of text. */
export function streamChunk(
  kind: OperationKind,
  id: string,
  model: string,
  created: number,
  content: string,
  finishReason: string | null,
  first: boolean,
): string {
  if (kind === 'chat_completions') {
    const delta = first ? { role: 'assistant', content } : { content };
    return JSON.stringify({
      id,
      object: 'chat.completion.chunk',
      created,
      model,
      choices: [{ index: 0, delta, finish_reason: finishReason, logprobs: null }],
    });
  }
  return JSON.stringify({
    id,
    object: 'text_completion',
    created,
    model,
    choices: [{ index: 0, text: content, finish_reason: finishReason, logprobs: null }],
  });
}

/** The last chunk of a stream asked for with `include_usage`: no choices, the usage. */
export function usageChunk(kind: OperationKind, id: string, model: string, created: number, usage: Usage): string {
  return JSON.stringify({
    id,
    object: kind === 'chat_completions' ? 'chat.completion.chunk' : 'text_completion',
    created,
    model,
    choices: [],
    usage,
  });
}

/** A whole (not streamed) response. */
export function completionBody(
  kind: OperationKind,
  id: string,
  model: string,
  created: number,
  content: string,
  finishReason: string | null,
  usage: Usage,
): string {
  if (kind === 'chat_completions') {
    return JSON.stringify({
      id,
      object: 'chat.completion',
      created,
      model,
      choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: finishReason, logprobs: null }],
      usage,
    });
  }
  return JSON.stringify({
    id,
    object: 'text_completion',
    created,
    model,
    choices: [{ index: 0, text: content, finish_reason: finishReason, logprobs: null }],
    usage,
  });
}

/** `/v1/models`. */
export function modelsBody(models: readonly { id: string; created: number }[]): string {
  return JSON.stringify({
    object: 'list',
    data: models.map((m) => ({ id: m.id, object: 'model', created: m.created, owned_by: 'dynamo' })),
  });
}
