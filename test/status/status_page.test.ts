/**
 * The aggregator's status page in a real browser (Debian's chromium through playwright-core),
 * against a live cluster: loads with no console error, shows the workers with the numbers
 * /metrics has for the same cycle, sorts and pages, follows a worker's death, shows exporter
 * failures redacted, and never shows a secret. A screenshot is written under the test's temp dir.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, tempDir, waitUntil } from '../support/process.ts';
import { testCluster } from '../support/servers.ts';
import { startMetrics, startMockWorker, waitForScrape } from '../support/aggregator.ts';
import { sample, series } from '../support/exposition.ts';
import { openBrowser, type PageDocument } from '../support/browser.ts';

// the functions given to page.evaluate / waitForFunction run in the browser, where this exists
declare const document: PageDocument;

interface PageRow {
  id: string;
  values: Record<string, string>;
}

/** What the page shows now: the cycle and event count its numbers belong to, and the rows. */
async function pageState(page: import('playwright-core').Page): Promise<{ cycle: number; events: number; rows: PageRow[] }> {
  return page.evaluate(() => ({
    cycle: Number(document.body.dataset.cycle),
    events: Number(document.body.dataset.events),
    rows: [...document.querySelectorAll('#workers-body tr[data-worker-id]')].map((tr) => ({
      id: tr.dataset.workerId!,
      values: Object.fromEntries([...tr.querySelectorAll('td[data-col]')].map((td) => [td.dataset.col!, td.dataset.value!])),
    })),
  }));
}

/** Column of the page → metric of /metrics. */
const SAME_AS_METRIC: Record<string, string> = {
  active_slots: 'llm_requests_active_slots',
  total_slots: 'llm_requests_total_slots',
  kv_active_blocks: 'llm_kv_blocks_active',
  kv_total_blocks: 'llm_kv_blocks_total',
  requests_waiting: 'llm_requests_waiting',
  gpu_cache_usage_percent: 'llm_gpu_cache_usage_percent',
};
const SAME_AS_HIT_METRIC: Record<string, string> = {
  hit_rate_percent: 'llm_kv_hit_rate_percent',
  isl_blocks: 'llm_kv_hit_rate_isl_blocks_total',
  overlap_blocks: 'llm_kv_hit_rate_overlap_blocks_total',
};

