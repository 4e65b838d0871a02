/**
 * Every id changes at once: etcd stopped for longer than two lease TTLs, so every worker counts
 * its lease lost, then restarted on its data, so the old leases (renewed by etcd when it starts)
 * and keys are still there while the workers re-register under new ones. The view never counts
 * more workers than run (no worker under its old and its new id), never goes empty once the new
 * ids appear, lets old ids only leave from then on, and hit-rate events of a worker whose
 * registration is in flight are held, not refused.
 */
import { test } from 'node:test';
import { Etcd3, type IKeyValue } from 'etcd3';
import assert from 'node:assert/strict';
import { sleep } from '../support/process.ts';
import { testCluster } from '../support/servers.ts';
import { startMetrics, startMockWorker, waitForScrape } from '../support/aggregator.ts';
import { reasons, sample, series } from '../support/exposition.ts';

const WORKERS = 20;

test('etcd back on its data after every lease was given up: no doubled view, no empty one, no event refused', {
  timeout: 180_000,
}, async (t) => {
  const { cluster, defer } = await testCluster(t);
  const w = await startMockWorker(cluster, ['--workers', String(WORKERS), '--hit-rate-interval', '200ms']);
  defer(() => w.proc.stop());
  const m = await startMetrics(cluster);
  defer(() => m.proc.stop());
  await waitForScrape(m, `${WORKERS} workers`, (x) => series(x, 'llm_kv_blocks_active').length === WORKERS, 60_000);
  const oldIds = new Set(w.ids.map(String));

  // every instance key event from here on, by revision
  const before = new Etcd3({ hosts: cluster.etcd.url });
  const fromRevision = BigInt((await before.get('-').exec()).header.revision) + 1n;
  before.close();
  await cluster.etcd.stop();
  // the workers give their leases up after two TTLs without a renewal
  await sleep(25_000);
  const refusedBefore = reasons(await m.scrape(), 'dynamo_metrics_events_rejected_total').unregistered_worker ?? 0;
  await cluster.etcd.restart();
  const restarted = Date.now();
  const etcd = new Etcd3({ hosts: cluster.etcd.url });
  defer(() => etcd.close());
  const watcher = await etcd.watch().prefix('instances/').startRevision(String(fromRevision)).create();
  defer(() => watcher.cancel());
  const byRevision = new Map<string, { put: string[]; del: string[] }>();
  const record = (kind: 'put' | 'del', kv: IKeyValue): void => {
    const at = byRevision.get(kv.mod_revision) ?? { put: [], del: [] };
    at[kind].push(kv.key.toString());
    byRevision.set(kv.mod_revision, at);
  };
  watcher.on('put', (kv) => record('put', kv));
  watcher.on('delete', (kv) => record('del', kv));

  const counts: { at: number; workers: number; old: number; fresh: number }[] = [];
  let last = '';
  while (Date.now() - restarted < 30_000) {
    last = await m.scrape();
    const ids = series(last, 'llm_kv_blocks_active').map((s) => s.labels.worker_id!);
    const old = ids.filter((id) => oldIds.has(id)).length;
    counts.push({ at: Date.now() - restarted, workers: ids.length, old, fresh: ids.length - old });
    if (ids.length === WORKERS && old === 0 && counts.filter((c) => c.workers === WORKERS && c.old === 0).length >= 20) break;
    await sleep(250);
  }
  const summary = counts.map((c) => `${c.at}:${c.old}+${c.fresh}`).join(' ');
  t.diagnostic(`after the restart (ms: old+new ids): ${summary}`);
  const final = counts.at(-1)!;
  assert.deepEqual({ workers: final.workers, old: final.old }, { workers: WORKERS, old: 0 }, 'every worker back under its new id');
  // Each worker re-registers on its own, so a scrape may hold some under their old ids and the
  // rest under their new ones; what must never happen is a worker counted under both.
  for (const c of counts) assert.ok(c.workers <= WORKERS, `never more workers than run: ${c.workers} at ${c.at} ms`);
  const firstBack = counts.findIndex((c) => c.fresh > 0);
  assert.ok(firstBack >= 0, 'the new ids appear');
  const back = counts.slice(firstBack);
  back.forEach((c, i) => {
    assert.ok(c.workers > 0, `never empty once the workers are back: at ${c.at} ms`);
    const prev = back[i - 1];
    if (prev !== undefined)
      assert.ok(c.old <= prev.old, `an old id never comes back once new ids appear: ${prev.old} then ${c.old} at ${c.at} ms`);
  });
  // each worker switches in one transaction: its new key put and its old key deleted at one
  // revision, so that no watcher ever lists it under neither id (nor under both)
  const isOld = (key: string): boolean => [...oldIds].some((id) => key.endsWith(`:${BigInt(id).toString(16)}`));
  const events = [...byRevision].map(([rev, { put, del }]) => `${rev}: +${put.length} -${del.length}`).join(', ');
  const switched = new Set<string>();
  for (const [rev, { put, del }] of byRevision) {
    assert.equal(del.length, put.length, `revision ${rev}: ${put.length} keys put, ${del.length} deleted (${events})`);
    for (const k of put) assert.ok(!isOld(k), `revision ${rev} puts old key ${k}`);
    for (const k of del) if (isOld(k)) switched.add(k);
  }
  assert.equal(switched.size, WORKERS, `every old key left in a switch (${events})`);
  const refusedAfter = reasons(last, 'dynamo_metrics_events_rejected_total').unregistered_worker ?? 0;
  assert.equal(refusedAfter - refusedBefore, 0, 'no hit-rate event refused as unregistered');
  assert.ok((sample(last, 'dynamo_metrics_events_total') ?? 0) > 0);
});
