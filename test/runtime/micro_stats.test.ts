/**
 * The `$SRV.STATS` answer of the micro service, written straight to text (pure: the connection is
 * a stand-in that hands the service its requests; the protocol over a real nats-server is in
 * runtime.test.ts): the same bytes as `encodeJson` of the reply object, at once when every stats
 * handler answers at once, after the slow ones otherwise.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Msg, NatsConnection } from '@nats-io/transport-node';
import { EndpointCounters, MicroService, QUEUE_GROUP, type MicroEndpoint } from '../../src/runtime/MicroService.ts';
import { encodeJson, parseJson } from '../../src/runtime/json.ts';

type Callback = (err: Error | null, msg: Msg) => void;

/** A connection that only records subscriptions, and a STATS request delivered to them. */
function standIn(): { nc: NatsConnection; stats: () => Uint8Array[] } {
  const subs = new Map<string, Callback>();
  const nc = {
    subscribe: (subject: string, opts: { callback: Callback }) => {
      subs.set(subject, opts.callback);
      return { unsubscribe: () => subs.delete(subject) };
    },
  } as unknown as NatsConnection;
  const stats = (): Uint8Array[] => {
    const replies: Uint8Array[] = [];
    const msg = { reply: '_INBOX.x', respond: (d: Uint8Array) => replies.push(d) > 0 } as unknown as Msg;
    subs.get('$SRV.STATS')!(null, msg);
    return replies;
  };
  return { nc, stats };
}

function endpoint(name: string, statsHandler?: () => unknown, counters = new EndpointCounters()): MicroEndpoint {
  return { name: `svc-${name}`, subject: `svc.${name}`, counters, statsHandler };
}

/** The reply as the object form writes it (the reference the text writer must match byte for byte). */
function expected(svc: MicroService, eps: MicroEndpoint[], datas: unknown[]): string {
  return new TextDecoder().decode(
    encodeJson({
      type: 'io.nats.micro.v1.stats_response',
      name: svc.name,
      id: svc.id,
      version: svc.version,
      started: svc.started,
      metadata: svc.metadata,
      endpoints: eps.map((ep, i) => {
        const c = ep.counters;
        const processing = Math.round(c.processingTimeNs);
        return {
          name: ep.name,
          subject: ep.subject,
          queue_group: QUEUE_GROUP,
          num_requests: c.numRequests,
          num_errors: c.numErrors,
          last_error: c.lastError,
          processing_time: processing,
          average_processing_time: c.numRequests > 0 ? Math.round(processing / c.numRequests) : 0,
          data: datas[i],
        };
      }),
    }),
  );
}

test('handlers that answer at once: the reply is sent at once, the same bytes as the object form', () => {
  const { nc, stats } = standIn();
  const meta = { zone: 'a "quoted" zone' };
  const svc = new MicroService(nc, { name: 'svc', description: 'd', metadata: meta });
  svc.start();
  const busy = new EndpointCounters();
  busy.record(1_500.4);
  busy.record(2_000.2, 'invalid_message: "bad"\nline');
  const data = { kv_active_blocks: 3, worker_id: 7587884888253033398n, f: 0.1 + 0.2, s: 'é\u0001' };
  const eps = [endpoint('generate', () => data, busy), endpoint('plain'), endpoint('nothing', () => undefined)];
  for (const ep of eps) svc.addEndpoint(ep);
  const replies = stats();
  assert.equal(replies.length, 1, 'answered synchronously');
  assert.equal(new TextDecoder().decode(replies[0]), expected(svc, eps, [data, null, null]));
  const back = parseJson(replies[0]!) as {
    endpoints: { data: { worker_id: bigint } | null; last_error: string; average_processing_time: number }[];
  };
  assert.equal(back.endpoints[0]!.data!.worker_id, 7587884888253033398n);
  assert.equal(back.endpoints[0]!.last_error, 'invalid_message: "bad"\nline');
  assert.equal(back.endpoints[0]!.average_processing_time, 1751, 'round(round(3500.6) / 2)');

  // the counters move, the cached parts do not go stale
  busy.record(10);
  meta.zone = 'changed after start';
  assert.equal(new TextDecoder().decode(stats()[0]), expected(svc, eps, [data, null, null]));
  assert.match(new TextDecoder().decode(stats()[0]), /"zone":"a \\"quoted\\" zone"/, 'the metadata is the one given at start');
  // an endpoint re-added under the same name with another subject
  svc.removeEndpoint('svc-plain');
  const moved: MicroEndpoint = { ...endpoint('plain'), subject: 'svc.moved' };
  svc.addEndpoint(moved);
  assert.equal(new TextDecoder().decode(stats()[0]), expected(svc, [eps[0]!, eps[2]!, moved], [data, null, null]));
  svc.stop();
});

test('a slow, failing, hung or unwritable stats handler: the reply waits for it, or says null for it, and the others are kept', async () => {
  const { nc, stats } = standIn();
  const svc = new MicroService(nc, { name: 'svc', description: 'd', statsHandlerTimeoutMs: 30 });
  svc.start();
  const eps = [
    endpoint('slow', () => new Promise((r) => setTimeout(() => r({ late: 1 }), 5))),
    endpoint('throws', () => {
      throw new Error('boom');
    }),
    endpoint('rejects', () => Promise.reject(new Error('no'))),
    endpoint('hangs', () => new Promise(() => undefined)),
    endpoint('now', () => ({ now: 2 })),
    endpoint('circular', () => {
      const o: Record<string, unknown> = {};
      o.self = o;
      return o;
    }),
  ];
  for (const ep of eps) svc.addEndpoint(ep);
  const replies = stats();
  assert.equal(replies.length, 0, 'not before the slow ones settle');
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(replies.length, 1);
  assert.equal(new TextDecoder().decode(replies[0]), expected(svc, eps, [{ late: 1 }, null, null, null, { now: 2 }, null]));
  // the object form says the same
  assert.deepEqual(await svc.stats(), parseJson(replies[0]!));
  svc.stop();
});
