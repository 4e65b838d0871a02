/** The frontend's status API body alone: models from cards and from traffic, instances bounded, loads as published. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { frontendStatusBody, MAX_STATUS_INSTANCES_PER_MODEL } from '../../src/frontend/frontendStatus.ts';
import type { ModelSummary } from '../../src/frontend/FrontendMetrics.ts';
import type { ServedModel } from '../../src/frontend/ModelRegistry.ts';

const card = {
  displayName: 'a',
  contextLength: 8192,
  kvCacheBlockSize: 16,
  migrationLimit: 0,
  totalKvBlocks: 100,
  maxNumSeqs: 8,
  maxNumBatchedTokens: 8192,
};
const served = (name: string, instances: bigint[]): ServedModel => ({
  name,
  namespace: 'dynamo',
  component: 'backend',
  endpoint: 'generate',
  instances,
  card: { ...card, displayName: name },
  created: 0,
});
const summary = (model: string, success: number): ModelSummary => ({
  model,
  success,
  failed: 1,
  cancelled: 0,
  inflight: 2,
  queued: 1,
  outputTokens: 50,
  meanDurationSeconds: 0.5,
  meanTtftSeconds: 0.02,
  meanItlSeconds: null,
});

test('models served and models that only had traffic (their workers left), sorted; loads as the router knows them', () => {
  const body = frontendStatusBody({
    version: '1.2.3',
    uptimeSeconds: 10,
    routerMode: 'least-loaded',
    models: [served('b', [7n, 8n])],
    summaries: [summary('a', 4), summary('b', 9)],
    publishedLoad: (id) => (id === 7n ? { load: { waiting: 3, decodeBlocks: 40, prefillTokens: 100 }, ageMs: 500 } : undefined),
    disconnectedClients: 1,
    exporters: [],
  }) as { ready: boolean; models: Record<string, unknown>[] };
  assert.equal(body.ready, true);
  assert.deepEqual(
    body.models.map((m) => [m.model, m.endpoint, m.requests, m.errors, m.instances_total]),
    [
      ['a', null, 4, 1, 0],
      ['b', 'dynamo/backend/generate', 9, 1, 2],
    ],
  );
  assert.deepEqual(body.models[1]?.instances, [
    { id: '7', load: { waiting: 3, decode_blocks: 40, prefill_tokens: 100, age_seconds: 0.5 } },
    { id: '8', load: null },
  ]);
  assert.equal(body.models[1]?.context_length, 8192);
});

test('a model with more instances than the page lists gives their total and the first ones', () => {
  const many = Array.from({ length: MAX_STATUS_INSTANCES_PER_MODEL + 5 }, (_, i) => BigInt(i + 1));
  const body = frontendStatusBody({
    version: 'x',
    uptimeSeconds: 0,
    routerMode: 'round-robin',
    models: [served('m', many)],
    summaries: [],
    publishedLoad: () => undefined,
    disconnectedClients: 0,
    exporters: [],
  }) as { models: { instances_total: number; instances: unknown[]; requests: number }[] };
  assert.equal(body.models[0]?.instances_total, MAX_STATUS_INSTANCES_PER_MODEL + 5);
  assert.equal(body.models[0]?.instances.length, MAX_STATUS_INSTANCES_PER_MODEL);
  assert.equal(body.models[0]?.requests, 0, 'no traffic yet');
});
