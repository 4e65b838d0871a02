/**
 * The aggregator's status page with thousands of workers: the browser gets one page of rows
 * (never the whole view), pages through all of them, sorts across all of them (not just the
 * page it has), and filters by worker id.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitUntil } from '../support/process.ts';
import { testCluster } from '../support/servers.ts';
import { startMetrics, startMockWorker, waitForScrape } from '../support/aggregator.ts';
import { series } from '../support/exposition.ts';
import { openBrowser, type PageDocument } from '../support/browser.ts';

declare const document: PageDocument;

const WORKERS = 2_000;
const PAGE = 100;

test(`the status page with ${WORKERS} workers: paged, sorted across all, filtered`, async (t) => {
  const { cluster, defer } = await testCluster(t);
  const w = await startMockWorker(cluster, ['--workers', String(WORKERS)]);
  defer(() => w.proc.stop(30_000));
  const m = await startMetrics(cluster);
  defer(() => m.proc.stop());
  await waitForScrape(m, `${WORKERS} workers`, (x) => series(x, 'llm_kv_blocks_active').length === WORKERS, 120_000);

  const b = await openBrowser();
  defer(() => b.close());
  const { page } = b;
  const apiBodies: number[] = [];
  page.on('response', (r) => {
    if (r.url().includes('/api/status'))
      void r
        .body()
        .then((body) => apiBodies.push(body.length))
        .catch(() => undefined);
  });
  await page.goto(`http://127.0.0.1:${m.port}/`);
  const rowCount = (): Promise<number> => page.evaluate(() => document.querySelectorAll('#workers-body tr[data-worker-id]').length);
  await waitUntil(
    `the first page of ${WORKERS} workers`,
    async () => (await page.textContent('#c-workers')) === WORKERS.toLocaleString('en-US'),
    30_000,
  );
  assert.equal(await rowCount(), PAGE, 'one page of rows');
  assert.equal(await page.textContent('#page-info'), `page 1 of ${WORKERS / PAGE}`);

  // the last page, then back
  await page.click('#last');
  await page.waitForFunction((n) => document.getElementById('page-info')?.textContent === `page ${n} of ${n}`, WORKERS / PAGE);
  const lastIds = await page.evaluate(() =>
    [...document.querySelectorAll('#workers-body tr[data-worker-id]')].map((r) => r.dataset.workerId!),
  );
  assert.equal(lastIds.length, PAGE);
  const all = w.ids.map(String).sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1));
  assert.deepEqual(lastIds, all.slice(-PAGE), 'the last page has the largest ids, in order');
  await page.click('#first');
  await page.waitForFunction((n) => document.getElementById('page-info')?.textContent === `page 1 of ${n}`, WORKERS / PAGE);

  // sorted by waiting requests, largest first: the first row holds the largest value of the whole view
  await page.click('th[data-col="requests_waiting"] button');
  await waitUntil(
    'the page sorted across all workers',
    async () => {
      const shown = await page.evaluate(() => ({
        cycle: Number(document.body.dataset.cycle),
        values: [...document.querySelectorAll('#workers-body td[data-col="requests_waiting"]')].map((c) => Number(c.dataset.value)),
      }));
      if (shown.values.length !== PAGE || !shown.values.every((v, i) => i === 0 || shown.values[i - 1]! >= v)) return undefined;
      const api = (await (
        await fetch(`http://127.0.0.1:${m.port}/api/status?limit=1000&sort=requests_waiting&order=asc&offset=${WORKERS - 1000}`)
      ).json()) as {
        cycle: { count: number };
        workers: { rows: { requests_waiting: number }[] };
      };
      if (api.cycle.count !== shown.cycle) return undefined; // another cycle: compare again
      return shown.values[0] === Math.max(...api.workers.rows.map((r) => r.requests_waiting));
    },
    30_000,
    100,
  );

  // filter by the start of an id
  const prefix = all[0]!.slice(0, 6);
  const matching = all.filter((id) => id.startsWith(prefix)).length;
  await page.fill('#filter', prefix);
  await page.waitForFunction(
    (p) => {
      const ids = [...document.querySelectorAll('#workers-body tr[data-worker-id]')].map((r) => r.dataset.workerId!);
      return ids.length > 0 && ids.every((id) => id.startsWith(p));
    },
    prefix,
    { timeout: 15_000 },
  );
  assert.equal(await rowCount(), Math.min(PAGE, matching));

  assert.ok(
    apiBodies.length > 0 && Math.max(...apiBodies) < 200_000,
    `each refresh carries one page, not ${WORKERS} rows (largest ${Math.max(...apiBodies)} bytes)`,
  );
  assert.deepEqual(b.problems, [], 'no console error, page error or failed request');
});
