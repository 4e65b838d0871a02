/**
 * The aggregator's status page with several targets, in a real browser: a table of every target
 * (role, workers, load), the first shown below it, a click on another showing that target's
 * workers and load, the choice kept in the address; no console error. Real nats-server and etcd,
 * workers written from Dynamo's sources.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from '@nats-io/transport-node';
import { dynamoShapedWorker, registerDynamoInstances } from '../support/dynamoStats.ts';
import { testCluster } from '../support/servers.ts';
import { startMetrics, waitForScrape } from '../support/aggregator.ts';
import { series } from '../support/exposition.ts';
import { openBrowser, type PageDocument } from '../support/browser.ts';

declare const document: PageDocument;

const BASE = 7587884888253033398n;

function v2(kv: number): string {
  return `{"request_active_slots":1,"request_total_slots":8,"kv_active_blocks":${kv},"kv_total_blocks":100,"num_requests_waiting":0,"gpu_cache_usage_perc":${kv / 100},"gpu_prefix_cache_hit_rate":0.5}`;
}

test('the status page lists every target and shows the one clicked', { timeout: 120_000 }, async (t) => {
  const { cluster, defer } = await testCluster(t);
  const nc = await connect({ servers: cluster.nats.url });
  defer(() => nc.close());
  const prefill = [BASE + 1n];
  const decode = [BASE + 2n, BASE + 3n, BASE + 4n];
  defer(await registerDynamoInstances(cluster.etcd.url, prefill, 'dynamo', 'prefill', 'generate'));
  defer(await registerDynamoInstances(cluster.etcd.url, decode, 'dynamo', 'decode', 'generate', { layout: 'v1' }));
  dynamoShapedWorker(
    nc,
    prefill.map((id) => ({ id, data: v2(10) })),
    [],
    'dynamo_prefill',
    'generate',
  );
  dynamoShapedWorker(
    nc,
    decode.map((id, i) => ({ id, data: v2(20 + 10 * i) })),
    [],
    'dynamo_decode',
    'generate',
  );
  const m = await startMetrics(cluster, [], {}, { target: ['--target', 'dynamo/prefill/generate', '--target', 'dynamo/decode/generate'] });
  defer(() => m.proc.stop());
  await waitForScrape(m, 'both targets', (x) => series(x, 'llm_kv_blocks_active').length === 4).catch(async (err: Error) => {
    throw new Error(
      `${err.message}: ${(await m.scrape())
        .split('\n')
        .filter((l) => /rejected|llm_kv_blocks_active|dynamo_metrics_workers/.test(l))
        .join(' | ')}`,
    );
  });

  const b = await openBrowser();
  defer(() => b.close());
  const { page } = b;
  // a wait that says what it waited for, and what the page showed then
  const until = async (what: string, fn: () => boolean): Promise<void> => {
    await page.waitForFunction(fn, undefined, { timeout: 20_000 }).catch(async (err: Error) => {
      throw new Error(`${what}: ${err.message}; target ${await page.textContent('#target')}, problems ${JSON.stringify(b.problems)}`);
    });
  };
  await page.goto(`http://127.0.0.1:${m.port}/`);
  await until('two targets listed', () => document.querySelectorAll('#targets-body tr[data-target]').length === 2);
  const rows = await page.evaluate(() =>
    [...document.querySelectorAll('#targets-body tr[data-target]')].map((tr) => [
      tr.dataset.target,
      tr.querySelector('.badge')?.textContent,
      tr.querySelector('td[data-value]')?.getAttribute('data-value'),
    ]),
  );
  assert.deepEqual(rows, [
    ['dynamo/prefill/generate', 'leader', '1'],
    ['dynamo/decode/generate', 'leader', '3'],
  ]);
  // the first target is shown below the table
  await until("the first target's worker", () => document.querySelectorAll('#workers-body tr[data-worker-id]').length === 1);
  assert.equal(await page.textContent('#target'), 'dynamo/prefill/generate');
  // a click shows the other target: its workers, its load
  await page.click('tr[data-target="dynamo/decode/generate"] button');
  await until("the clicked target's workers", () => document.querySelectorAll('#workers-body tr[data-worker-id]').length === 3);
  assert.equal(await page.textContent('#target'), 'dynamo/decode/generate');
  assert.equal(await page.textContent('#c-load-avg'), '30');
  assert.equal(await page.getAttribute('tr[data-target="dynamo/decode/generate"]', 'aria-current'), 'true');
  const ids = await page.evaluate(() =>
    [...document.querySelectorAll('#workers-body tr[data-worker-id]')].map((tr) => tr.dataset.workerId),
  );
  assert.deepEqual(ids.sort(), decode.map(String).sort());
  // the choice is in the address: a reload shows the same target
  assert.match(page.url(), /#target=dynamo%2Fdecode%2Fgenerate$/);
  await page.reload();
  await until('the same target after a reload', () => document.querySelectorAll('#workers-body tr[data-worker-id]').length === 3);
  assert.equal(await page.textContent('#target'), 'dynamo/decode/generate');
  // a target this process does not follow, in the address: the first is shown, no error left on the page
  await page.goto(`http://127.0.0.1:${m.port}/#target=dynamo/router/route`);
  await until(
    'the first target instead of an unknown one',
    () => document.getElementById('target')?.textContent === 'dynamo/prefill/generate',
  );
  // the one query refused for the unknown target is the only problem the browser saw
  const refused = b.problems.filter((p) => p.includes('status of 400'));
  assert.equal(refused.length, 1, JSON.stringify(b.problems));
  assert.deepEqual(
    b.problems.filter((p) => !refused.includes(p)),
    [],
    'no other console error, page error or failed request',
  );
});
