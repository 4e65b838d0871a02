/**
 * PushGateway and OTLP receiver down for 30 s, then an OTLP receiver slower than the export
 * timeout, all under one `metrics` process with the three exporters on: no crash, flat memory,
 * failures counted, the pull path unaffected, and the first exports after recovery carry
 * current totals.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { sleep, waitUntil } from '../support/process.ts';
import { startPushGateway, testCluster } from '../support/servers.ts';
import { startMetrics, startMockWorker, waitForScrape } from '../support/aggregator.ts';
import { sample, series } from '../support/exposition.ts';
import { OtlpReceiver } from '../support/otlpReceiver.ts';

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) / 1024;
}

async function pushTime(url: string): Promise<number | undefined> {
  try {
    const text = await (await fetch(`${url}/metrics`)).text();
    return sample(text, 'push_time_seconds', { job: 'dynamo_metrics', instance: 'outage' });
  } catch {
    return undefined;
  }
}

test('PushGateway and OTLP receiver down 30 s, then a slow receiver: no crash, flat memory, current totals after', async (t) => {
  const { cluster, defer } = await testCluster(t);
  const w = await startMockWorker(cluster, ['--workers', '2', '--hit-rate-interval', '100ms']);
  defer(() => w.proc.stop());
  const pgw = await startPushGateway();
  defer(() => pgw.stop());
  let rx = await new OtlpReceiver().start();
  const rxPort = rx.port;
  defer(() => rx.stop());
  const m = await startMetrics(cluster, [
    '--exporters',
    'prometheus,pushgateway,otlp',
    '--pushgateway-url',
    pgw.url,
    '--pushgateway-instance',
    'outage',
    '--push-interval',
    '1s',
    '--otlp-endpoint',
    rx.url,
    '--otlp-interval',
    '1s',
    '--otlp-timeout',
    '1s',
  ]);
  defer(() => m.proc.stop());
  await waitUntil('pushes and OTLP exports', async () => (await pushTime(pgw.url)) !== undefined && rx.exports.length > 0, 20_000, 250);
  await sleep(3000);
  const rssBefore = rssMiB(m.proc.pid);

  // both push targets down for 30 s
  await pgw.stop();
  await rx.stop();
  const downAt = Date.now();
  let eventsLateInOutage = 0;
  while (Date.now() - downAt < 30_000) {
    const res = await fetch(m.url);
    assert.equal(res.status, 200, 'the pull path is unaffected');
    const text = await res.text();
    assert.equal(series(text, 'llm_kv_blocks_active').length, 2);
    if (Date.now() - downAt > 25_000 && eventsLateInOutage === 0) eventsLateInOutage = sample(text, 'dynamo_metrics_events_total')!;
    await sleep(1000);
  }
  assert.ok(eventsLateInOutage > 0);
  const during = await m.scrape();
  assert.ok((sample(during, 'dynamo_metrics_export_failures_total', { exporter: 'pushgateway' }) ?? 0) >= 20, 'push failures counted');
  assert.ok((sample(during, 'dynamo_metrics_export_failures_total', { exporter: 'otlp' }) ?? 0) >= 10, 'OTLP failures counted');
  const eventsAtRecovery = sample(during, 'dynamo_metrics_events_total')!;

  await pgw.restart();
  const pgwBackAt = Date.now() / 1000;
  rx = await new OtlpReceiver(rxPort).start();
  await waitUntil('a push after recovery', async () => ((await pushTime(pgw.url)) ?? 0) > pgwBackAt, 10_000, 250);
  const pushed = await (await fetch(`${pgw.url}/metrics`)).text();
  assert.ok(
    sample(pushed, 'dynamo_metrics_events_total', { instance: 'outage' })! >= eventsAtRecovery,
    'the first push after recovery carries current totals',
  );
  // The first export to arrive may be the one in flight when the receiver came back (collected at
  // most one export timeout earlier): it already carries the totals counted during the outage,
  // and the next one those at recovery. Cumulative totals: nothing counted meanwhile is lost.
  const eventsIn = (i: number): number => rx.exports[i]!.metrics.find((x) => x.name === 'dynamo_metrics_events_total')!.points[0]!.value!;
  await waitUntil('two OTLP exports after recovery', () => rx.exports.length >= 2, 10_000);
  assert.ok(
    eventsIn(0) >= eventsLateInOutage,
    `first OTLP export after recovery: ${eventsIn(0)} >= ${eventsLateInOutage} counted late in the outage`,
  );
  assert.ok(eventsIn(1) >= eventsAtRecovery, `second: ${eventsIn(1)} >= ${eventsAtRecovery} at recovery`);

  // a receiver slower than the export timeout
  rx.delayMs = 3000;
  const failuresBefore = sample(await m.scrape(), 'dynamo_metrics_export_failures_total', { exporter: 'otlp' })!;
  await sleep(8000);
  assert.ok(
    sample(await m.scrape(), 'dynamo_metrics_export_failures_total', { exporter: 'otlp' })! > failuresBefore,
    'timed-out exports counted',
  );
  rx.delayMs = 0;
  const n = rx.exports.length;
  await waitUntil('exports again once the receiver is fast', () => rx.exports.length > n + 2, 15_000, 250);

  const rssAfter = rssMiB(m.proc.pid);
  assert.ok(rssAfter - rssBefore < 40, `RSS ${rssBefore.toFixed(0)} -> ${rssAfter.toFixed(0)} MiB`);
  assert.ok(m.proc.running);
  t.diagnostic(`metrics RSS ${rssBefore.toFixed(1)} -> ${rssAfter.toFixed(1)} MiB across 30 s of outage and 8 s of slow receiver`);
  await waitForScrape(m, 'still scraping', (x) => series(x, 'llm_kv_blocks_active').length === 2);
});

test("a push the PushGateway refuses is logged and shown with the gateway's answer", async (t) => {
  const { cluster, defer } = await testCluster(t);
  const pgw = await startPushGateway();
  defer(() => pgw.stop());
  // a path the gateway does not serve: it answers 404 with a body of its own
  const m = await startMetrics(cluster, [
    '--exporters',
    'prometheus,pushgateway',
    '--pushgateway-url',
    `${pgw.url}/no-such-prefix`,
    '--push-interval',
    '1s',
  ]);
  defer(() => m.proc.stop());
  const line = await waitUntil(
    'the refused push in the log',
    () =>
      m.proc
        .output()
        .split('\n')
        .find((l) => l.includes('push to the PushGateway failed')),
    15_000,
  );
  assert.match(line, /PushGateway answered 404 Not Found: 404 page not found/, "the gateway's status and body are in the log line");
  const status = (await (await fetch(`http://127.0.0.1:${m.port}/api/status`)).json()) as {
    exporters: { exporter: string; failures: number; lastError: string }[];
  };
  const push = status.exporters.find((e) => e.exporter === 'pushgateway')!;
  assert.ok(push.failures >= 1);
  assert.match(push.lastError, /^PushGateway answered 404 Not Found: 404 page not found$/, 'and on the status page');
});