test('the status page shows the live cluster as /metrics does, sorts, pages, follows a killed worker, and shows no secret', async (t) => {
  const { cluster, defer } = await testCluster(t);
  const lone = await startMockWorker(cluster);
  const pair = await startMockWorker(cluster, ['--workers', '2']);
  defer(() => pair.proc.stop());
  // an OTLP destination that refuses: its failures and (redacted) last error are on the page
  const closed = await freePort();
  const secrets = ['s3cret-pass', 'tok-s3cret', 'hdr-s3cret'];
  const m = await startMetrics(cluster, [
    '--exporters',
    'prometheus,otlp',
    '--otlp-endpoint',
    `http://user:${secrets[0]}@127.0.0.1:${closed}/v1/metrics?token=${secrets[1]}`,
    '--otlp-header',
    `api-key=${secrets[2]}`,
    '--otlp-interval',
    '1s',
  ]);
  defer(() => m.proc.stop());
  await waitForScrape(m, 'three workers', (x) => series(x, 'llm_kv_blocks_active').length === 3);
  const base = `http://127.0.0.1:${m.port}/`;

  const b = await openBrowser();
  defer(() => b.close());
  const { page } = b;
  const res = await page.goto(base);
  assert.equal(res?.status(), 200);
  assert.match(res!.headers()['content-security-policy'] ?? '', /default-src 'none'/, 'the page may load only its own files');
  await page.waitForFunction(() => document.querySelectorAll('#workers-body tr[data-worker-id]').length === 3, undefined, {
    timeout: 20_000,
  });
  assert.equal(await page.textContent('#role'), 'leader');
  assert.equal(await page.textContent('#target'), 'dynamo/my_component/my_endpoint');

  // the same numbers as /metrics, read at the same cycle (and the same hit-rate event count)
  const compared = await waitUntil(
    'the page and a scrape of the same cycle',
    async () => {
      const shown = await pageState(page);
      const text = await m.scrape();
      if (sample(text, 'dynamo_metrics_scrape_cycles_total') !== shown.cycle) return undefined;
      const sameEvents = sample(text, 'dynamo_metrics_events_total') === shown.events;
      const ids = series(text, 'llm_kv_blocks_active')
        .map((s) => s.labels.worker_id!)
        .sort();
      assert.deepEqual(shown.rows.map((r) => r.id).sort(), ids, 'the workers of /metrics');
      for (const row of shown.rows) {
        for (const [col, metric] of Object.entries({ ...SAME_AS_METRIC, ...(sameEvents ? SAME_AS_HIT_METRIC : {}) })) {
          const want = sample(text, metric, { worker_id: row.id });
          const got = row.values[col] === '' ? undefined : Number(row.values[col]);
          if (want === undefined) assert.equal(got, undefined, `${col} of ${row.id}: absent as in /metrics`);
          else
            assert.ok(
              got !== undefined && Math.abs(got - want) <= 1e-9 * Math.max(1, Math.abs(want)),
              `${col} of ${row.id}: page ${got}, /metrics ${want}`,
            );
        }
      }
      return { cycle: shown.cycle, hitRateCompared: sameEvents };
    },
    30_000,
    50,
  );
  assert.ok(compared.cycle > 0);
  // the load cards are the aggregate of /metrics (the page's cycle may have moved on: same cycle again)
  await waitUntil(
    'load cards as /metrics',
    async () => {
      const [cycle, avg] = await page.evaluate(() => [
        Number(document.body.dataset.cycle),
        document.getElementById('c-load-avg')!.textContent,
      ]);
      const text = await m.scrape();
      if (sample(text, 'dynamo_metrics_scrape_cycles_total') !== cycle) return undefined;
      const want = sample(text, 'llm_load_avg')!;
      assert.equal(Number(avg!.replace(/,/g, '')), Number(Number.isInteger(want) ? want : want.toFixed(2)));
      return true;
    },
    30_000,
    50,
  );

  // sorting: KV active blocks, largest first, then smallest first
  await page.click('th[data-col="kv_active_blocks"] button');
  await page.waitForFunction(() => document.querySelector('th[data-col="kv_active_blocks"]')?.getAttribute('aria-sort') === 'descending');
  await waitUntil(
    'rows sorted largest first',
    async () => {
      const v = (await pageState(page)).rows.map((r) => Number(r.values.kv_active_blocks));
      return v.length === 3 && v.every((x, i) => i === 0 || v[i - 1]! >= x);
    },
    10_000,
  );
  await page.click('th[data-col="kv_active_blocks"] button');
  await waitUntil(
    'rows sorted smallest first',
    async () => {
      const v = (await pageState(page)).rows.map((r) => Number(r.values.kv_active_blocks));
      return v.length === 3 && v.every((x, i) => i === 0 || v[i - 1]! <= x);
    },
    10_000,
  );

  // the exporters: OTLP failing, its last error without any secret
  await page.waitForFunction(
    () => Number(document.querySelector('tr[data-exporter="otlp"] td:nth-child(3)')?.textContent ?? '0') > 0,
    undefined,
    { timeout: 20_000 },
  );
  const otlpError = await page.textContent('tr[data-exporter="otlp"] .error-text');
  assert.ok(otlpError !== null && otlpError !== '–', `the OTLP exporter's last error is shown: ${otlpError}`);

  // a worker killed: its row leaves (it misses cycles; etcd's lease expires later)
  const killedId = lone.ids[0]!.toString();
  await lone.proc.kill();
  await page.waitForFunction(
    (id) =>
      document.querySelectorAll('#workers-body tr[data-worker-id]').length === 2 && !document.querySelector(`tr[data-worker-id="${id}"]`),
    killedId,
    { timeout: 30_000 },
  );
  assert.equal(await page.textContent('#c-workers'), '2');
  await page.waitForFunction(() => document.querySelector('tr[data-what="workers_dropped"]') !== null, undefined, { timeout: 10_000 });

  // nothing secret anywhere: the page, its API, its log
  const html = await page.content();
  const api = await (await fetch(`${base}api/status?limit=1000`)).text();
  for (const s of secrets) {
    assert.ok(!html.includes(s), `the page shows no ${s}`);
    assert.ok(!api.includes(s), `/api/status shows no ${s}`);
  }

  const shot = join(tempDir('dyn-status-page-'), 'status.png');
  await page.screenshot({ path: shot, fullPage: true });
  assert.ok(statSync(shot).size > 20_000, 'a screenshot of the page');
  assert.deepEqual([...readFileSync(shot).subarray(1, 4)], [0x50, 0x4e, 0x47], 'a PNG');
  t.diagnostic(`screenshot: ${shot}`);
  if (process.env.STATUS_SCREENSHOT !== undefined) copyFileSync(shot, process.env.STATUS_SCREENSHOT);
  assert.deepEqual(b.problems, [], 'no console error, page error or failed request');
});

