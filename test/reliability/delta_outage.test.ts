/**
 * Delta temporality across a worker that misses scrapes and a NATS outage: the OTLP deltas of a
 * worker's hit-rate totals add up to exactly the total the aggregator counted (before the fix: a
 * returning worker's whole total was sent again, +50 %).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from '@nats-io/transport-node';
import { stringifyJson } from '../../src/runtime/json.ts';
import { cleanups, sleep, waitUntil } from '../support/process.ts';
import { startCluster, testCluster } from '../support/servers.ts';
import { startMetrics, waitForScrape } from '../support/aggregator.ts';
import { dynamoEndpoint, dynamoStatsReply, dynamoSubject, MOCK_SERVICE, registerDynamoInstances } from '../support/dynamoStats.ts';
import { sample } from '../support/exposition.ts';
import { OtlpReceiver } from '../support/otlpReceiver.ts';

test('a worker paused for cycles and NATS down: delivered deltas equal the counted total exactly', async (t) => {
  const { cluster, defer } = await testCluster(t);
  const rx = await new OtlpReceiver().start();
  defer(() => rx.stop());
  const id = 7587884888253033398n;
  defer(await registerDynamoInstances(cluster.etcd.url, [id], 'dynamo', 'my_component', 'my_endpoint'));
  const nc = await connect({ servers: cluster.nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 200 });
  defer(() => nc.close());
  let answering = true;
  nc.subscribe(`$SRV.STATS.${MOCK_SERVICE}`, {
    callback: (_e, msg) => {
      if (answering)
        msg.respond(
          dynamoStatsReply([
            dynamoEndpoint(
              dynamoSubject(id),
              '{"request_active_slots":1,"request_total_slots":10,"kv_active_blocks":5,"kv_total_blocks":100}',
            ),
          ]),
        );
    },
  });
  await nc.flush();
  const m = await startMetrics(cluster, [
    '--exporters',
    'prometheus,otlp',
    '--otlp-endpoint',
    rx.url,
    '--otlp-interval',
    '500ms',
    '--otlp-temporality',
    'delta',
  ]);
  defer(() => m.proc.stop());
  const labels = { worker_id: String(id) };
  let total = 0;
  const events = async (n: number): Promise<void> => {
    for (let i = 0; i < n; i++) {
      nc.publish('namespace.dynamo.kv-hit-rate', stringifyJson({ worker_id: id, isl_blocks: 10, overlap_blocks: 3 }));
      total += 10;
    }
    await nc.flush();
    await waitForScrape(m, `the aggregator counted ${total}`, (x) =>
      sample(x, 'llm_kv_hit_rate_isl_blocks_total', labels) === total ? x : undefined,
    ).catch(async (err: Error) => {
      const x = await m.scrape();
      throw new Error(
        `${err.message}: ${x
          .split('\n')
          .filter((l) => /hit_rate|rejected|events|kv_blocks_active/.test(l) && !l.startsWith('#'))
          .join(' | ')}`,
      );
    });
  };
  /** The worker's ISL blocks delivered over OTLP so far: the sum of every delta. */
  const delivered = (): number =>
    rx.exports
      .flatMap((e) => e.metrics.filter((x) => x.name === 'llm_kv_hit_rate_isl_blocks_total'))
      .reduce((a, x) => {
        assert.equal(x.temporality, 'DELTA');
        return a + x.points.filter((p) => p.attributes.worker_id === String(id)).reduce((s, p) => s + (p.value ?? 0), 0);
      }, 0);
  const allDelivered = (what: string): Promise<unknown> =>
    waitUntil(what, () => (delivered() === total ? true : undefined), 20_000, 50).catch((err: Error) => {
      throw new Error(`${err.message}: delivered ${delivered()}, counted ${total}`);
    });
  // the aggregator leads and sees the worker: its event subscription is live
  await waitForScrape(m, 'the worker in the view', (x) => (sample(x, 'llm_kv_blocks_active', labels) === 5 ? x : undefined));
  await events(5);
  await allDelivered('the first 50 blocks exported');
  // the worker misses scrapes for a few cycles (its series leave the view), events go on
  answering = false;
  await waitForScrape(m, 'the worker gone from the view', (x) => (sample(x, 'llm_kv_blocks_active', labels) === undefined ? x : undefined));
  for (let i = 0; i < 3; i++)
    nc.publish('namespace.dynamo.kv-hit-rate', stringifyJson({ worker_id: id, isl_blocks: 10, overlap_blocks: 3 }));
  total += 30;
  await sleep(1500);
  answering = true;
  await events(2);
  await allDelivered('the blocks counted while the worker was away, and after, exported');
  // NATS down for 3 s: the aggregator cannot vouch for its view, the worker series leave the export
  await cluster.nats.restart();
  await waitUntil(
    'NATS back for the test',
    async () =>
      nc.flush().then(
        () => true,
        () => undefined,
      ),
    20_000,
  );
  await sleep(1000);
  await events(4);
  await allDelivered('everything counted exported');
  // and nothing counted twice: a few more exports with nothing new leave the sum where it is
  const exportsNow = rx.exports.length;
  await waitUntil('three more exports', () => (rx.exports.length >= exportsNow + 3 ? true : undefined), 20_000, 50);
  assert.equal(delivered(), total, `delivered deltas ${delivered()}, counted ${total}`);
});

