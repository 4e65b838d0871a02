/**
 * The frontend's status page in a real browser: the models it serves with the requests and
 * tokens its /metrics shows, the workers with the load they published, refreshed as traffic comes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openBrowser, type PageDocument } from '../support/browser.ts';
import { sample } from '../support/exposition.ts';
import { waitUntil } from '../support/process.ts';
import { testCluster } from '../support/servers.ts';
import { startSimulatedWorkers, startTestFrontend, waitForModel } from '../support/llm.ts';

declare const document: PageDocument;

const MODEL = 'page-llama';

test("the frontend's status page shows its models as /metrics does, and the workers' published load", async (t) => {
  const { cluster, defer } = await testCluster(t);
  const workers = await startSimulatedWorkers(cluster, MODEL, 2, { decodeTokensPerSecond: 1000, jitter: 0 });
  defer(() => workers.stop());
  const fe = await startTestFrontend(cluster, ['--router-mode', 'least-loaded']);
  defer(() => fe.stop());
  await waitForModel(fe, MODEL, 2);
  const post = async (maxTokens: number): Promise<void> => {
    const res = await fetch(`${fe.frontend.url}/v1/completions`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ model: MODEL, prompt: 'one two three', max_tokens: maxTokens }),
    });
    assert.equal(res.status, 200);
    await res.text();
  };
  for (let i = 0; i < 3; i++) await post(5);
  const api = (await (await fetch(`${fe.frontend.url}/api/status`)).json()) as { router_mode: string; models: { model: string }[] };
  assert.equal(api.router_mode, 'least-loaded');
  assert.deepEqual(
    api.models.map((m) => m.model),
    [MODEL],
  );

  const b = await openBrowser();
  defer(() => b.close());
  const res = await b.page.goto(`${fe.frontend.url}/`);
  assert.equal(res?.status(), 200);
  const row = `tr[data-model="${MODEL}"]`;
  await b.page.waitForSelector(row, { timeout: 15_000 });
  const cell = (r: string, col: string): Promise<number> =>
    b.page.evaluate(([sel, c]) => Number(document.querySelector(`${sel} td[data-col="${c}"]`)!.dataset.value), [r, col] as const);
  const text = await (await fetch(`${fe.frontend.url}/metrics`)).text();
  const requests = sample(text, 'dynamo_frontend_requests_total', {
    model: MODEL,
    endpoint: 'completions',
    request_type: 'unary',
    status: 'success',
    error_type: '',
  });
  assert.equal(await cell(row, 'requests'), requests);
  assert.equal(await cell(row, 'requests'), 3);
  assert.equal(await cell(row, 'output_tokens'), sample(text, 'dynamo_frontend_output_tokens_total', { model: MODEL }));
  assert.equal(await cell(row, 'workers'), 2);
  for (const id of workers.ids) {
    const r = `tr[data-instance="${id}"]`;
    await b.page.waitForSelector(r, { timeout: 15_000 });
    await waitUntil(`worker ${id}'s published load on the page`, async () => (await cell(r, 'waiting')) === 0, 15_000);
  }

  // more traffic: the page follows without a reload
  for (let i = 0; i < 2; i++) await post(3);
  await waitUntil('the page to show 5 requests', async () => (await cell(row, 'requests')) === 5, 15_000);
  assert.deepEqual(b.problems, [], 'no console error, page error or failed request');
});
