/** The GenAI conventions on a worker's endpoint: per model named in a request, with a bound on how many models. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EndpointGenAi, OTHER_MODEL } from '../../instrumentation/EndpointGenAi.ts';
import { GenAiServerMetrics } from '../../src/export/GenAiServerMetrics.ts';
import { requestModel } from '../../src/runtime/EndpointServer.ts';

const ENDPOINT = { dynamo_namespace: 'ns', dynamo_component: 'backend', dynamo_endpoint: 'generate' };

function counts(m: GenAiServerMetrics, name: string): Map<string, number> {
  const metric = m.snapshot().metrics.find((x) => x.descriptor.name === name);
  return new Map(
    (metric?.dataPoints ?? []).map((p) => [
      `${p.attributes['gen_ai.request.model']}${p.attributes['error.type'] === undefined ? '' : `/${p.attributes['error.type']}`}`,
      (p.value as { count: number }).count,
    ]),
  );
}

test('one series per model with the endpoint labels; failures carry error.type and no token timings', () => {
  const m = new GenAiServerMetrics();
  const g = new EndpointGenAi(m, ENDPOINT);
  g.finished('llama', { durationSeconds: 1, firstChunkSeconds: 0.2, chunks: 5, errorType: undefined });
  g.finished('llama', { durationSeconds: 2, firstChunkSeconds: 0.4, chunks: 1, errorType: undefined });
  g.finished('qwen', { durationSeconds: 0.5, firstChunkSeconds: undefined, chunks: 0, errorType: 'generate' });
  g.finished('qwen', { durationSeconds: 0.1, firstChunkSeconds: 0.05, chunks: 2, errorType: 'cancelled' });
  assert.deepEqual(
    counts(m, 'gen_ai.server.request.duration'),
    new Map([
      ['llama', 2],
      ['qwen/generate', 1],
      ['qwen/cancelled', 1],
    ]),
  );
  assert.deepEqual(counts(m, 'gen_ai.server.time_to_first_token'), new Map([['llama', 2]]));
  const tpot = m.snapshot().metrics.find((x) => x.descriptor.name === 'gen_ai.server.time_per_output_token')?.dataPoints[0];
  assert.deepEqual(
    { count: (tpot?.value as { count: number } | undefined)?.count, sum: (tpot?.value as { sum: number } | undefined)?.sum },
    { count: 1, sum: 0.2 },
    'a single-token answer has no time per output token; five tokens in 1 s after 0.2 s: 0.2 s each',
  );
  const p = m.snapshot().metrics[0]?.dataPoints.find((x) => x.attributes['gen_ai.request.model'] === 'llama');
  assert.deepEqual(p?.attributes, {
    ...ENDPOINT,
    'gen_ai.operation.name': 'text_completion',
    'gen_ai.provider.name': 'dynamo',
    'gen_ai.request.model': 'llama',
  });
});

test('model names come from the network: beyond the limit they are recorded under _OTHER', () => {
  const m = new GenAiServerMetrics();
  const g = new EndpointGenAi(m, ENDPOINT, 3);
  for (let i = 0; i < 10; i++)
    g.finished(`model-${i}`, { durationSeconds: 1, firstChunkSeconds: undefined, chunks: 0, errorType: undefined });
  g.finished('model-0', { durationSeconds: 1, firstChunkSeconds: undefined, chunks: 0, errorType: undefined });
  assert.deepEqual(
    counts(m, 'gen_ai.server.request.duration'),
    new Map([
      ['model-0', 2],
      ['model-1', 1],
      ['model-2', 1],
      [OTHER_MODEL, 7],
    ]),
  );
});

test('the model of a request: a non-empty string field of a JSON object, of bounded length', () => {
  assert.equal(requestModel({ model: 'llama', token_ids: [1] }), 'llama');
  for (const body of [null, 'llama', ['llama'], { model: 7 }, { model: '' }, { model: 'x'.repeat(257) }, new Uint8Array([1]), {}])
    assert.equal(requestModel(body), undefined, JSON.stringify(body));
  assert.equal(requestModel({ model: 'x'.repeat(256) })?.length, 256);
});
