/**
 * Hostile input, end to end (the pure cases are in bad_input.test.ts): a corpus kept in the repo (test/reliability/corpus/bad_input.json) plus a seeded
 * random generator, thousands of cases per run, for stats replies, hit-rate events, label values
 * and flags. Each case: no crash, no misattribution to another worker, counted under its reason.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from '@nats-io/transport-node';
import { stringifyJson } from '../../src/runtime/json.ts';
import { sleep } from '../support/process.ts';
import { testCluster } from '../support/servers.ts';
import { startMetrics, waitForScrape } from '../support/aggregator.ts';
import { sample, series } from '../support/exposition.ts';
import { promtool } from '../support/promtool.ts';
import { registerDynamoInstances } from '../support/dynamoStats.ts';
import { CORPUS, SERVICE, rng, SEED, endpointJson, goodData, subjectOf, garbageEndpoint } from '../support/hostile.ts';

test('end to end: a worker answering garbage each cycle, and garbage events, next to a good worker', async (t) => {
  const { cluster, defer } = await testCluster(t);
  const nc = await connect({ servers: cluster.nats.url });
  defer(() => nc.close());
  const goodId = 7587884888253033398n;
  defer(await registerDynamoInstances(cluster.etcd.url, [goodId]));
  const r = rng(SEED + 3);
  nc.subscribe(`$SRV.STATS.${SERVICE}`, {
    callback: (_e, msg) => {
      for (const c of CORPUS.stats_replies) msg.respond(c.body);
      for (let i = 0; i < 20; i++) msg.respond(`{"endpoints":[${garbageEndpoint(r, goodId + 1n + BigInt(i))}]}`);
      msg.respond(`{"endpoints":[${garbageEndpoint(r, goodId)},${endpointJson(subjectOf(goodId), goodData(42))}]}`);
    },
  });
  await nc.flush();
  const m = await startMetrics(cluster);
  defer(() => m.proc.stop());
  let isl = 0;
  let overlap = 0;
  for (let round = 0; round < 5; round++) {
    // the corpus's events, aimed at another worker: they must not touch the good one
    for (const c of CORPUS.events) {
      if (c.body !== undefined)
        nc.publish(
          'namespace.dynamo.kv-hit-rate',
          c.body.replace('"worker_id": 1,', `"worker_id": ${goodId + 1000n},`).replaceAll(String(goodId), String(goodId + 1000n)),
        );
    }
    nc.publish('namespace.dynamo.kv-hit-rate', stringifyJson({ worker_id: goodId, isl_blocks: 10 + round, overlap_blocks: round }));
    isl += 10 + round;
    overlap += round;
    await sleep(600);
  }
  await nc.flush();
  const text = await waitForScrape(m, 'the good worker with its events', (x) =>
    sample(x, 'llm_kv_hit_rate_isl_blocks_total', { worker_id: String(goodId) }) === isl ? x : undefined,
  ).catch(async (err: Error) => {
    const x = await m.scrape();
    throw new Error(
      `${err.message}: isl ${sample(x, 'llm_kv_hit_rate_isl_blocks_total', { worker_id: String(goodId) })} (sent ${isl}), kv ${sample(x, 'llm_kv_blocks_active', { worker_id: String(goodId) })}, events ${sample(x, 'dynamo_metrics_events_total')}; ${x
        .split('\n')
        .filter((l) => l.includes('rejected'))
        .join(' | ')}`,
    );
  });
  assert.equal(sample(text, 'llm_kv_blocks_active', { worker_id: String(goodId) }), 42);
  assert.equal(sample(text, 'llm_kv_hit_rate_overlap_blocks_total', { worker_id: String(goodId) }), overlap);
  const workers = series(text, 'llm_kv_blocks_active').map((s) => s.labels.worker_id);
  assert.ok(workers.includes(String(goodId)));
  for (const s of series(text, 'llm_kv_blocks_active')) if (s.labels.worker_id === String(goodId)) assert.equal(s.value, 42);
  const statsRejected = series(text, 'dynamo_metrics_stats_rejected_total').reduce((a, s) => a + s.value, 0);
  const eventsRejected = series(text, 'dynamo_metrics_events_rejected_total').reduce((a, s) => a + s.value, 0);
  assert.ok(statsRejected > 100, `${statsRejected} stats rejections counted`);
  assert.ok(eventsRejected >= 5 * 15, `${eventsRejected} event rejections counted`);
  assert.ok(m.proc.running);
  promtool(text);
});
