/**
 * NATS restarted after 3 s and after 30 s: workers and the aggregator reconnect by themselves,
 * metrics resume within two poll intervals of the reconnect, no process exits, and a scrape
 * during the outage answers 503 rather than stale numbers as if fresh.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cleanups, sleep, waitUntil } from '../support/process.ts';
import { startCluster, startPushGateway } from '../support/servers.ts';
import { startMetrics, startMockWorker, waitForScrape } from '../support/aggregator.ts';
import { sample, series } from '../support/exposition.ts';

for (const outageS of [3, 30]) {
  test(`NATS down for ${outageS} s: everything reconnects; scrapes are current or 503`, async (t) => {
    const defer = cleanups(t);
    const cluster = await startCluster();
    defer(() => cluster.stop());
    const w = await startMockWorker(cluster, ['--workers', '2']);
    defer(() => w.proc.stop());
    const pgw = await startPushGateway();
    defer(() => pgw.stop());
    const m = await startMetrics(cluster, ['--exporters', 'prometheus,pushgateway', '--pushgateway-url', pgw.url, '--pushgateway-instance', 'n', '--push-interval', '1s']);
    defer(() => m.proc.stop());
    const pushed = async (): Promise<string> => (await fetch(`${pgw.url}/metrics`)).text();
    await waitForScrape(m, 'two workers', (x) => series(x, 'llm_kv_blocks_active').length === 2);

    await cluster.nats.stop();
    const stoppedAt = Date.now();
    const statuses: { at: number; status: number; workers: number }[] = [];
    while (Date.now() - stoppedAt < outageS * 1000) {
      const res = await fetch(m.url);
      const text = await res.text();
      statuses.push({ at: Date.now() - stoppedAt, status: res.status, workers: res.status === 200 ? series(text, 'llm_kv_blocks_active').length : -1 });
      await sleep(250);
    }
    // once the disconnect is noticed (well within 2 s), the scrape says 503, not the old view
    const late = statuses.filter((s) => s.at > 2000);
    assert.ok(late.length > 0);
    for (const s of late) assert.equal(s.status, 503, `scrape at +${s.at} ms during the outage: ${JSON.stringify(s)}`);
    assert.match(await (await fetch(m.url)).text(), /NATS is disconnected/);
    // the push path does not keep the old view in the gateway either: the group is replaced without it
    const gw = await pushed();
    assert.equal(series(gw, 'llm_kv_blocks_active').length, 0, 'no worker series left in the PushGateway during the outage');
    assert.equal(sample(gw, 'dynamo_metrics_nats_connected', { instance: 'n' }), 0);

    await cluster.nats.restart();
    const restartedAt = Date.now();
    await waitForScrape(m, 'both workers back', (x) => series(x, 'llm_kv_blocks_active').length === 2 && sample(x, 'dynamo_metrics_nats_connected') === 1, 20_000);
    const recoveryMs = Date.now() - restartedAt;
    // the clients retry every second; then two poll intervals at most
    assert.ok(recoveryMs < 1000 * (1 + 1 + 2 + 2), `metrics resumed ${recoveryMs} ms after NATS came back`);
    assert.ok(m.proc.running && w.proc.running, 'no process exited');
    await waitUntil('worker series pushed again', async () => series(await pushed(), 'llm_kv_blocks_active').length === 2, 10_000, 250);
    // requests and hit-rate events flow again: the events counter moves
    const before = sample(await m.scrape(), 'dynamo_metrics_events_total') ?? 0;
    await waitUntil('events again', async () => (sample(await m.scrape(), 'dynamo_metrics_events_total') ?? 0) > before, 10_000, 250);
    t.diagnostic(`outage ${outageS} s: ${late.length} scrapes answered 503; recovered ${recoveryMs} ms after restart`);
  });
}
