/**
 * List-then-watch over etcd prefixes (src/runtime/prefixWatch.ts) on a real etcd: every put and
 * delete after the listing's revision arrives, from each prefix; an owner closed meanwhile gets no
 * watch; after etcd restarts (on its data) the owner lists again.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { IKeyValue } from 'etcd3';
import { closeEtcdClient, createEtcdClient } from '../../src/runtime/connections.ts';
import { watchPrefixes } from '../../src/runtime/prefixWatch.ts';
import { cleanups, waitUntil } from '../support/process.ts';
import { startEtcd } from '../support/servers.ts';

test('each prefix is watched from the listing on; a closed owner gets nothing; a reconnection lists again', async (t) => {
  const defer = cleanups(t);
  const server = await startEtcd();
  defer(() => server.stop());
  const etcd = createEtcdClient({ endpoints: [server.url] });
  defer(() => closeEtcdClient(etcd));
  await etcd.put('a/before').value('1');
  const revision = BigInt((await etcd.getAll().prefix('a/').exec()).header.revision);
  const seen: string[] = [];
  let listings = 0;
  const handlers = {
    put: (kv: IKeyValue) => seen.push(`put ${kv.key.toString()}`),
    delete: (kv: IKeyValue) => seen.push(`delete ${kv.key.toString()}`),
    resync: async () => {
      listings++;
    },
    closed: () => false,
    what: 'test keys',
  };
  await etcd.put('a/between').value('2'); // after the listing, before the watch: still seen
  const watchers = await watchPrefixes(etcd, ['a/', 'b/'], revision, handlers);
  defer(() => Promise.all(watchers.map((w) => w.cancel().catch(() => undefined))));
  assert.equal(watchers.length, 2);
  await etcd.put('b/x').value('3');
  await etcd.delete().key('a/before');
  await etcd.put('c/other').value('4');
  await waitUntil('the changes seen', () => seen.length >= 3, 10_000);
  // one watch per prefix: the order across prefixes is not fixed
  assert.deepEqual([...seen].sort(), ['delete a/before', 'put a/between', 'put b/x'], 'c/ is not watched');

  assert.deepEqual(await watchPrefixes(etcd, ['a/'], revision, { ...handlers, closed: () => true }), [], 'closed: no watcher');

  await server.restart();
  await waitUntil('listed again after the reconnection', () => listings >= 1, 30_000);
});
