/**
 * Both etcd layouts (docs/wire-protocol.md §3): `instances/{ns}/{comp}/{ep}:{hex}` and Dynamo's
 * `v1/instances/{ns}/{comp}/{ep}/{hex}`, each with either value shape, read and watched together;
 * a worker served over another request plane is known but not sent to; and a TypeScript worker
 * told to (`DYN_DISCOVERY_LAYOUTS=instances,v1`) registers in both, once per layout, and leaves
 * both when it stops. Real etcd and NATS.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Etcd3 } from 'etcd3';
import { DistributedRuntime } from '../../src/runtime/index.ts';
import { parseInstance } from '../../src/runtime/InstanceDiscovery.ts';
import { discoveryLayoutsFromEnv } from '../../src/runtime/DistributedRuntime.ts';
import { UsageError } from '../../src/errors.ts';
import { registerDynamoInstances } from '../support/dynamoStats.ts';
import { waitUntil } from '../support/process.ts';
import { testCluster } from '../support/servers.ts';

const ID = 7587884888253033398n; // hex 694d951a80e06bb6, above 2^53

test('parseInstance: both key layouts, both value shapes; key and value must agree', () => {
  const plain = `{"component":"backend","endpoint":"generate","namespace":"dynamo","instance_id":${ID},"transport":{"nats_tcp":"dynamo_backend.generate-694d951a80e06bb6"}}`;
  const tagged = `{"type":"Endpoint","namespace":"dynamo","component":"backend","endpoint":"generate","instance_id":${ID},"transport":{"nats_tcp":"dynamo_backend.generate-694d951a80e06bb6"}}`;
  const expected = {
    namespace: 'dynamo',
    component: 'backend',
    endpoint: 'generate',
    instanceId: ID,
    subject: 'dynamo_backend.generate-694d951a80e06bb6',
  };
  for (const key of ['instances/dynamo/backend/generate:694d951a80e06bb6', 'v1/instances/dynamo/backend/generate/694d951a80e06bb6']) {
    assert.deepEqual(parseInstance(key, plain), expected, key);
    assert.deepEqual(parseInstance(key, tagged), expected, key);
  }
  const tcp = `{"type":"Endpoint","namespace":"dynamo","component":"backend","endpoint":"generate","instance_id":${ID},"transport":{"tcp":"10.0.0.5:9000/generate"}}`;
  assert.deepEqual(parseInstance('v1/instances/dynamo/backend/generate/694d951a80e06bb6', tcp), { ...expected, subject: undefined });
  const refused: [string, string][] = [
    ['v1/instances/dynamo/backend/generate/694d951a80e06bb7', tagged], // the id differs from the key's
    ['v1/instances/dynamo/other/generate/694d951a80e06bb6', tagged], // the component differs
    ['v1/instances/dynamo/backend/generate/694d951a80e06bb6', tagged.replace('"Endpoint"', '"Model"')],
    [
      'v1/instances/dynamo/backend/generate/694d951a80e06bb6',
      tagged.replace('"transport":{"nats_tcp":"dynamo_backend.generate-694d951a80e06bb6"}', '"transport":"nats"'),
    ],
    ['v1/instances/dynamo/backend/generate/extra/694d951a80e06bb6', tagged],
    ['v1/mdc/dynamo/backend/generate/694d951a80e06bb6', tagged],
    ['instances/dynamo/backend/generate:zz', plain],
  ];
  for (const [key, value] of refused) assert.equal(parseInstance(key, value), undefined, `${key} ${value.slice(0, 40)}`);
});

test('DYN_DISCOVERY_LAYOUTS: instances by default, v1 or both on request; anything else one line', () => {
  assert.deepEqual(discoveryLayoutsFromEnv({}), ['instances']);
  assert.deepEqual(discoveryLayoutsFromEnv({ DYN_DISCOVERY_LAYOUTS: 'v1' }), ['v1']);
  assert.deepEqual(discoveryLayoutsFromEnv({ DYN_DISCOVERY_LAYOUTS: ' instances , v1,v1 ' }), ['instances', 'v1']);
  assert.throws(
    () => discoveryLayoutsFromEnv({ DYN_DISCOVERY_LAYOUTS: 'instances,v2' }),
    (err: unknown) => err instanceof UsageError && /unknown layout "v2"/.test(err.message),
  );
});

test('a client finds workers registered in either layout, and follows them in both', async (t) => {
  const { cluster, defer } = await testCluster(t);
  const drt = await DistributedRuntime.connect({ env: { NATS_SERVER: cluster.nats.url, ETCD_ENDPOINTS: cluster.etcd.url } });
  defer(() => drt.shutdown());
  const legacy = await registerDynamoInstances(cluster.etcd.url, [ID], 'dynamo', 'backend', 'generate');
  const v1 = await registerDynamoInstances(cluster.etcd.url, [ID + 1n], 'dynamo', 'backend', 'generate', { layout: 'v1' });
  const tcp = await registerDynamoInstances(cluster.etcd.url, [ID + 2n], 'dynamo', 'backend', 'generate', {
    layout: 'v1',
    transport: 'tcp',
  });
  const discovery = drt.discovery('dynamo', 'backend');
  await discovery.started();
  await waitUntil('three instances', () => discovery.list('generate').length === 3 || undefined, 10_000);
  const client = await drt.namespace('dynamo').component('backend').endpoint('generate').client();
  defer(() => client.close());
  assert.deepEqual(
    client.instances().map((i) => i.instanceId),
    [ID, ID + 1n],
    'the instance over another request plane is not sent to',
  );
  // a v1 worker leaving is seen through the watch
  await v1();
  await waitUntil('the v1 instance gone', () => discovery.list('generate').length === 2 || undefined, 10_000);
  await legacy();
  await tcp();
  await waitUntil('none left', () => discovery.list('generate').length === 0 || undefined, 10_000);
});

test('a TypeScript worker with DYN_DISCOVERY_LAYOUTS=instances,v1 registers in both layouts, is listed once, and leaves both', async (t) => {
  const { cluster, defer } = await testCluster(t);
  const env = { NATS_SERVER: cluster.nats.url, ETCD_ENDPOINTS: cluster.etcd.url };
  const worker = await DistributedRuntime.connect({ env: { ...env, DYN_DISCOVERY_LAYOUTS: 'instances,v1' } });
  defer(() => worker.shutdown());
  const served = await worker
    .namespace('dynamo')
    .component('backend')
    .endpoint('generate')
    .serve(() => 'hello');
  const etcd = new Etcd3({ hosts: cluster.etcd.url });
  defer(() => etcd.close());
  const hex = worker.instanceId.toString(16);
  const v1Value = JSON.parse((await etcd.get(`v1/instances/dynamo/backend/generate/${hex}`).string())!) as Record<string, unknown>;
  assert.equal(v1Value.type, 'Endpoint');
  assert.equal(
    BigInt((await etcd.get(`v1/instances/dynamo/backend/generate/${hex}`).string())!.match(/"instance_id":(\d+)/)![1]!),
    worker.instanceId,
    'the id exact in the value',
  );
  assert.ok((await etcd.get(`instances/dynamo/backend/generate:${hex}`).string()) !== null);
  const leaseOf = async (key: string): Promise<string> => (await etcd.get(key).exec()).kvs[0]!.lease;
  assert.equal(
    await leaseOf(`v1/instances/dynamo/backend/generate/${hex}`),
    await leaseOf(`instances/dynamo/backend/generate:${hex}`),
    'both under the one lease',
  );

  const caller = await DistributedRuntime.connect({ env });
  defer(() => caller.shutdown());
  const client = await caller.namespace('dynamo').component('backend').endpoint('generate').client();
  await client.waitForInstances(1);
  assert.equal(client.instances().length, 1, 'listed once');
  assert.equal((await client.request({})).text(), 'hello');
  await served.stop();
  assert.equal(await etcd.get(`v1/instances/dynamo/backend/generate/${hex}`).string(), null);
  assert.equal(await etcd.get(`instances/dynamo/backend/generate:${hex}`).string(), null);
});
