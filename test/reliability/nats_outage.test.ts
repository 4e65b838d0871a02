/**
 * NATS restarted after 3 s and after 30 s: workers and the aggregator reconnect by themselves,
 * metrics resume within two poll intervals of the reconnect, no process exits, and a scrape
 * during the outage answers 200 with the bridge's own health (`dynamo_metrics_nats_connected 0`)
 * and without the stale worker series; the PushGateway group and every OTLP export made during
 * the outage carry the bridge's health but no worker series.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cleanups, sleep, waitUntil } from '../support/process.ts';
import { startCluster, startPushGateway } from '../support/servers.ts';
import { startMetrics, startMockWorker, waitForScrape } from '../support/aggregator.ts';
import { sample, series } from '../support/exposition.ts';
import { OtlpReceiver } from '../support/otlpReceiver.ts';

for (const outageS of [3, 30]) {
  test(`NATS down for ${outageS} s: everything reconnects; scrapes are current or carry the outage without worker series`, async (t) => {
    const defer = cleanups(t);
    const cluster = await startCluster();
    defer(() => cluster.stop());
    const w = await startMockWorker(cluster, ['--workers', '2']);
    defer(() => w.proc.stop());
    const pgw = await startPushGateway();
    defer(() => pgw.stop());
    const rx = await new OtlpReceiver().start();
    defer(() => rx.stop());
    const m = await startMetrics(cluster, [
      '--exporters',
      'prometheus,pushgateway,otlp',
      '--pushgateway-url',
      pgw.url,
      '--pushgateway-instance',
      'n',
      '--push-interval',
      '1s',
      '--otlp-endpoint',
      rx.url,
      '--otlp-interval',
      '1s',
    ]);
    defer(() => m.proc.stop());
    const pushed = async (): Promise<string> => (await fetch(`${pgw.url}/metrics`)).text();
    await waitForScrape(m, 'two workers', (x) => series(x, 'llm_kv_blocks_active').length === 2);
    /** Worker series and the NATS health gauge in an OTLP export. */
    const otlpView = (i: number): { workers: number; natsConnected: number | undefined } => {
      const e = rx.exports[i]!;
      const kv = e.metrics.find((x) => x.name === 'llm_kv_blocks_active');
      return {
        workers: kv?.points.length ?? 0,
        natsConnected: e.metrics.find((x) => x.name === 'dynamo_metrics_nats_connected')?.points[0]?.value,
      };
    };
    await waitUntil('an OTLP export with both workers', () => rx.exports.some((_, i) => otlpView(i).workers === 2), 10_000, 100);

    await cluster.nats.stop();
    const stoppedAt = Date.now();
    const exportsBefore = rx.exports.length;
    const statuses: { at: number; status: number; workers: number; natsConnected: number | undefined; viewCurrent: number | undefined }[] =
      [];
    while (Date.now() - stoppedAt < outageS * 1000) {
      const res = await fetch(m.url);
      const text = await res.text();
      statuses.push({
        at: Date.now() - stoppedAt,
        status: res.status,
        workers: series(text, 'llm_kv_blocks_active').length,
        natsConnected: sample(text, 'dynamo_metrics_nats_connected'),
        viewCurrent: sample(text, 'dynamo_metrics_view_current'),
      });
      await sleep(250);
    }
    // once the disconnect is noticed (well within 2 s), every scrape answers 200 with the outage in
    // the bridge's health and without the old view, so the outage reaches Prometheus
    const late = statuses.filter((s) => s.at > 2000);
    assert.ok(late.length > 0);
    for (const s of late)
      assert.deepEqual(
        s,
        { at: s.at, status: 200, workers: 0, natsConnected: 0, viewCurrent: 0 },
        `scrape at +${s.at} ms during the outage`,
      );
    // the probes: not ready (and why) while NATS is down, alive all along
    const health = await fetch(`http://127.0.0.1:${m.port}/health`);
    assert.equal(health.status, 503);
    assert.deepEqual(((await health.json()) as { reasons: string[] }).reasons, ['NATS is disconnected']);
    assert.equal((await fetch(`http://127.0.0.1:${m.port}/live`)).status, 200);
    const eightSeconds = statuses.filter((s) => s.at > 8000);
    if (outageS > 8)
      assert.ok(eightSeconds.length > 0 && eightSeconds.every((s) => s.status === 200 && s.natsConnected === 0 && s.workers === 0));
    // the push path does not keep the old view in the gateway either: the group is replaced without it
    const gw = await pushed();
    assert.equal(series(gw, 'llm_kv_blocks_active').length, 0, 'no worker series left in the PushGateway during the outage');
    assert.equal(sample(gw, 'dynamo_metrics_nats_connected', { instance: 'n' }), 0);
    // and every OTLP export that says NATS is down carries no worker series (NATS is still down here)
    const duringOutage = (): { workers: number; natsConnected: number | undefined }[] =>
      rx.exports
        .map((_, i) => i)
        .slice(exportsBefore)
        .map(otlpView);
    await waitUntil('an OTLP export made while NATS is down', () => duringOutage().some((v) => v.natsConnected === 0), 10_000, 100);
    const during = duringOutage();
    const down = during.filter((v) => v.natsConnected === 0);
    if (outageS > 3)
      assert.ok(
        down.length >= 10,
        `OTLP exports (every 1 s) during a ${outageS} s outage that say NATS is down: ${down.length} of ${during.length}`,
      );
    for (const v of down) assert.equal(v.workers, 0, 'an OTLP export made while NATS is down carries no worker series');

    await cluster.nats.restart();
    const restartedAt = Date.now();
    await waitForScrape(
      m,
      'both workers back',
      (x) =>
        series(x, 'llm_kv_blocks_active').length === 2 &&
        sample(x, 'dynamo_metrics_nats_connected') === 1 &&
        sample(x, 'dynamo_metrics_view_current') === 1,
      20_000,
    );
    const recoveryMs = Date.now() - restartedAt;
    // the clients retry every second; then two poll intervals at most
    assert.ok(recoveryMs < 1000 * (1 + 1 + 2 + 2), `metrics resumed ${recoveryMs} ms after NATS came back`);
    assert.ok(m.proc.running && w.proc.running, 'no process exited');
    await waitUntil(
      'ready again',
      async () => ((await fetch(`http://127.0.0.1:${m.port}/health`)).status === 200 ? true : undefined),
      10_000,
      100,
    );
    await waitUntil('worker series pushed again', async () => series(await pushed(), 'llm_kv_blocks_active').length === 2, 10_000, 250);
    const exportsAtRecovery = rx.exports.length;
    await waitUntil(
      'worker series exported over OTLP again',
      () =>
        rx.exports.slice(exportsAtRecovery).some((e) => e.metrics.some((x) => x.name === 'llm_kv_blocks_active' && x.points.length === 2)),
      10_000,
      100,
    );
    // requests and hit-rate events flow again: the events counter moves
    const before = sample(await m.scrape(), 'dynamo_metrics_events_total') ?? 0;
    await waitUntil('events again', async () => (sample(await m.scrape(), 'dynamo_metrics_events_total') ?? 0) > before, 10_000, 250);
    t.diagnostic(
      `outage ${outageS} s: ${late.length} scrapes answered 200 with nats_connected 0 and no worker series, ${down.length} OTLP exports without worker series; recovered ${recoveryMs} ms after restart`,
    );
  });
}
