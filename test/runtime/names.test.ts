import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  aggregateSubject,
  componentEventSubject,
  DISCOVERY_LAYOUTS,
  endpointEventSubject,
  KV_HIT_RATE_EVENT,
  KV_METRICS_TOPIC,
  leaderKey,
  metricsReplicasPrefix,
  V1_INSTANCES_BUCKET,
  v1InstanceKey,
  v1InstancesPrefix,
  endpointSubject,
  idFromDecimal,
  idFromHex,
  idToHex,
  instanceKey,
  instancesPrefix,
  microEndpointName,
  namespaceEventSubject,
  sanitizeLabelValue,
  serviceName,
  slug,
  validateName,
} from '../../src/runtime/names.ts';
import { InvalidNameError } from '../../src/runtime/errors.ts';

test('service names follow Dynamo slugging (docs/wire-protocol.md §1 examples)', () => {
  assert.equal(serviceName('dynamo', 'backend'), 'dynamo_backend');
  assert.equal(serviceName('dynamo', 'MyComponent'), 'dynamo_mycomponent');
  assert.equal(serviceName('triton-init', 'backend'), 'triton-init_backend');
  assert.equal(slug('__A.b c'), 'a_b_c');
});

test('subjects, micro endpoint names and etcd keys carry the id in lowercase hex', () => {
  const id = 7587884888253033398n;
  assert.equal(idToHex(id), '694d951a80e06bb6');
  const subject = endpointSubject('dynamo', 'backend', 'generate', id);
  assert.equal(subject, 'dynamo_backend.generate-694d951a80e06bb6');
  assert.equal(microEndpointName(subject), 'dynamo_backend-generate-694d951a80e06bb6');
  assert.equal(instanceKey('dynamo', 'backend', 'generate', id), 'instances/dynamo/backend/generate:694d951a80e06bb6');
  assert.equal(instancesPrefix('dynamo', 'backend'), 'instances/dynamo/backend/');
  assert.equal(endpointSubject('dynamo', 'backend', 'my-ep', 1n), 'dynamo_backend.my-ep-1', 'endpoint names are not slugged');
});

test('ids parse from hex and decimal exactly, and reject what is not an id', () => {
  assert.equal(idFromHex('694d951a80e06bb6'), 7587884888253033398n);
  assert.equal(idFromDecimal('7587884888253033398'), 7587884888253033398n);
  assert.equal(idFromDecimal('18446744073709551615'), (1n << 64n) - 1n);
  for (const bad of ['', 'xyz', '694D951A80E06BB6', '0x12', '1'.repeat(17)]) assert.equal(idFromHex(bad), undefined, bad);
  for (const bad of ['', '-1', '1.5', '1e3', '18446744073709551616', ' 1']) assert.equal(idFromDecimal(bad), undefined, bad);
});

test('event subjects', () => {
  assert.equal(namespaceEventSubject('dynamo', 'kv-hit-rate'), 'namespace.dynamo.kv-hit-rate');
  assert.equal(componentEventSubject('dynamo', 'backend', 'x'), 'namespace.dynamo.component.backend.x');
});

test('invalid names are rejected with an error naming the bad value', () => {
  for (const bad of ['', 'a.b', 'a b', 'a/b', 'ü', '*', '>']) {
    assert.throws(
      () => validateName('component', bad),
      (err: unknown) => {
        assert.ok(err instanceof InvalidNameError);
        assert.match(err.message, /invalid component name/);
        assert.ok(err.message.includes(JSON.stringify(bad)));
        return true;
      },
    );
  }
  assert.equal(validateName('endpoint', 'gen-erate_1'), 'gen-erate_1');
});

test('label values are sanitised as Dynamo does', () => {
  assert.equal(sanitizeLabelValue('my-ns'), 'my_ns');
  assert.equal(sanitizeLabelValue('a.b/c'), 'a_b_c');
});

test('every key and subject of the wire protocol, exactly (docs/wire-protocol.md)', () => {
  const id = 7587884888253033398n;
  assert.equal(KV_HIT_RATE_EVENT, 'kv-hit-rate');
  assert.equal(KV_METRICS_TOPIC, 'kv_metrics');
  assert.equal(V1_INSTANCES_BUCKET, 'v1/instances');
  assert.deepEqual(DISCOVERY_LAYOUTS, ['instances', 'v1']);
  assert.equal(v1InstancesPrefix('dynamo', 'backend'), 'v1/instances/dynamo/backend/');
  assert.equal(v1InstanceKey('dynamo', 'backend', 'generate', id), 'v1/instances/dynamo/backend/generate/694d951a80e06bb6');
  assert.equal(leaderKey('dynamo', 'backend', 'generate'), 'metrics/dynamo/backend/generate/leader');
  assert.equal(metricsReplicasPrefix('dynamo'), 'metrics/dynamo/replicas/');
  assert.equal(aggregateSubject('dynamo', 'backend', 'generate'), 'namespace.dynamo.l2c.backend.generate');
  assert.equal(
    endpointEventSubject('dynamo', 'backend', 'generate', 'kv_metrics'),
    'namespace.dynamo.component.backend.endpoint.generate.kv_metrics',
  );
});

test('a name that is not a string is refused like a bad one', () => {
  assert.throws(() => validateName('component', 7 as unknown as string), InvalidNameError);
  assert.throws(() => validateName('component', undefined as unknown as string), InvalidNameError);
});
