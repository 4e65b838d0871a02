/**
 * The aggregate is never dropped silently: above the NATS server's max_payload it is not sent,
 * `dynamo_metrics_publish_failures_total{reason="too_large"}` counts it and one error line names
 * the size and the limit. (Delivering it in parts is part of the scale work still to come.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { cleanups, tempDir } from '../support/process.ts';
import { startEtcd, startNats } from '../support/servers.ts';
import { startMetrics, waitForScrape } from '../support/aggregator.ts';
import { dynamoEndpoint, dynamoStatsReply, dynamoSubject, MOCK_SERVICE, registerDynamoInstances } from '../support/dynamoStats.ts';
import { sample, series } from '../support/exposition.ts';
import { waitForLine } from '../support/workers.ts';

const MAX_PAYLOAD = 2048;

test('an aggregate above max_payload is counted and named in one error line, never dropped silently', async (t) => {
  const defer = cleanups(t);
  const conf = join(tempDir('dyn-nats-conf-'), 'nats.conf');
  writeFileSync(conf, `max_payload: ${MAX_PAYLOAD}\n`);
  const nats = await startNats(['-c', conf]);
  defer(() => nats.stop());
  const etcd = await startEtcd();
  defer(() => etcd.stop());
  const ids = Array.from({ length: 40 }, (_, i) => 7587884888253033398n + BigInt(i));
  defer(await registerDynamoInstances(etcd.url, ids));
  const nc = await connect({ servers: nats.url });
  defer(() => nc.close());
  // one reply per worker: each fits max_payload, the 40 together do not
  nc.subscribe(`$SRV.STATS.${MOCK_SERVICE}`, {
    callback: (_e, msg) => {
      for (const id of ids) msg.respond(dynamoStatsReply([dynamoEndpoint(dynamoSubject(id), '{"request_active_slots":1,"request_total_slots":10,"kv_active_blocks":5,"kv_total_blocks":100}')]));
    },
  });
  let received = 0;
  nc.subscribe('namespace.dynamo.l2c.my_component.my_endpoint', { callback: () => { received++; } });
  await nc.flush();
  const m = await startMetrics({ nats, etcd });
  defer(() => m.proc.stop());
  const text = await waitForScrape(m, 'publish failures counted', (x) => (series(x, 'llm_kv_blocks_active').length === 40 && (sample(x, 'dynamo_metrics_publish_failures_total', { reason: 'too_large' }) ?? 0) >= 2 ? x : undefined)).catch(async (err: Error) => {
    const x = await m.scrape();
    throw new Error(`${err.message}: workers ${series(x, 'llm_kv_blocks_active').length}; ${x.split('\n').filter((l) => /publish|rejected|workers /.test(l)).join(' | ')}; ${m.proc.output().slice(-800)}`);
  });
  assert.ok(text.length > 0);
  const line = (await waitForLine(m.proc, /ERROR .*the aggregate of 40 workers is (\d+) bytes, above the NATS server's max_payload of 2048 bytes/))[1]!;
  assert.ok(Number(line) > MAX_PAYLOAD);
  assert.equal(received, 0, 'nothing half-sent');
  assert.ok(m.proc.running);
});