test('/api/status: paged and bounded, 400 on a bad query, HEAD and ETags on the page files', async (t) => {
  const { cluster, defer } = await testCluster(t);
  const w = await startMockWorker(cluster, ['--workers', '5']);
  defer(() => w.proc.stop());
  const m = await startMetrics(cluster);
  defer(() => m.proc.stop());
  await waitForScrape(m, 'five workers', (x) => series(x, 'llm_kv_blocks_active').length === 5);
  const base = `http://127.0.0.1:${m.port}`;

  const body = (await (await fetch(`${base}/api/status?limit=2&offset=1&sort=worker_id&order=desc`)).json()) as {
    workers: { total: number; matched: number; rows: { worker_id: string }[] };
  };
  const ids = w.ids.map(String).sort((a, b) => (BigInt(b) > BigInt(a) ? 1 : -1));
  assert.equal(body.workers.total, 5);
  assert.deepEqual(
    body.workers.rows.map((r) => r.worker_id),
    ids.slice(1, 3),
    'the second and third largest ids',
  );
  const one = ids[0]!;
  const filtered = (await (await fetch(`${base}/api/status?worker=${one}`)).json()) as {
    workers: { matched: number; rows: { worker_id: string }[] };
  };
  assert.deepEqual(
    filtered.workers.rows.map((r) => r.worker_id),
    [one],
  );

  for (const bad of ['limit=0', 'limit=1001', 'offset=-1', 'sort=nope', 'order=up', 'worker=12a', `worker=${'1'.repeat(21)}`]) {
    const r = await fetch(`${base}/api/status?${bad}`);
    assert.equal(r.status, 400, bad);
    const text = await r.text();
    assert.match(text, /^bad query: [^\n]+\n$/, `one line for ${bad}`);
  }
  const page = await fetch(`${base}/`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type')!, /^text\/html/);
  const etag = page.headers.get('etag')!;
  assert.equal((await fetch(`${base}/`, { headers: { 'If-None-Match': etag } })).status, 304);
  for (const file of ['/status/aggregator.js', '/status/common.js', '/status/status.css']) {
    const r = await fetch(`${base}${file}`, { method: 'HEAD' });
    assert.equal(r.status, 200, file);
  }
  assert.equal((await fetch(`${base}/api/status`, { method: 'POST' })).status, 405);
  assert.equal((await fetch(`${base}/status/nothing.js`)).status, 404);
  const gz = await fetch(`${base}/api/status`, { headers: { 'Accept-Encoding': 'gzip' } });
  assert.equal(gz.headers.get('content-encoding'), 'gzip', 'a large answer is gzipped when asked');
});
