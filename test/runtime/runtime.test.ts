/**
 * The runtime against real nats-server and etcd: registration, Dynamo-shaped stats, spreading,
 * streaming, interop with nats.js's services client, and 63-bit ids on every path.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createInbox, type NatsConnection } from '@nats-io/transport-node';
import { Svcm } from '@nats-io/services';
import { Etcd3 } from 'etcd3';
import { DistributedRuntime, RemoteError, parseJson, type Client } from '../../src/runtime/index.ts';
import { startCluster } from '../support/servers.ts';
import { startEchoWorker } from '../support/workers.ts';
import { waitUntil, type ManagedProcess } from '../support/process.ts';

const NS = 'test';
const COMP = 'echo';
const EP = 'generate';
const SERVICE = 'test_echo';

/** Longest wait for the expected replies (a loaded machine; they normally come within milliseconds). */
const GATHER_CEILING_MS = 10_000;
/** After the expected replies and a round trip to the server, how long an unexpected extra one may take to show. */
const STRAGGLER_GRACE_MS = 100;

/**
 * Sends an empty request to `subject` and gathers the replies: waits for `expected` of them (or
 * the ceiling), then a server round trip and a short grace, so that an extra reply is also seen.
 */
async function gather(nc: NatsConnection, subject: string, expected: number): Promise<Record<string, unknown>[]> {
  const inbox = createInbox();
  const replies: Record<string, unknown>[] = [];
  const sub = nc.subscribe(inbox, {
    callback: (_e, m) => {
      replies.push(parseJson(m.data) as Record<string, unknown>);
    },
  });
  nc.publish(subject, new Uint8Array(), { reply: inbox });
  await waitUntil(`${expected} replies on ${subject}`, () => replies.length >= expected, GATHER_CEILING_MS, 10).catch(() => undefined);
  await nc.flush();
  await new Promise((r) => setTimeout(r, STRAGGLER_GRACE_MS));
  sub.unsubscribe();
  return replies;
}

