/**
 * Bursts of registrations against a real etcd: 3,000 workers in one process register at once
 * (no batching by the caller) and every one succeeds; then every lease is revoked on the server at
 * once, as when etcd loses them all, and every worker re-registers under a new lease, paced and
 * retried, none giving up.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Etcd3 } from 'etcd3';
import { createEtcdClient, DistributedRuntime } from '../../src/runtime/index.ts';
import { connectNats } from '../../src/runtime/connections.ts';
import { grantRetries } from '../../src/runtime/leaseGrants.ts';
import { waitUntil } from '../support/process.ts';
import { testCluster } from '../support/servers.ts';

const WORKERS = 3_000;
const PREFIX = 'instances/burst/worker/';

test(`${WORKERS} workers in one process register at once, and all re-register when etcd drops every lease`, {
  timeout: 600_000,
}, async (t) => {
  const { cluster, defer } = await testCluster(t);
  const nats = await connectNats({ servers: [cluster.nats.url] });
  const etcd = createEtcdClient({ endpoints: [cluster.etcd.url] });
  const runtimes: DistributedRuntime[] = [];
  defer(async () => {
    const s0 = performance.now();
    await Promise.all(runtimes.map((r) => r.shutdown().catch(() => undefined)));
    t.diagnostic(`${WORKERS} shut down in ${((performance.now() - s0) / 1000).toFixed(1)} s`);
    await nats.close();
    etcd.close();
  });
  const t0 = performance.now();
  const started = await Promise.allSettled(
    Array.from({ length: WORKERS }, async () => {
      const drt = await DistributedRuntime.connect({ shared: { nats, etcd } });
      runtimes.push(drt);
      await drt
        .namespace('burst')
        .component('worker')
        .endpoint('generate')
        .serve(async function* () {
          yield 'ok';
        });
      return drt;
    }),
  );
  const failed = started.filter((r) => r.status === 'rejected');
  t.diagnostic(
    `${WORKERS} registrations at once: ${WORKERS - failed.length} ok in ${((performance.now() - t0) / 1000).toFixed(1)} s, ${grantRetries(etcd)} grants retried`,
  );
  assert.equal(
    failed.length,
    0,
    `none gave up: ${failed
      .slice(0, 3)
      .map((r) => String((r as PromiseRejectedResult).reason))
      .join('; ')}`,
  );

  const admin = new Etcd3({ hosts: cluster.etcd.url });
  defer(() => admin.close());
  const before = await admin.getAll().prefix(PREFIX).keys();
  assert.equal(before.length, WORKERS, 'every worker listed in etcd');
  const oldIds = new Set(runtimes.map((r) => r.instanceId));

  // etcd loses every lease at once: all keys vanish, every worker must grant and register again
  const { leases } = await admin.leaseClient.leaseLeases();
  await Promise.all(leases.map((l) => admin.leaseClient.leaseRevoke({ ID: l.ID })));
  const t1 = performance.now();
  let seen = { keys: 0, oldLeases: WORKERS };
  await waitUntil(
    'every worker re-registered under a new lease',
    async () => {
      const keys = await admin.getAll().prefix(PREFIX).keys();
      seen = { keys: keys.length, oldLeases: runtimes.filter((r) => oldIds.has(r.instanceId)).length };
      return seen.keys === WORKERS && seen.oldLeases === 0;
    },
    300_000,
    500,
  ).catch((err: unknown) => {
    // what was missing, for whoever reads the failure
    throw new Error(`${(err as Error).message}: ${seen.keys} keys in etcd, ${seen.oldLeases} runtimes still on a revoked lease`);
  });
  t.diagnostic(
    `${WORKERS} re-registrations after every lease was revoked: ${((performance.now() - t1) / 1000).toFixed(1)} s, ${grantRetries(etcd)} grants retried in all`,
  );
});
