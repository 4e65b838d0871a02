/**
 * Spoofed numbers are not believed. On an open NATS: a forger answering `$SRV.STATS` for a real
 * worker's subject is a counted conflict (neither answer believed), a forger under an id etcd
 * does not list is refused as unregistered, absurd numbers are refused, and hit-rate events for
 * unlisted ids are counted apart. With deploy/nats/nats-server.conf on a real nats-server, the
 * forger cannot answer or publish at all.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { stringifyJson } from '../../src/runtime/json.ts';
import { cleanups, sleep, waitUntil } from '../support/process.ts';
import { startEtcd, startNats, type EtcdServer, type NatsServer, testCluster } from '../support/servers.ts';
import { startMetrics, startMockWorker, waitForScrape, type MetricsProcess } from '../support/aggregator.ts';
import { dynamoEndpoint, dynamoStatsReply, dynamoSubject } from '../support/dynamoStats.ts';
import { reasons, sample, series } from '../support/exposition.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const FORGED = 666;

/**
 * nats-server with deploy/nats/nats-server.conf, etcd, a mock worker logged in as `worker` and the
 * aggregator as `aggregator`, the worker exported.
 */
async function permissionedCluster(
  defer: (fn: () => unknown) => void,
): Promise<{ nats: NatsServer; etcd: EtcdServer; real: bigint; m: MetricsProcess }> {
  Object.assign(process.env, { NATS_WORKER_PASSWORD: 'wpw', NATS_AGGREGATOR_PASSWORD: 'apw', NATS_CLIENT_PASSWORD: 'cpw' });
  const nats = await startNats(['-c', join(ROOT, 'deploy', 'nats', 'nats-server.conf')]);
  defer(() => nats.stop());
  const etcd = await startEtcd();
  defer(() => etcd.stop());
  const cluster = { nats, etcd };
  const w = await startMockWorker(cluster, [], { NATS_AUTH_USERNAME: 'worker', NATS_AUTH_PASSWORD: 'wpw' });
  defer(() => w.proc.stop());
  const real = w.ids[0]!;
  const m = await startMetrics(cluster, [], { NATS_AUTH_USERNAME: 'aggregator', NATS_AUTH_PASSWORD: 'apw' });
  defer(() => m.proc.stop());
  await waitForScrape(m, 'the worker through the permissioned server', (x) =>
    sample(x, 'llm_kv_blocks_total', { worker_id: String(real) }) === 100 ? x : undefined,
  );
  return { nats, etcd, real, m };
}

test('on an open NATS: forged stats are conflicts or unregistered, absurd numbers refused, unlisted hit-rate events apart', async (t) => {
  const { cluster, defer } = await testCluster(t);
  const w = await startMockWorker(cluster);
  defer(() => w.proc.stop());
  const real = w.ids[0]!;
  const stranger = real + 12345n;
  const m = await startMetrics(cluster);
  defer(() => m.proc.stop());
  // the real worker answers alone first: the aggregator pins it to its service instance
  await waitForScrape(m, 'the real worker', (x) => (sample(x, 'llm_kv_blocks_total', { worker_id: String(real) }) === 100 ? x : undefined));
  const forger = await connect({ servers: cluster.nats.url });
  defer(() => forger.close());
  const forged = `{"request_active_slots":1,"request_total_slots":1000,"kv_active_blocks":${FORGED},"kv_total_blocks":1000}`;
  forger.subscribe('$SRV.STATS.dynamo_my_component', {
    callback: (_e, msg) => {
      msg.respond(dynamoStatsReply([dynamoEndpoint(dynamoSubject(real), forged)])); // the real worker's subject
      msg.respond(dynamoStatsReply([dynamoEndpoint(dynamoSubject(stranger), forged)])); // an id etcd does not list
      msg.respond(
        dynamoStatsReply([
          dynamoEndpoint(
            dynamoSubject(stranger + 1n),
            `{"request_active_slots":1,"request_total_slots":2,"kv_active_blocks":${2 ** 53 - 1},"kv_total_blocks":${2 ** 53 - 1}}`,
          ),
        ]),
      );
    },
  });
  await forger.flush();
  for (let i = 0; i < 10; i++)
    forger.publish('namespace.dynamo.kv-hit-rate', stringifyJson({ worker_id: stranger, isl_blocks: 10, overlap_blocks: 10 }));
  const text = await waitForScrape(m, 'conflicts and unregistered replies counted', (x) => {
    const r = reasons(x, 'dynamo_metrics_stats_rejected_total');
    const e = reasons(x, 'dynamo_metrics_events_rejected_total');
    return (r.conflict ?? 0) >= 4 && (r.unregistered ?? 0) >= 2 && (e.unregistered_worker ?? 0) === 10 ? x : undefined;
  });
  for (let i = 0; i < 5; i++) {
    const x = i === 0 ? text : await m.scrape();
    for (const s of series(x, 'llm_kv_blocks_active')) {
      assert.notEqual(s.value, FORGED, 'a forged number is never exported');
      assert.equal(s.labels.worker_id, String(real), 'no worker but the registered one');
    }
    const avg = sample(x, 'llm_load_avg', { component: 'my_component', endpoint: 'my_endpoint' });
    assert.ok(avg === undefined || avg <= 100, `llm_load_avg ${avg} stays within what a mock worker reports`);
    await sleep(500);
  }
  assert.equal(sample(text, 'llm_kv_hit_rate_isl_blocks_total', { worker_id: String(stranger) }), undefined);
});

