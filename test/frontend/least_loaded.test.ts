/**
 * `--router-mode least-loaded` end to end on real nats-server and etcd: simulated workers publish
 * their load as ActiveLoad events, and the frontend sends new requests to the worker whose
 * published load is least, even when the load did not come through this frontend.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DistributedRuntime } from '../../src/runtime/DistributedRuntime.ts';
import { sample } from '../support/exposition.ts';
import { waitUntil } from '../support/process.ts';
import { testCluster } from '../support/servers.ts';
import { startSimulatedWorkers, startTestFrontend, waitForModel } from '../support/llm.ts';

const MODEL = 'sim-llama';

test('least-loaded: requests go to the worker that published the least load; forged load events are dropped and counted', async (t) => {
  const { cluster, defer } = await testCluster(t);
  const workers = await startSimulatedWorkers(cluster, MODEL, 2, {
    slots: 1,
    blockSize: 4,
    decodeTokensPerSecond: 20,
    prefillTokensPerSecond: 1e6,
    jitter: 0,
  });
  defer(() => workers.stop());
  const fe = await startTestFrontend(cluster, ['--router-mode', 'least-loaded']);
  defer(() => fe.stop());
  await waitForModel(fe, MODEL, 2);
  const [busy, idle] = workers.ids as [bigint, bigint];
  const engineOf = (id: bigint) => [...workers.engines].find(([drt]) => drt.instanceId === id)?.[1];

  // load that does not come through the frontend: another client keeps the busy worker's one slot
  // taken and two more requests waiting
  const other = await DistributedRuntime.connect({ nats: { servers: [cluster.nats.url] }, etcd: { endpoints: [cluster.etcd.url] } });
  defer(() => other.shutdown());
  const client = await other.namespace('dynamo').component('backend').endpoint('generate').client();
  await client.waitForInstances(2);
  const abort = new AbortController();
  defer(() => abort.abort());
  for (let i = 0; i < 3; i++) {
    const stream = client.direct({ token_ids: [1, 2, 3, 4, 5, 6, 7, 8], stop_conditions: { max_tokens: 1000 } }, busy, {
      signal: abort.signal,
      timeoutMs: 120_000,
    });
    void (async () => {
      try {
        for await (const _ of stream);
      } catch {
        // cancelled at the end of the test
      }
    })();
  }
  await waitUntil('the busy worker has one running and two waiting', () => engineOf(busy)?.state().waiting === 2, 10_000);

  const post = async (): Promise<number> => {
    const res = await fetch(`${fe.frontend.url}/v1/completions`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ model: MODEL, prompt: 'one two three', max_tokens: 1 }),
    });
    await res.text();
    return res.status;
  };
  // the first request makes the frontend follow the model's load subjects; the workers' heartbeat
  // then tells it the busy worker's queue
  assert.equal(await post(), 200);
  await waitUntil('the frontend knows the busy worker is queueing', () => fe.frontend.publishedLoad(busy)?.load.waiting === 2, 10_000);
  await waitUntil('the frontend knows the idle worker', () => fe.frontend.publishedLoad(idle) !== undefined, 10_000);

  const before = engineOf(idle)?.state().admitted ?? 0;
  const busyBefore = engineOf(busy)?.state().admitted ?? 0;
  for (let i = 0; i < 6; i++) assert.equal(await post(), 200);
  assert.equal((engineOf(idle)?.state().admitted ?? 0) - before, 6, 'all six went to the worker with no queue');
  assert.equal(engineOf(busy)?.state().admitted ?? 0, busyBefore, 'none joined the queue');

  // a forged load event for an id no card names is dropped and counted; on the component's subject
  // such an id is only ignored (a worker of another endpoint of the component), published first
  other.publish('namespace.dynamo.component.backend.kv_metrics', { worker_id: 777, num_waiting_reqs: 1 });
  other.publish('namespace.dynamo.component.backend.endpoint.generate.kv_metrics', { worker_id: 12345, num_waiting_reqs: 0 });
  other.publish('namespace.dynamo.component.backend.endpoint.generate.kv_metrics', { worker_id: 'x' });
  await waitUntil(
    'the dropped events counted',
    async () => {
      const text = await (await fetch(`${fe.frontend.url}/metrics`)).text();
      return (
        sample(text, 'dynamo_frontend_router_load_events_rejected_total', { reason: 'unregistered_worker' }) === 1 &&
        sample(text, 'dynamo_frontend_router_load_events_rejected_total', { reason: 'bad_worker_id' }) === 1
      );
    },
    10_000,
  );
  assert.equal(fe.frontend.publishedLoad(12345n), undefined, 'the forged id left no state');
});
