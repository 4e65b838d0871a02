/**
 * The frontend end to end on real nats-server and etcd with simulated workers: the OpenAI API
 * (streamed and whole, usage, errors), and its dynamo_frontend_* metrics agreeing with what the
 * client received; a client that goes away cancels the worker's stream and is counted once.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { test } from 'node:test';
import { sample } from '../support/exposition.ts';
import { waitUntil } from '../support/process.ts';
import { testCluster } from '../support/servers.ts';
import { startSimulatedWorkers, startTestFrontend } from '../support/llm.ts';
import { processInstrumentation } from '../../instrumentation/index.ts';
import { processEndpointMetrics } from '../../instrumentation/EndpointMetrics.ts';

const MODEL = 'sim-llama';

/** The `data:` payloads of a server-sent event stream. */
function events(body: string): string[] {
  return body
    .split('\n\n')
    .filter((e) => e.startsWith('data: '))
    .map((e) => e.slice('data: '.length));
}

async function post(url: string, body: unknown): Promise<{ status: number; text: string; type: string | null }> {
  const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, text: await res.text(), type: res.headers.get('content-type') };
}

test('frontend: OpenAI API over simulated workers, metrics that agree with the client', async (t) => {
  const { cluster, defer } = await testCluster(t);
  // the workers' own endpoint metrics count their side of a cancellation
  const workers = await startSimulatedWorkers(
    cluster,
    MODEL,
    2,
    {
      blockSize: 4,
      decodeTokensPerSecond: 400,
      prefillTokensPerSecond: 1e6,
      jitter: 0,
      contextLength: 4096,
    },
    await processInstrumentation({ systemStatus: false }),
  );
  defer(() => workers.stop());
  const fe = await startTestFrontend(cluster, [], {});
  defer(() => fe.stop());
  const base = fe.frontend.url;

  await waitUntil(
    'the model listed',
    async () => ((await (await fetch(`${base}/v1/models`)).json()) as { data: { id: string }[] }).data.length === 1,
    10_000,
  );
  const models = (await (await fetch(`${base}/v1/models`)).json()) as {
    object: string;
    data: { id: string; object: string; owned_by: string }[];
  };
  assert.equal(models.object, 'list');
  assert.deepEqual(
    models.data.map((m) => [m.id, m.object, m.owned_by]),
    [[MODEL, 'model', 'dynamo']],
  );

  // streamed chat with usage in the last chunk
  const chat = await post(`${base}/v1/chat/completions`, {
    model: MODEL,
    messages: [{ role: 'user', content: 'tell me about the simulated world of tokens please' }],
    stream: true,
    stream_options: { include_usage: true },
    max_tokens: 7,
  });
  assert.equal(chat.status, 200);
  assert.equal(chat.type, 'text/event-stream');
  const ev = events(chat.text);
  assert.equal(ev.at(-1), '[DONE]');
  const chunks = ev.slice(0, -1).map((e) => JSON.parse(e) as Record<string, unknown>);
  const withChoices = chunks.filter((c) => (c.choices as unknown[]).length > 0);
  assert.equal(withChoices.length, 7, 'one chunk per token');
  assert.ok(withChoices.every((c) => c.object === 'chat.completion.chunk' && c.model === MODEL));
  const first = (withChoices[0]?.choices as { delta: { role?: string } }[] | undefined)?.[0];
  assert.equal(first?.delta.role, 'assistant');
  assert.equal((withChoices[6]?.choices as { finish_reason: string }[] | undefined)?.[0]?.finish_reason, 'length');
  const usage = chunks.at(-1)?.usage as { prompt_tokens: number; completion_tokens: number; total_tokens: number };
  assert.deepEqual(chunks.at(-1)?.choices, []);
  assert.equal(usage.prompt_tokens, 10, 'user: + 9 words, one token per word');
  assert.equal(usage.completion_tokens, 7);

  // a whole completion
  const whole = await post(`${base}/v1/completions`, { model: MODEL, prompt: 'one two three four five', max_tokens: 5 });
  assert.equal(whole.status, 200);
  const body = JSON.parse(whole.text) as {
    object: string;
    choices: { text: string; finish_reason: string }[];
    usage: { completion_tokens: number };
  };
  assert.equal(body.object, 'text_completion');
  assert.equal(body.choices[0]?.text.trim().split(/\s+/).length, 5);
  assert.equal(body.usage.completion_tokens, 5);

  // errors in OpenAI's shape, nothing counted under a made-up model
  const unknown = await post(`${base}/v1/chat/completions`, { model: 'nope', messages: [{ role: 'user', content: 'hi' }] });
  assert.equal(unknown.status, 404);
  assert.deepEqual(JSON.parse(unknown.text), {
    error: { message: 'The model `nope` does not exist.', type: 'invalid_request_error', param: 'model', code: 'model_not_found' },
  });
  const bad = await post(`${base}/v1/chat/completions`, { model: MODEL, messages: [] });
  assert.equal(bad.status, 400);
  assert.equal((JSON.parse(bad.text) as { error: { param: string } }).error.param, 'messages');
  const tooLong = await post(`${base}/v1/completions`, { model: MODEL, prompt: 'x', max_tokens: 5000 });
  assert.equal(tooLong.status, 400);
  assert.match(tooLong.text, /context_length_exceeded/);

  // a client that goes away mid-stream: the worker's stream is cancelled, counted once
  const engines = [...workers.engines.values()];
  await new Promise<void>((resolve, reject) => {
    const req = httpRequest(`${base}/v1/completions`, { method: 'POST', headers: { 'Content-Type': 'application/json' } }, (res) => {
      res.once('data', () => {
        req.destroy();
        resolve();
      });
    });
    req.on('error', () => undefined);
    req.end(JSON.stringify({ model: MODEL, prompt: 'a long answer please', max_tokens: 4000, stream: true }));
    setTimeout(() => reject(new Error('no first chunk')), 5000);
  });
  await waitUntil('the worker stopped', () => engines.every((e) => e.state().activeSlots === 0), 3000);
  const workerCancellations = (): number => [...processEndpointMetrics.all()].reduce((n, s) => n + s.cancellations, 0);
  await waitUntil('the worker counted the cancellation', () => workerCancellations() === 1, 3000);

  const text = await (await fetch(`${base}/metrics`)).text();
  const labels = { model: MODEL };
  assert.equal(
    sample(text, 'dynamo_frontend_requests_total', {
      ...labels,
      endpoint: 'chat_completions',
      request_type: 'stream',
      status: 'success',
      error_type: '',
    }),
    1,
  );
  assert.equal(
    sample(text, 'dynamo_frontend_requests_total', {
      ...labels,
      endpoint: 'completions',
      request_type: 'unary',
      status: 'success',
      error_type: '',
    }),
    1,
  );
  assert.equal(
    sample(text, 'dynamo_frontend_requests_total', {
      ...labels,
      endpoint: 'completions',
      request_type: 'unary',
      status: 'error',
      error_type: 'validation',
    }),
    1,
  );
  assert.equal(
    sample(text, 'dynamo_frontend_requests_total', {
      ...labels,
      endpoint: 'completions',
      request_type: 'stream',
      status: 'error',
      error_type: 'cancelled',
    }),
    1,
  );
  assert.equal(sample(text, 'dynamo_frontend_model_cancellation_total', { ...labels, endpoint: 'completions', request_type: 'stream' }), 1);
  assert.equal(sample(text, 'dynamo_frontend_disconnected_clients'), 1);
  assert.equal(workerCancellations(), 1, 'and once on the worker side');
  assert.equal(sample(text, 'dynamo_frontend_inflight_requests', labels), 0);
  assert.equal(sample(text, 'dynamo_frontend_queued_requests', labels), 0);
  const cancelledTokens = (sample(text, 'dynamo_frontend_output_tokens_total', labels) ?? 0) - 12;
  assert.ok(cancelledTokens >= 1 && cancelledTokens < 4000, `the cancelled stream sent ${cancelledTokens} tokens`);
  assert.equal(sample(text, 'dynamo_frontend_time_to_first_token_seconds_count', labels), 3, 'three requests reached a first token');
  assert.equal(sample(text, 'dynamo_frontend_model_context_length', labels), 4096);
  assert.equal(sample(text, 'dynamo_frontend_model_kv_cache_block_size', labels), 4);
  // Dynamo's layouts: 0 then log-spaced, two significant figures
  const ttftBounds = [...text.matchAll(/^dynamo_frontend_time_to_first_token_seconds_bucket\{model="sim-llama",le="([^"]+)"\}/gm)].map(
    (m) => m[1],
  );
  assert.deepEqual(ttftBounds, [
    '0',
    '0.0022',
    '0.0047',
    '0.01',
    '0.022',
    '0.047',
    '0.1',
    '0.22',
    '0.47',
    '1',
    '2.2',
    '4.7',
    '10',
    '22',
    '48',
    '100',
    '220',
    '480',
    '+Inf',
  ]);
  const durationBounds = [...text.matchAll(/^dynamo_frontend_request_duration_seconds_bucket\{model="sim-llama",le="([^"]+)"\}/gm)].map(
    (m) => m[1],
  );
  assert.deepEqual(durationBounds, ['0', '2', '4', '8', '16', '32', '64', '130', '260', '510', '+Inf']);
});
