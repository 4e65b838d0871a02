/**
 * The shared lease keepalive (src/runtime/LeaseKeepAlive.ts) against a real etcd: many leases
 * renewed over a few streams, a lease revoked on the server reported lost, a restart of etcd
 * survived on new streams, etcd gone for two TTLs reported as every lease lost, and a closed
 * client never left renewing or retrying.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Etcd3 } from 'etcd3';
import { LeaseKeepAlive, KEEPALIVE_STREAMS } from '../../src/runtime/LeaseKeepAlive.ts';
import { LeaseLostError } from '../../src/runtime/errors.ts';
import { closeEtcdClient } from '../../src/runtime/connections.ts';
import { cleanups, waitUntil } from '../support/process.ts';
import { startEtcd } from '../support/servers.ts';

/** Short, to keep the test short; renewed about every second, so a loaded machine has 2 s of slack. */
const TTL_S = 3;

/** Long enough to outlast a restart of etcd and the 5 s etcd3's circuit breaker stays open after it. */
const RESTART_TTL_S = 5;

async function grant(client: Etcd3, n: number, ttl = TTL_S): Promise<string[]> {
  return Promise.all(Array.from({ length: n }, () => client.lease(ttl, { autoKeepAlive: false }).grant()));
}

test('leases on one client: a few shared streams keep them alive; a lease revoked on the server is reported lost; remove() stops renewing', {
  timeout: 120_000,
}, async (t) => {
  const defer = cleanups(t);
  const etcd = await startEtcd();
  defer(() => etcd.stop());
  const client = new Etcd3({ hosts: etcd.url });
  const admin = new Etcd3({ hosts: etcd.url });
  defer(() => {
    client.close();
    admin.close();
  });
  const ka = LeaseKeepAlive.of(client);
  defer(() => ka.close());
  assert.equal(LeaseKeepAlive.of(client), ka, 'one keepalive per client');

  const N = 300;
  const ids = await grant(client, N);
  const lost = new Map<string, Error>();
  for (const id of ids) ka.add(id, TTL_S, (err) => lost.set(id, err));

  // three TTLs: without renewals every lease would be gone by then
  await new Promise((r) => setTimeout(r, 3 * TTL_S * 1000));
  const s = ka.stats();
  t.diagnostic(JSON.stringify(s));
  assert.equal(lost.size, 0, `none lost: ${[...lost.values()].slice(0, 2).join('; ')}`);
  assert.equal(s.leases, N);
  assert.ok(s.streamsOpened >= 1 && s.streamsOpened <= KEEPALIVE_STREAMS, `${s.streamsOpened} streams for ${N} leases`);
  assert.ok(s.renewalsAnswered >= 2 * N, `each lease renewed at least twice (${s.renewalsAnswered} answers)`);
  const ttls = await Promise.all(ids.map((id) => admin.leaseClient.leaseTimeToLive({ ID: id })));
  // remaining TTL is whole seconds: 0 is a lease with less than a second left, -1 one that is gone
  assert.ok(
    ttls.every((r) => Number(r.TTL) >= 0),
    `etcd still has every lease: ${JSON.stringify(ttls.filter((r) => Number(r.TTL) <= 0).slice(0, 3))}`,
  );

  // revoked on the server: reported lost once, as a LeaseLostError, within a renewal period
  const victim = ids[7]!;
  const t0 = Date.now();
  await admin.leaseClient.leaseRevoke({ ID: victim });
  await waitUntil('the revoked lease reported lost', () => lost.has(victim), 10_000, 50);
  t.diagnostic(`revoked lease reported lost after ${Date.now() - t0} ms`);
  assert.ok(lost.get(victim) instanceof LeaseLostError);
  assert.match(lost.get(victim)!.message, /no longer has lease/);
  assert.equal(lost.size, 1, 'only that one');
  assert.equal(ka.stats().leases, N - 1);

  // remove(): no more renewals; etcd lets the lease expire by its TTL
  const removed = ids[8]!;
  ka.remove(removed);
  await new Promise((r) => setTimeout(r, 3 * TTL_S * 1000));
  const gone = await admin.leaseClient.leaseTimeToLive({ ID: removed });
  assert.equal(Number(gone.TTL), -1, 'a removed lease is no longer renewed and expires');
  assert.equal(lost.size, 1, 'removing is not losing');

  for (const id of ids) ka.remove(id);
  assert.equal(ka.stats().leases, 0);
  const sent = ka.stats().renewalsSent;
  await new Promise((r) => setTimeout(r, TTL_S * 1000));
  assert.equal(ka.stats().renewalsSent, sent, 'nothing renewed once every lease is removed');
});

