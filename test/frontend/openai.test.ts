/** Reading OpenAI request bodies and writing OpenAI's shapes. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  completionBody,
  DEFAULT_MAX_TOKENS,
  errorBody,
  InvalidRequestError,
  parseInferenceRequest,
  streamChunk,
  usageChunk,
} from '../../src/frontend/openai.ts';

test('a chat request: messages (text content parts joined), stream, include_usage, max_completion_tokens first', () => {
  const r = parseInferenceRequest('chat_completions', {
    model: 'm',
    messages: [
      { role: 'system', content: 'be brief' },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'hello' },
          { type: 'text', text: 'there' },
        ],
      },
    ],
    stream: true,
    stream_options: { include_usage: true },
    max_tokens: 5,
    max_completion_tokens: 9,
    temperature: 0.2,
  });
  assert.deepEqual(r, {
    kind: 'chat_completions',
    model: 'm',
    stream: true,
    includeUsage: true,
    maxTokens: 9,
    messages: [
      { role: 'system', content: 'be brief' },
      { role: 'user', content: 'hello there' },
    ],
  });
  const plain = parseInferenceRequest('completions', { model: 'm', prompt: ['p'], stream_options: { include_usage: true } });
  assert.deepEqual(plain, {
    kind: 'completions',
    model: 'm',
    stream: false,
    includeUsage: false,
    maxTokens: DEFAULT_MAX_TOKENS,
    prompt: 'p',
  });
});

test('a wrong field is an InvalidRequestError naming it', () => {
  const cases: [unknown, string | null, RegExp][] = [
    [[], null, /JSON object/],
    [{ messages: [{ role: 'user', content: 'x' }] }, 'model', /model is required/],
    [{ model: 'm', messages: 'hi' }, 'messages', /non-empty list/],
    [{ model: 'm', messages: [{ role: 'user' }] }, 'messages[0]', /role and text content/],
    [{ model: 'm', messages: [{ role: 'user', content: 'x' }], max_tokens: 0 }, 'max_tokens', /integer from 1/],
    [{ model: 'm', messages: [{ role: 'user', content: 'x' }], stream: 'yes' }, 'stream', /boolean/],
  ];
  for (const [body, param, re] of cases) {
    assert.throws(
      () => parseInferenceRequest('chat_completions', body),
      (err: unknown) => err instanceof InvalidRequestError && err.param === param && re.test(err.message),
      JSON.stringify(body),
    );
  }
  assert.throws(() => parseInferenceRequest('completions', { model: 'm', prompt: 3 }), /prompt must be a string/);
});

test("responses, chunks and errors in OpenAI's shapes", () => {
  assert.deepEqual(JSON.parse(streamChunk('chat_completions', 'id1', 'm', 7, ' hi', null, true)), {
    id: 'id1',
    object: 'chat.completion.chunk',
    created: 7,
    model: 'm',
    choices: [{ index: 0, delta: { role: 'assistant', content: ' hi' }, finish_reason: null, logprobs: null }],
  });
  assert.deepEqual(JSON.parse(streamChunk('completions', 'id1', 'm', 7, ' x', 'length', false)).choices, [
    { index: 0, text: ' x', finish_reason: 'length', logprobs: null },
  ]);
  const usage = { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 };
  assert.deepEqual(JSON.parse(usageChunk('chat_completions', 'id1', 'm', 7, usage)).choices, []);
  assert.deepEqual(JSON.parse(completionBody('chat_completions', 'id1', 'm', 7, 'a b', 'length', usage)).choices[0].message, {
    role: 'assistant',
    content: 'a b',
  });
  assert.deepEqual(JSON.parse(errorBody('no', 'invalid_request_error', 'model_not_found', 'model')), {
    error: { message: 'no', type: 'invalid_request_error', param: 'model', code: 'model_not_found' },
  });
});