/**
 * The receiver answers 503 for 20 s while hit-rate events go on (120 events of 7 blocks): the OTel
 * exporter retries each export for longer than the reader waits for it. Before exports were kept
 * one at a time, an export the reader had given up on was neither delivered nor carried: 784, 728
 * and 784 of 840 blocks arrived in three runs at a 1 s interval.
 */
for (const interval of ['1s', '5s']) {
  test(`a 20 s receiver outage at a ${interval} OTLP interval: delivered deltas equal the counted total exactly`, async (t) => {
    const defer = cleanups(t);
    const cluster = await startCluster();
    defer(() => cluster.stop());
    const rx = await new OtlpReceiver().start();
    defer(() => rx.stop());
    const id = 5120376262474611235n;
    defer(await registerDynamoInstances(cluster.etcd.url, [id], 'dynamo', 'my_component', 'my_endpoint'));
    const nc = await connect({ servers: cluster.nats.url });
    defer(() => nc.close());
    nc.subscribe(`$SRV.STATS.${MOCK_SERVICE}`, {
      callback: (_e, msg) => {
        msg.respond(
          dynamoStatsReply([
            dynamoEndpoint(
              dynamoSubject(id),
              '{"request_active_slots":1,"request_total_slots":10,"kv_active_blocks":5,"kv_total_blocks":100}',
            ),
          ]),
        );
      },
    });
    await nc.flush();
    const m = await startMetrics(cluster, [
      '--exporters',
      'prometheus,otlp',
      '--otlp-endpoint',
      rx.url,
      '--otlp-protocol',
      'http/json',
      '--otlp-interval',
      interval,
      '--otlp-temporality',
      'delta',
    ]);
    defer(() => m.proc.stop());
    const labels = { worker_id: String(id) };
    await waitForScrape(m, 'the worker in the view', (x) => (sample(x, 'llm_kv_blocks_active', labels) === 5 ? x : undefined));
    const publish = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i++)
        nc.publish('namespace.dynamo.kv-hit-rate', stringifyJson({ worker_id: id, isl_blocks: 7, overlap_blocks: 2 }));
      await nc.flush();
    };
    await publish(10);
    rx.outageStatus = 503;
    for (let s = 0; s < 20; s++) {
      await publish(5); // 100 events over the outage
      await sleep(1000);
    }
    rx.outageStatus = undefined;
    await publish(10);
    const total = 120 * 7;
    await waitForScrape(m, `the aggregator counted ${total}`, (x) =>
      sample(x, 'llm_kv_hit_rate_isl_blocks_total', labels) === total ? x : undefined,
    );
    const delivered = (): number =>
      rx.exports
        .flatMap((e) => e.metrics.filter((x) => x.name === 'llm_kv_hit_rate_isl_blocks_total'))
        .reduce((a, x) => a + x.points.filter((p) => p.attributes.worker_id === String(id)).reduce((s, p) => s + (p.value ?? 0), 0), 0);
    await waitUntil('every block delivered', () => (delivered() === total ? true : undefined), 60_000, 100).catch((err: Error) => {
      throw new Error(`${err.message}: delivered ${delivered()} of ${total}`);
    });
    const exportsNow = rx.exports.length;
    await waitUntil('two more exports', () => (rx.exports.length >= exportsNow + 2 ? true : undefined), 30_000, 100);
    assert.equal(delivered(), total, 'nothing delivered twice');
    assert.ok(rx.requests > rx.exports.length, 'the receiver refused exports during the outage');
  });
}