describe('two workers in two processes', () => {
  let cluster: Awaited<ReturnType<typeof startCluster>>;
  const workers: { proc: ManagedProcess; id: bigint }[] = [];
  let drt: DistributedRuntime;
  let client: Client;
  let nc: NatsConnection;
  let etcd: Etcd3;

  before(async () => {
    cluster = await startCluster();
    workers.push(...(await Promise.all([startEchoWorker(cluster), startEchoWorker(cluster)])));
    drt = await DistributedRuntime.connect({ nats: { servers: [cluster.nats.url] }, etcd: { endpoints: [cluster.etcd.url] } });
    client = await drt.namespace(NS).component(COMP).endpoint(EP).client();
    await client.waitForInstances(2);
    nc = await connect({ servers: cluster.nats.url });
    etcd = new Etcd3({ hosts: cluster.etcd.url });
  });

  after(async () => {
    await nc?.close();
    etcd?.close();
    await drt?.shutdown();
    await Promise.all(workers.map((w) => w.proc.stop()));
    await cluster?.stop();
  });

  test('both register under instances/{ns}/{comp}/ with Dynamo-shaped values', async () => {
    const kvs = await etcd.getAll().prefix(`instances/${NS}/${COMP}/`).strings();
    assert.equal(Object.keys(kvs).length, 2);
    for (const w of workers) {
      const hex = w.id.toString(16);
      const key = `instances/${NS}/${COMP}/${EP}:${hex}`;
      const raw = kvs[key];
      assert.ok(raw !== undefined, `missing ${key} in ${Object.keys(kvs).join(',')}`);
      // instance_id is a bare JSON number with all its digits
      assert.ok(raw.includes(`"instance_id": ${w.id.toString()}`), raw);
      assert.deepEqual(parseJson(raw), {
        component: COMP,
        endpoint: EP,
        namespace: NS,
        instance_id: w.id,
        transport: { nats_tcp: `${SERVICE}.${EP}-${hex}` },
      });
      const lease = await etcd.getAll().prefix(key).exec();
      assert.equal(BigInt(lease.kvs[0]!.lease), w.id, 'the key is bound to the worker lease, whose id is the instance id');
    }
  });

  test('both answer $SRV.STATS with all seven keys per endpoint', async () => {
    // a request first so the counters move
    await client.direct({ text: 'x' }, workers[0]!.id).collect();
    const replies = await gather(nc, `$SRV.STATS.${SERVICE}`, 2);
    assert.equal(replies.length, 2);
    const ids = new Set<bigint>();
    for (const r of replies) {
      assert.equal(r.type, 'io.nats.micro.v1.stats_response');
      assert.equal(r.name, SERVICE);
      assert.equal(r.version, '0.0.1');
      assert.equal(typeof r.id, 'string');
      assert.ok(!Number.isNaN(Date.parse(r.started as string)));
      const eps = r.endpoints as Record<string, unknown>[];
      assert.equal(eps.length, 1);
      const ep = eps[0]!;
      for (const k of ['num_requests', 'num_errors', 'last_error', 'processing_time', 'average_processing_time', 'queue_group', 'data']) {
        assert.ok(k in ep, `stats endpoint lacks ${k}`);
      }
      assert.equal(ep.queue_group, 'q');
      const m = /^test_echo\.generate-([0-9a-f]+)$/.exec(ep.subject as string);
      assert.ok(m, String(ep.subject));
      assert.equal(ep.name, (ep.subject as string).replaceAll('.', '-'));
      const id = BigInt(`0x${m[1]}`);
      ids.add(id);
      const data = ep.data as Record<string, unknown>;
      assert.equal(data.worker_id, id, 'stats data carries the exact 63-bit id');
      if (id === workers[0]!.id) {
        assert.ok((ep.num_requests as number) >= 1);
        assert.ok((ep.processing_time as number) > 0 && Number.isInteger(ep.processing_time));
      }
    }
    assert.deepEqual([...ids].sort(), workers.map((w) => w.id).sort());
  });

  test('requests are spread across both workers (random and round robin)', async () => {
    for (const mode of ['random', 'roundRobin'] as const) {
      const seen = new Map<bigint, number>();
      for (let i = 0; i < 40; i++) {
        const [chunk] = await client[mode]({ text: `hi ${i}` }).collect();
        const body = chunk!.json<{ text: string; worker: bigint }>();
        assert.equal(body.text, `hi ${i}`);
        seen.set(body.worker, (seen.get(body.worker) ?? 0) + 1);
      }
      assert.deepEqual([...seen.keys()].sort(), workers.map((w) => w.id).sort(), mode);
      if (mode === 'roundRobin') assert.deepEqual([...seen.values()], [20, 20]);
    }
  });

  test('a direct request reaches the chosen worker', async () => {
    for (const w of workers) {
      const [chunk] = await client.direct({ text: 'd' }, w.id).collect();
      assert.equal(chunk!.json<{ worker: bigint }>().worker, w.id);
    }
  });

  test('a streamed response of 100 chunks arrives whole and in order', async () => {
    const chunks = await client.random({ chunks: 100 }).collect();
    assert.equal(chunks.length, 100);
    for (const [i, c] of chunks.entries()) assert.equal(c.json<{ i: number }>().i, i);
  });

  test('handler errors and broken streams reach the client as errors', async () => {
    await assert.rejects(client.random({ fail: 'boom' }).collect(), (err: unknown) => {
      assert.ok(err instanceof RemoteError);
      assert.equal(err.errorType, 'generate');
      assert.match(err.message, /boom/);
      return true;
    });
    const got: number[] = [];
    await assert.rejects(
      (async () => {
        for await (const c of client.random({ chunks: 10, failStreamAt: 4 })) got.push(c.json<{ i: number }>().i);
      })(),
      (err: unknown) => err instanceof RemoteError && err.errorType === 'response_stream',
    );
    assert.deepEqual(got, [0, 1, 2, 3]);
  });

  test('PING, INFO and STATS answer on all three subject forms', async () => {
    for (const verb of ['PING', 'INFO', 'STATS']) {
      const all = await gather(nc, `$SRV.${verb}`, 2);
      const byName = await gather(nc, `$SRV.${verb}.${SERVICE}`, 2);
      assert.equal(byName.length, 2, `$SRV.${verb}.${SERVICE}`);
      assert.ok(all.length >= 2, `$SRV.${verb}`);
      for (const r of byName) {
        assert.equal(r.type, `io.nats.micro.v1.${verb.toLowerCase()}_response`);
        const one = await gather(nc, `$SRV.${verb}.${SERVICE}.${r.id as string}`, 1);
        assert.equal(one.length, 1, `$SRV.${verb}.${SERVICE}.${r.id as string}`);
        assert.equal(one[0]!.id, r.id);
      }
    }
  });

  test("our stats parse with nats.js's own services client (interop)", async () => {
    const svc = new Svcm(nc).client({ maxWait: 1000, strategy: 'timer' });
    const stats = [];
    for await (const s of await svc.stats(SERVICE)) stats.push(s);
    assert.equal(stats.length, 2);
    for (const s of stats) {
      assert.equal(s.name, SERVICE);
      assert.equal(s.endpoints?.length, 1);
      assert.equal(s.endpoints?.[0]?.queue_group, 'q');
    }
    const infos = [];
    for await (const i of await svc.info(SERVICE)) infos.push(i);
    assert.equal(infos.length, 2);
    assert.equal(infos[0]!.description, 'Dynamo component echo in namespace test');
    const pings = [];
    for await (const p of await svc.ping(SERVICE)) pings.push(p);
    assert.equal(pings.length, 2);
  });

  test('ids above 2^53 keep every digit through etcd, subjects, stats and events', async () => {
    for (const w of workers) assert.ok(w.id > 2n ** 53n, `etcd gave a lease id ${w.id} below 2^53`);
    const ids = client.instanceIds();
    assert.deepEqual([...ids].sort(), workers.map((w) => w.id).sort());
    // events: publish and receive through the namespace API
    const received: bigint[] = [];
    const subjects = new Set<string>();
    const sub = drt.namespace(NS).subscribe('id-echo', (e) => {
      received.push(e.json<{ worker_id: bigint }>().worker_id);
      subjects.add(e.subject);
    });
    await drt.nats.flush();
    for (const w of workers) drt.namespace(NS).publish('id-echo', { worker_id: w.id });
    await drt.nats.flush();
    await new Promise((r) => setTimeout(r, 100));
    sub.unsubscribe();
    assert.deepEqual(
      received,
      workers.map((w) => w.id),
    );
    assert.deepEqual([...subjects], [`namespace.${NS}.id-echo`], 'each event knows its subject');
  });
});