test('etcd restarted within a TTL: new streams, no lease lost; etcd gone for two TTLs: every lease lost', {
  timeout: 120_000,
}, async (t) => {
  const defer = cleanups(t);
  const etcd = await startEtcd();
  defer(() => etcd.stop());
  const client = new Etcd3({ hosts: etcd.url });
  defer(() => client.close());
  const ka = LeaseKeepAlive.of(client);
  defer(() => ka.close());
  const ids = await grant(client, 20, RESTART_TTL_S);
  const lost: Error[] = [];
  for (const id of ids) ka.add(id, RESTART_TTL_S, (err) => lost.push(err));
  await waitUntil('first renewals answered', () => ka.stats().renewalsAnswered >= ids.length, 10_000, 50);
  const opened = ka.stats().streamsOpened;

  // etcd restarts (data kept): etcd refreshes its leases on start, the streams break and are replaced
  await etcd.kill();
  await etcd.restart();
  const answered = ka.stats().renewalsAnswered;
  await waitUntil('renewals answered on new streams', () => ka.stats().renewalsAnswered >= answered + ids.length, 30_000, 50);
  t.diagnostic(JSON.stringify(ka.stats()));
  assert.ok(ka.stats().streamsOpened > opened, 'the broken streams were replaced');
  assert.equal(lost.length, 0, `no lease lost across the restart: ${lost.slice(0, 2).join('; ')}`);

  // etcd gone: after two TTLs without a renewal every lease is given up, each exactly once
  await etcd.kill();
  const t0 = Date.now();
  await waitUntil('every lease reported lost', () => lost.length === ids.length, 30_000, 50);
  const took = Date.now() - t0;
  t.diagnostic(`all ${ids.length} leases lost ${took} ms after etcd died`);
  assert.ok(took >= RESTART_TTL_S * 1000, `not before their TTL had passed (${took} ms)`);
  assert.ok(lost.every((e) => e instanceof LeaseLostError && /no renewal for 2 TTLs/.test(e.message)));
  assert.equal(ka.stats().leases, 0);
  await new Promise((r) => setTimeout(r, 1_000));
  assert.equal(lost.length, ids.length, 'each reported once');
});

test('closeEtcdClient stops the keepalive of live leases at once; a client closed directly stops it once its streams break', {
  timeout: 60_000,
}, async (t) => {
  const defer = cleanups(t);
  const etcd = await startEtcd();
  defer(() => etcd.stop());

  const first = new Etcd3({ hosts: etcd.url });
  const ka1 = LeaseKeepAlive.of(first);
  const lost: Error[] = [];
  for (const id of await grant(first, 3)) ka1.add(id, TTL_S, (err) => lost.push(err));
  await waitUntil('first renewals answered', () => ka1.stats().renewalsAnswered >= 3, 10_000, 50);
  closeEtcdClient(first);
  assert.equal(ka1.stats().leases, 0, 'stopped at once');

  // etcd3's close() alone leaves the open streams renewing; once they break, reopening meets the
  // closed client and the keepalive stops instead of retrying every 100 ms for ever
  const second = new Etcd3({ hosts: etcd.url });
  const ka2 = LeaseKeepAlive.of(second);
  defer(() => ka2.close());
  // TTL 5 s: the host's circuit breaker, opened by the broken streams, lets the next attempt through
  // after 5 s, before two TTLs have passed without a renewal
  for (const id of await grant(second, 3, RESTART_TTL_S)) ka2.add(id, RESTART_TTL_S, (err) => lost.push(err));
  await waitUntil('first renewals answered', () => ka2.stats().renewalsAnswered >= 3, 10_000, 50);
  second.close();
  await etcd.kill();
  await waitUntil('the keepalive stopped', () => ka2.stats().leases === 0, 10_000, 50);
  const sent = ka2.stats().renewalsSent;
  const opened = ka2.stats().streamsOpened;
  await new Promise((r) => setTimeout(r, 2 * TTL_S * 1000));
  assert.deepEqual([ka2.stats().renewalsSent, ka2.stats().streamsOpened], [sent, opened], 'nothing sent or opened after it stopped');
  assert.equal(lost.length, 0, 'closing the client is not losing the leases');
});