test('with deploy/nats/nats-server.conf, only workers answer stats and publish events: the forger is refused by the server', async (t) => {
  const defer = cleanups(t);
  const { nats, real, m } = await permissionedCluster(defer);

  // a forger with client credentials: cannot listen for stats requests, cannot publish events
  const errors: string[] = [];
  const forger = await connect({ servers: nats.url, user: 'client', pass: 'cpw' });
  defer(() => forger.close());
  void (async () => {
    for await (const s of forger.status()) if (s.type === 'error') errors.push(String((s as { error?: unknown }).error ?? s.type));
  })();
  const sub = forger.subscribe('$SRV.STATS.dynamo_my_component');
  forger.publish('namespace.dynamo.kv-hit-rate', stringifyJson({ worker_id: real, isl_blocks: 1_000_000, overlap_blocks: 0 }));
  await forger.flush().catch(() => undefined);
  await waitUntil('the server refused the forger', () => (errors.some((e) => /permissions violation/i.test(e)) ? true : undefined), 10_000);
  let received = 0;
  void (async () => {
    for await (const msg of sub) {
      received++;
      msg.respond(
        dynamoStatsReply([
          dynamoEndpoint(
            dynamoSubject(real),
            '{"request_active_slots":1,"request_total_slots":1000,"kv_active_blocks":666,"kv_total_blocks":1000}',
          ),
        ]),
      );
    }
  })().catch(() => undefined);
  for (let i = 0; i < 6; i++) {
    const x = await m.scrape();
    for (const s of series(x, 'llm_kv_blocks_active')) assert.notEqual(s.value, 666);
    const r = reasons(x, 'dynamo_metrics_stats_rejected_total');
    assert.equal(r.conflict ?? 0, 0, 'no forged answer ever reached the aggregator');
    const isl = sample(x, 'llm_kv_hit_rate_isl_blocks_total', { worker_id: String(real) }) ?? 0;
    // the mock worker sends at most 100 ISL blocks a second; the forged event alone is a million
    assert.ok(isl < 1_000_000, `the forged event was not counted (isl ${isl})`);
    await sleep(500);
  }
  assert.equal(received, 0, 'the forger never received a stats request');
});

test("with deploy/nats/nats-server.conf, a client that reads the aggregator's inbox cannot answer into it; the worker's stream still flows", async (t) => {
  const defer = cleanups(t);
  const { nats, etcd, real, m } = await permissionedCluster(defer);

  // the stealing forger: a client that listens on every inbox, learns the worker's service id and
  // the aggregator's reply subject from the worker's answer, and answers into that inbox first
  const errors: string[] = [];
  const forger = await connect({ servers: nats.url, user: 'client', pass: 'cpw' });
  defer(() => forger.close());
  void (async () => {
    for await (const s of forger.status()) if (s.type === 'error') errors.push(String((s as { error?: unknown }).error ?? s.type));
  })();
  let seen = 0;
  forger.subscribe('_INBOX.>', {
    callback: (_e, msg) => {
      const text = new TextDecoder().decode(msg.data);
      const id = /"id":"([^"]+)"/.exec(text)?.[1];
      if (id === undefined || !text.includes('io.nats.micro.v1.stats_response')) return;
      seen++;
      forger.publish(
        msg.subject,
        dynamoStatsReply([
          dynamoEndpoint(
            dynamoSubject(real),
            '{"request_active_slots":1,"request_total_slots":1000,"kv_active_blocks":666,"kv_total_blocks":1000}',
          ),
        ]).replace('"id":"abc"', `"id":"${id}"`),
      );
    },
  });
  await forger.flush();
  await waitUntil('the forger saw stats answers', () => (seen >= 3 ? true : undefined), 15_000, 100);
  await waitUntil(
    'the server refused its answers',
    () => (errors.some((e) => /permissions violation/i.test(e) && /_INBOX/.test(e)) ? true : undefined),
    10_000,
    100,
  );
  for (let i = 0; i < 6; i++) {
    const x = await m.scrape();
    assert.equal(sample(x, 'llm_kv_blocks_total', { worker_id: String(real) }), 100, 'the real worker, never the forged 1000');
    assert.equal(reasons(x, 'dynamo_metrics_stats_rejected_total').conflict ?? 0, 0, 'no forged answer reached the aggregator');
    await sleep(500);
  }

  // and a worker still answers a client's request with a stream of many frames (allow_responses)
  const { DistributedRuntime } = await import('../../src/runtime/index.ts');
  const drt = await DistributedRuntime.connect({
    nats: { servers: [nats.url], user: 'client', pass: 'cpw' },
    etcd: { endpoints: [etcd.url] },
  });
  defer(() => drt.shutdown());
  const client = await drt.namespace('dynamo').component('my_component').endpoint('my_endpoint').client();
  await client.waitForInstances(1);
  const chunks = await client.random({ text: Array.from({ length: 300 }, (_, i) => `w${i}`).join(' ') }).collect();
  assert.ok(chunks.length >= 300, `${chunks.length} frames of one response stream`);
});
