/**
 * The aggregate reaches consumers at any size: against a nats-server with a small max_payload, an
 * aggregate far above it goes out gzipped in parts, `subscribeLarge` puts it back together
 * byte for byte what the plain form would have been, every cycle, and a line names the size and
 * the limit once. (At the default max_payload the plain form is unchanged: metrics.test.ts.)
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
import { aggregateSubject, parseJson, subscribeLarge } from '../../src/runtime/index.ts';
import { HEADER_PARTS } from '../../src/runtime/largeMessages.ts';

const MAX_PAYLOAD = 2048;
const WORKERS = 400;

test('an aggregate far above max_payload is delivered in gzipped parts and reassembled exactly, every cycle', async (t) => {
  const defer = cleanups(t);
  const conf = join(tempDir('dyn-nats-conf-'), 'nats.conf');
  writeFileSync(conf, `max_payload: ${MAX_PAYLOAD}\n`);
  const nats = await startNats(['-c', conf]);
  defer(() => nats.stop());
  const etcd = await startEtcd();
  defer(() => etcd.stop());
  const ids = Array.from({ length: WORKERS }, (_, i) => 7587884888253033398n + BigInt(i * 7919));
  defer(await registerDynamoInstances(etcd.url, ids));
  const nc = await connect({ servers: nats.url });
  defer(() => nc.close());
  // one reply per worker, each with its own numbers (so the aggregate does not compress to nothing)
  nc.subscribe(`$SRV.STATS.${MOCK_SERVICE}`, {
    callback: (_e, msg) => {
      for (const [i, id] of ids.entries()) {
        msg.respond(
          dynamoStatsReply([
            dynamoEndpoint(
              dynamoSubject(id),
              `{"request_active_slots":${i % 10},"request_total_slots":10,"kv_active_blocks":${(i * 37) % 1000},"kv_total_blocks":${1000 + i}}`,
            ),
          ]),
        );
      }
    },
  });
  let messages = 0;
  let partMessages = 0;
  nc.subscribe(aggregateSubject('dynamo', 'my_component', 'my_endpoint'), {
    callback: (_e, msg) => {
      messages++;
      if (msg.headers?.has(HEADER_PARTS)) partMessages++;
    },
  });
  const aggregates: {
    endpoints: Record<string, { name: string; subject: string; data: { kv_active_blocks: number } }>;
    load_avg: number;
    load_std: number;
  }[] = [];
  const { assembler } = subscribeLarge(nc, aggregateSubject('dynamo', 'my_component', 'my_endpoint'), (body) =>
    aggregates.push(parseJson(body) as (typeof aggregates)[number]),
  );
  await nc.flush();
  const m = await startMetrics({ nats, etcd });
  defer(() => m.proc.stop());
  const text = await waitForScrape(m, 'three aggregates in parts', (x) =>
    series(x, 'llm_kv_blocks_active').length === WORKERS &&
    (sample(x, 'dynamo_metrics_aggregates_published_total', { form: 'parts' }) ?? 0) >= 3
      ? x
      : undefined,
  );
  await waitForScrape(m, 'consumer caught up', () => aggregates.length >= 3 || undefined);
  assert.equal(sample(text, 'dynamo_metrics_publish_failures_total', { reason: 'error' }), undefined, 'no failures');
  assert.ok(
    partMessages > aggregates.length,
    `each aggregate came in several parts (${partMessages} part messages for ${aggregates.length} aggregates)`,
  );
  assert.equal(partMessages, messages, 'every message on the subject is a part: nothing half-sent in the plain form');
  assert.equal(assembler.dropped.size, 0, 'nothing dropped by the assembler');
  // the reassembled aggregate is the whole thing: every worker, its own numbers, the statistics
  const agg = aggregates.at(-1)!;
  assert.equal(Object.keys(agg.endpoints).length, WORKERS);
  ids.forEach((id, i) => {
    const e = agg.endpoints[id.toString()]!;
    assert.equal(e.name, `worker-${id}`);
    assert.equal(e.subject, dynamoSubject(id));
    assert.equal(e.data.kv_active_blocks, (i * 37) % 1000);
  });
  const loads = ids.map((_, i) => (i * 37) % 1000);
  const avg = loads.reduce((a, b) => a + b, 0) / loads.length;
  assert.ok(Math.abs(agg.load_avg - avg) < 1e-9);
  const line = await waitForLine(
    m.proc,
    /INFO .*the aggregate of 400 workers is (\d+) bytes, above the NATS server's max_payload of 2048 bytes: published gzipped in (\d+) parts/,
  );
  assert.ok(Number(line[1]) > MAX_PAYLOAD && Number(line[2]) > 1);
  assert.ok(m.proc.running);
});

test('answers etcd never vouches for hold an empty view back for 3 cycles at most, then every cycle publishes', {
  timeout: 60_000,
}, async (t) => {
  const defer = cleanups(t);
  const nats = await startNats();
  defer(() => nats.stop());
  const etcd = await startEtcd();
  defer(() => etcd.stop());
  const nc = await connect({ servers: nats.url });
  defer(() => nc.close());
  // a client answering for a worker etcd does not list (as a worker whose registration is in flight would, for a moment)
  const unlisted = 7587884888253033398n;
  nc.subscribe(`$SRV.STATS.${MOCK_SERVICE}`, {
    callback: (_e, msg) =>
      void msg.respond(
        dynamoStatsReply([
          dynamoEndpoint(
            dynamoSubject(unlisted),
            '{"kv_active_blocks":1,"kv_total_blocks":10,"request_active_slots":0,"request_total_slots":4}',
          ),
        ]),
      ),
  });
  const published: number[] = [];
  nc.subscribe(aggregateSubject('dynamo', 'my_component', 'my_endpoint'), { callback: () => void published.push(Date.now()) });
  await nc.flush();
  const m = await startMetrics({ nats, etcd });
  defer(() => m.proc.stop());
  const text = await waitForScrape(
    m,
    'five cycles',
    (x) => ((sample(x, 'dynamo_metrics_scrape_cycles_total') ?? 0) >= 5 && published.length >= 2 ? x : undefined),
    30_000,
  );
  const cycles = sample(text, 'dynamo_metrics_scrape_cycles_total')!;
  // the cycles counter counts published cycles only; the first 3 were held back
  assert.ok(
    (sample(text, 'dynamo_metrics_stats_rejected_total', { reason: 'unregistered' }) ?? 0) >= cycles + 3,
    'every cycle saw the unlisted answer',
  );
  assert.ok(published.length >= 2, `${published.length} aggregates published after the hold`);
  // once the hold is over, one aggregate a cycle (1 s), not one every fourth
  for (let i = 1; i < published.length; i++)
    assert.ok(published[i]! - published[i - 1]! < 2_500, `aggregates ${published[i]! - published[i - 1]!} ms apart`);
  assert.equal(series(text, 'llm_kv_blocks_active').length, 0, 'the unlisted worker is never exported');
  assert.match(m.proc.output(), /workers answer under ids etcd does not list yet; the view is not replaced by an empty one/);
});
