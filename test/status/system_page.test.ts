/**
 * The system status server's page in a real browser: a worker process's endpoints with the
 * requests, errors and in-flight counts its /metrics shows, refreshed as traffic comes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DistributedRuntime } from '../../src/runtime/index.ts';
import { cleanups, waitUntil } from '../support/process.ts';
import { startInstrumentedWorker } from '../support/instrumented.ts';
import { sample } from '../support/exposition.ts';
import { openBrowser, type PageDocument } from '../support/browser.ts';

// the functions given to page.evaluate / waitForFunction run in the browser, where this exists
declare const document: PageDocument;

test('the system status page shows the endpoints of the process as its /metrics does', async (t) => {
  const defer = cleanups(t);
  const w = await startInstrumentedWorker(t);
  const ep = w.drt.namespace('page-ns').component('backend').endpoint('generate');
  await ep.serve<{ fail?: boolean }>((req) => {
    if (req.fail) throw new Error('handler failed');
    return { ok: true };
  });
  const clientRt = await DistributedRuntime.connect({ nats: { servers: [w.cluster.nats.url] }, etcd: { endpoints: [w.cluster.etcd.url] } });
  defer(() => clientRt.shutdown());
  const client = await clientRt.namespace('page-ns').component('backend').endpoint('generate').client();
  await client.waitForInstances(1);
  for (let i = 0; i < 7; i++) await client.roundRobin({}).collect();
  for (let i = 0; i < 2; i++)
    await client
      .roundRobin({ fail: true })
      .collect()
      .catch(() => undefined);

  const b = await openBrowser();
  defer(() => b.close());
  const res = await b.page.goto(`http://127.0.0.1:${w.port}/`);
  assert.equal(res?.status(), 200);
  const row = 'tr[data-endpoint="page-ns/backend/generate"]';
  await b.page.waitForSelector(row, { timeout: 15_000 });
  assert.equal(await b.page.textContent('#ready'), 'ready');
  const labels = { dynamo_namespace: 'page_ns', dynamo_component: 'backend', dynamo_endpoint: 'generate' };
  const text = await w.scrape();
  const cell = (col: string): Promise<number> =>
    b.page.evaluate(([r, c]) => Number(document.querySelector(`${r} td[data-col="${c}"]`)!.dataset.value), [row, col] as const);
  assert.equal(await cell('requests'), sample(text, 'dynamo_component_requests_total', labels));
  assert.equal(await cell('requests'), 9);
  assert.equal(await cell('inflight'), 0);
  assert.equal(await cell('request_bytes'), sample(text, 'dynamo_component_request_bytes_total', labels));
  assert.equal(await cell('response_bytes'), sample(text, 'dynamo_component_response_bytes_total', labels));
  const errors = await b.page.textContent(`${row} td[data-col="errors"]`);
  assert.equal(errors, `generate: ${sample(text, 'dynamo_component_errors_total', { ...labels, error_type: 'generate' })}`);
  assert.equal(errors, 'generate: 2', "the handler's two failures (Dynamo's error_type generate)");

  // more traffic: the page follows without a reload
  for (let i = 0; i < 3; i++) await client.roundRobin({}).collect();
  await waitUntil('the page to show 12 requests', async () => (await cell('requests')) === 12, 15_000);
  assert.deepEqual(b.problems, [], 'no console error, page error or failed request');
});
