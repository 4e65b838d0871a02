/**
 * One collection per view: concurrent scrapes share one build of a versioned snapshot and one
 * rendering; an unchanged view is served again without being rebuilt; a changed one is rebuilt
 * once; the gzipped body (one gzip member per part) reads back as the same text; a family in
 * two parts falls back to one merged rendering; a view that cannot be vouched for still fails
 * the scrape (503) even though its snapshot is cached.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { AggregationTemporality, DataPointType, type MetricData, type ScopeMetrics } from '@opentelemetry/sdk-metrics';
import { loadExportConfig } from '../../src/export/options.ts';
import { MetricsPipeline } from '../../src/export/index.ts';
import { freePort } from '../support/process.ts';
import { promtool } from '../support/promtool.ts';
import { series } from '../support/exposition.ts';

function gauges(scope: string, name: string, n: number, value: number): ScopeMetrics {
  const t: [number, number] = [Math.floor(Date.now() / 1000), 0];
  return {
    scope: { name: scope },
    metrics: [
      {
        descriptor: { name, description: 'd', unit: '', valueType: 1 },
        dataPointType: DataPointType.GAUGE,
        aggregationTemporality: AggregationTemporality.CUMULATIVE,
        dataPoints: Array.from({ length: n }, (_, i) => ({ attributes: { worker_id: String(i) }, startTime: t, endTime: t, value })),
      } as MetricData,
    ],
  };
}

async function pipeline(t: import('node:test').TestContext): Promise<{ p: MetricsPipeline; url: string }> {
  const port = await freePort();
  const p = new MetricsPipeline(
    loadExportConfig({ argv: ['--prometheus-host', '127.0.0.1', '--prometheus-port', String(port)], env: {} }, { serviceName: 's' }),
    { global: false, processMetrics: false },
  );
  await p.start();
  t.after(() => p.shutdown());
  return { p, url: `http://127.0.0.1:${port}/metrics` };
}

/** A raw GET (fetch would decompress on its own): status, headers and body bytes. */
function get(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

test('concurrent scrapes share one build and one rendering; an unchanged view is not rebuilt, a changed one once', async (t) => {
  const { p, url } = await pipeline(t);
  let version = 1;
  let builds = 0;
  p.snapshots.add(
    async () => {
      builds++;
      await new Promise((r) => setTimeout(r, 50)); // a build takes a while: scrapes pile up behind it
      return gauges('snap', 'snap_value', 2_000, version);
    },
    { version: () => version },
  );
  const server = p.prometheusServer!;
  const bodies = await Promise.all(Array.from({ length: 50 }, () => get(url)));
  assert.ok(bodies.every((b) => b.status === 200));
  // the shared part is the same for everyone; the bridge's own counters (scrape attempts) are
  // collected per scrape, so they differ when the scrapes do not all arrive at once (a loaded machine)
  const shared = (body: Buffer): string =>
    body
      .toString()
      .split('\n')
      .filter((l) => l.includes('snap_value'))
      .join('\n');
  assert.equal(new Set(bodies.map((b) => shared(b.body))).size, 1, 'everyone got the same exposition of the view');
  assert.equal(
    shared(bodies[0]!.body)
      .split('\n')
      .filter((l) => l.startsWith('snap_value')).length,
    2_000,
  );
  assert.equal(builds, 1, '50 concurrent scrapes, one build');
  assert.equal(server.cache.partsRendered, 1, 'and one rendering of it');
  assert.equal(series(bodies[0]!.body.toString(), 'snap_value').length, 2_000);
  // unchanged view: served again, not rebuilt
  await get(url);
  assert.equal(builds, 1);
  assert.equal(server.cache.partsRendered, 1);
  // changed view: rebuilt once, new values
  version = 2;
  const after = await Promise.all(Array.from({ length: 10 }, () => get(url)));
  assert.equal(builds, 2);
  assert.equal(server.cache.partsRendered, 2);
  assert.ok(series(after[0]!.body.toString(), 'snap_value').every((s) => s.value === 2));
});

test('a gzipped exposition (one member per part) reads back as the plain text, and promtool accepts it', async (t) => {
  const { p, url } = await pipeline(t);
  p.snapshots.add(() => gauges('a', 'a_value', 300, 1), { version: () => 1 });
  p.snapshots.add(() => gauges('b', 'b_value', 300, 2), { version: () => 1 });
  p.meter('sdk').createCounter('sdk_things_total').add(3);
  for (const accept of [undefined, 'application/openmetrics-text;version=1.0.0']) {
    const h: Record<string, string> = accept === undefined ? {} : { Accept: accept };
    const plain = await get(url, h);
    const gz = await get(url, { ...h, 'Accept-Encoding': 'gzip' });
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.equal(Number(gz.headers['content-length']), gz.body.length);
    // the bridge's own health moves between two scrapes; everything else is the same text
    const steady = (x: string): string =>
      x
        .split('\n')
        .filter((l) => !l.includes('dynamo_metrics_'))
        .join('\n');
    assert.equal(steady(gunzipSync(gz.body).toString()), steady(plain.body.toString()));
    const text = plain.body.toString();
    assert.equal(series(text, 'a_value').length, 300);
    assert.equal(series(text, 'b_value').length, 300);
    assert.equal(series(text, 'sdk_things_total')[0]?.value, 3);
    if (accept !== undefined) assert.ok(text.endsWith('# EOF\n') && text.indexOf('# EOF') === text.length - 6, 'one # EOF, at the end');
    else promtool(text);
  }
});

test('a family present in two parts is rendered once (merged), not twice', async (t) => {
  const { p, url } = await pipeline(t);
  p.snapshots.add(() => gauges('a', 'shared_value', 2, 1), { version: () => 1 });
  p.snapshots.add(
    () =>
      ({
        ...gauges('b', 'shared_value', 2, 2),
        metrics: gauges('b', 'shared_value', 2, 2).metrics.map((m) => ({
          ...m,
          dataPoints: m.dataPoints.map((d) => ({ ...d, attributes: { worker_id: `b${String(d.attributes.worker_id)}` } })),
        })),
      }) as ScopeMetrics,
    { version: () => 1 },
  );
  const text = (await get(url)).body.toString();
  assert.equal(text.match(/^# TYPE shared_value gauge$/gm)?.length, 1);
  assert.equal(series(text, 'shared_value').length, 4);
  promtool(text);
});

test('a version that cannot be vouched for fails the scrape (503) although the snapshot is cached', async (t) => {
  const { p, url } = await pipeline(t);
  let stale = false;
  p.snapshots.add(() => gauges('a', 'a_value', 3, 1), {
    version: () => {
      if (stale) throw new Error('the latest scrape cycle is 9.0 s old');
      return 1;
    },
  });
  assert.equal((await get(url)).status, 200);
  stale = true;
  const r = await get(url);
  assert.equal(r.status, 503);
  assert.match(r.body.toString(), /9\.0 s old/);
  stale = false;
  assert.equal((await get(url)).status, 200);
});
