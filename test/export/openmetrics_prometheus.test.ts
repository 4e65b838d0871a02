/**
 * OpenMetrics against a real Prometheus (which asks for it first) and clients that do not ask
 * (they get 0.0.4). The format itself is checked in openmetrics.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitUntil } from '../support/process.ts';
import { startPrometheus, testCluster } from '../support/servers.ts';
import { startMetrics, startMockWorker } from '../support/aggregator.ts';
import { parseWithPython, PROMETHEUS_ACCEPT } from '../support/openmetrics.ts';

test('a real Prometheus scrapes metrics over OpenMetrics; curl gets 0.0.4', async (t) => {
  const { cluster, defer } = await testCluster(t);
  const w = await startMockWorker(cluster);
  defer(() => w.proc.stop());
  const m = await startMetrics(cluster);
  defer(() => m.proc.stop());
  const om = await fetch(m.url, { headers: { Accept: PROMETHEUS_ACCEPT } });
  assert.equal(om.headers.get('content-type'), 'application/openmetrics-text; version=1.0.0; charset=utf-8');
  const omText = await om.text();
  assert.ok(omText.endsWith('# EOF\n'));
  parseWithPython(omText, true);
  const plain = await fetch(m.url);
  assert.equal(plain.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
  assert.ok(!(await plain.text()).includes('# EOF'));
  const prom = await startPrometheus([{ job: 'agg', target: `127.0.0.1:${m.port}` }]);
  defer(() => prom.stop());
  await waitUntil(
    'Prometheus has the worker from an OpenMetrics scrape',
    async () => ((await prom.query(`llm_kv_blocks_total{job="agg",worker_id="${w.ids[0]}"}`)).length === 1 ? true : undefined),
    30_000,
  );
  const cycles = await prom.query('dynamo_metrics_scrape_cycles_total{job="agg"}');
  assert.equal(cycles.length, 1, 'counters keep their _total sample name');
});
