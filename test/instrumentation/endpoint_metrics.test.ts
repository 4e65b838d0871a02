/**
 * Automatic endpoint metrics, custom metrics and the system status server, in one worker process
 * (this test) against real nats-server and etcd, read back through /metrics.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { DistributedRuntime, RemoteError, UsageError, type Client } from '../../src/runtime/index.ts';
import { connectInstrumented } from '../../instrumentation/index.ts';
import { DURATION_BUCKETS_SECONDS } from '../../instrumentation/EndpointMetrics.ts';
import { RESERVED_LABELS } from '../../instrumentation/CustomMetrics.ts';
import { freePort, waitUntil } from '../support/process.ts';
import { startCluster, testCluster } from '../support/servers.ts';
import { clusterEnv, startScript } from '../support/workers.ts';
import { sample, series } from '../support/exposition.ts';
import { promtool } from '../support/promtool.ts';

const SPEC = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'metrics.md'), 'utf8');
const LABELS = { dynamo_namespace: 'my_ns', dynamo_component: 'backend', dynamo_endpoint: 'generate' };

/** The help text of `name` as the spec's table gives it. */
function specHelp(name: string): string {
  const row = SPEC.split('\n').find((l) => l.startsWith(`| \`${name}\``));
  assert.ok(row, `${name} not in docs/metrics.md`);
  return row.split('|')[3]!.trim();
}

describe('automatic endpoint metrics through the system status server', () => {
  let cluster: Awaited<ReturnType<typeof startCluster>>;
  let drt: DistributedRuntime;
  let clientRt: DistributedRuntime;
  let client: Client;
  let nc: NatsConnection;
  let port: number;
  let healthBefore: number;
  const scrape = async (): Promise<string> => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();

  before(async () => {
    cluster = await startCluster();
    port = await freePort();
    drt = await connectInstrumented({
      env: clusterEnv(cluster, { DYN_SYSTEM_ENABLED: 'true', DYN_SYSTEM_HOST: '127.0.0.1', DYN_SYSTEM_PORT: String(port) }),
    });
    healthBefore = (await fetch(`http://127.0.0.1:${port}/health`)).status;
    // my-ns is sanitised to my_ns in labels, as Dynamo does
    const ep = drt.namespace('my-ns').component('backend').endpoint('generate');
    const bytes = ep.metrics.counter('bytes_processed_total', {
      description: 'Example of a custom metric. Total number of data bytes processed by system handler',
    });
    await ep.serve<{ text?: string; chunks?: number; fail?: boolean; sleepMs?: number }>(async (req) => {
      if (req.sleepMs) await new Promise((r) => setTimeout(r, req.sleepMs));
      if (req.fail) throw new Error('handler failed');
      bytes.add((req.text ?? '').length);
      if (req.chunks === undefined) return { echo: req.text };
      const n = req.chunks;
      return (async function* () {
        for (let i = 0; i < n; i++) yield { i, text: req.text };
      })();
    });
    await drt
      .namespace('my-ns')
      .component('backend')
      .endpoint('other')
      .serve(() => 'ok');
    await drt
      .namespace('my-ns')
      .component('frontend')
      .endpoint('generate')
      .serve(() => 'ok');
    clientRt = await DistributedRuntime.connect({ nats: { servers: [cluster.nats.url] }, etcd: { endpoints: [cluster.etcd.url] } });
    client = await clientRt.namespace('my-ns').component('backend').endpoint('generate').client();
    await client.waitForInstances(1);
    nc = await connect({ servers: cluster.nats.url });
  });

  after(async () => {
    await nc?.close();
    await clientRt?.shutdown();
    await drt?.shutdown();
    await cluster?.stop();
  });

  test('after N requests of known sizes a scrape shows exactly what happened', async () => {
    const enc = new TextEncoder();
    const bodies = [
      { text: 'hello' },
      { text: 'a'.repeat(1000) },
      { text: 'stream me', chunks: 5 },
      { text: 'and me', chunks: 3 },
      { fail: true },
      { fail: true, text: 'x' },
      { text: 'ü€🚀' },
    ];
    let requestBytes = 0;
    let responseBytes = 0;
    let failures = 0;
    for (const b of bodies) {
      const payload = enc.encode(JSON.stringify(b));
      requestBytes += payload.length;
      try {
        for await (const chunk of client.random(payload)) responseBytes += chunk.bytes.length;
      } catch (err) {
        assert.ok(err instanceof RemoteError && err.errorType === 'generate');
        failures++;
      }
    }
    assert.equal(failures, 2);
    // one undecodable body, straight on NATS
    const garbage = new Uint8Array([0x7b, 0x22, 0xff]);
    requestBytes += garbage.length;
    await nc.request(client.instances()[0]!.subject, garbage, { timeout: 2000 });
    const n = bodies.length + 1;

    const text = await scrape();
    assert.equal(sample(text, 'dynamo_component_requests_total', LABELS), n);
    assert.equal(sample(text, 'dynamo_component_request_bytes_total', LABELS), requestBytes);
    assert.equal(sample(text, 'dynamo_component_response_bytes_total', LABELS), responseBytes);
    assert.equal(sample(text, 'dynamo_component_errors_total', { ...LABELS, error_type: 'generate' }), 2);
    assert.equal(sample(text, 'dynamo_component_errors_total', { ...LABELS, error_type: 'deserialization' }), 1);
    for (const t of ['invalid_message', 'response_stream', 'publish_response', 'publish_final']) {
      assert.equal(sample(text, 'dynamo_component_errors_total', { ...LABELS, error_type: t }), 0, t);
    }
    assert.equal(sample(text, 'dynamo_component_inflight_requests', LABELS), 0);
    const count = sample(text, 'dynamo_component_request_duration_seconds_count', LABELS)!;
    const sum = sample(text, 'dynamo_component_request_duration_seconds_sum', LABELS)!;
    assert.equal(count, n);
    assert.ok(sum > 0 && sum < n * 10, `sum ${sum}`);
    const buckets = series(text, 'dynamo_component_request_duration_seconds_bucket').filter(
      (s) => s.labels.dynamo_endpoint === 'generate' && s.labels.dynamo_component === 'backend',
    );
    assert.deepEqual(
      buckets.map((b) => b.labels.le),
      [...DURATION_BUCKETS_SECONDS.map(String), '+Inf'],
    );
    assert.equal(buckets.at(-1)!.value, n);
    for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i]!.value >= buckets[i - 1]!.value, 'cumulative buckets');
    // the custom metric: prefix and labels automatic, the seed's HELP text
    assert.equal(sample(text, 'dynamo_component_bytes_processed_total', LABELS), 5 + 1000 + 9 + 6 + 'ü€🚀'.length);
    assert.match(
      text,
      /^# HELP dynamo_component_bytes_processed_total Example of a custom metric\. Total number of data bytes processed by system handler$/m,
    );
  });

  test('names, HELP lines, types, label names and buckets are those of the spec', async () => {
    const text = await scrape();
    const types: Record<string, string> = {
      dynamo_component_requests_total: 'counter',
      dynamo_component_request_bytes_total: 'counter',
      dynamo_component_response_bytes_total: 'counter',
      dynamo_component_errors_total: 'counter',
      dynamo_component_request_duration_seconds: 'histogram',
      dynamo_component_inflight_requests: 'gauge',
    };
    for (const [name, type] of Object.entries(types)) {
      assert.ok(text.includes(`# HELP ${name} ${specHelp(name)}\n`), `HELP of ${name}`);
      assert.ok(text.includes(`# TYPE ${name} ${type}\n`), `TYPE of ${name}`);
      const s = series(text, type === 'histogram' ? `${name}_count` : name);
      assert.ok(s.length > 0);
      for (const x of s) {
        const names = Object.keys(x.labels).sort();
        const expected =
          name === 'dynamo_component_errors_total'
            ? ['dynamo_component', 'dynamo_endpoint', 'dynamo_namespace', 'error_type']
            : ['dynamo_component', 'dynamo_endpoint', 'dynamo_namespace'];
        assert.deepEqual(names, expected, name);
      }
    }
    const bucketsInSpec = /buckets ([0-9., ]+)/
      .exec(SPEC)![1]!
      .split(',')
      .map((b) => Number(b.trim()));
    assert.deepEqual([...DURATION_BUCKETS_SECONDS], bucketsInSpec);
    assert.match(text, /^# HELP uptime_seconds Total uptime of the DistributedRuntime in seconds$/m);
  });

  test('five concurrent requests show inflight 5 while they run, and 0 after', async () => {
    // long enough that all five are in the handler together however loaded the machine is
    const running = Array.from({ length: 5 }, () => client.random({ sleepMs: 3_000 }).collect());
    const seen = await waitUntil(
      'inflight 5',
      async () => {
        const v = sample(await scrape(), 'dynamo_component_inflight_requests', LABELS);
        return v === 5 ? v : undefined;
      },
      10_000,
      20,
    );
    assert.equal(seen, 5);
    await Promise.all(running);
    assert.equal(sample(await scrape(), 'dynamo_component_inflight_requests', LABELS), 0);
  });

  test('two endpoints on one component and two components keep separate series; promtool accepts the output', async () => {
    const other = await clientRt.namespace('my-ns').component('backend').endpoint('other').client();
    const front = await clientRt.namespace('my-ns').component('frontend').endpoint('generate').client();
    await other.waitForInstances(1);
    await front.waitForInstances(1);
    for (let i = 0; i < 3; i++) await other.request({});
    await front.request({});
    const text = await scrape();
    assert.equal(sample(text, 'dynamo_component_requests_total', { ...LABELS, dynamo_endpoint: 'other' }), 3);
    assert.equal(sample(text, 'dynamo_component_requests_total', { ...LABELS, dynamo_component: 'frontend' }), 1);
    for (const name of ['dynamo_component_requests_total', 'dynamo_component_request_duration_seconds', 'uptime_seconds']) {
      assert.equal(text.split(`# HELP ${name} `).length - 1, 1, `one HELP block for ${name}`);
    }
    promtool(text);
  });

  test('uptime_seconds is refreshed on each scrape', async () => {
    const a = sample(await scrape(), 'uptime_seconds', { dynamo_namespace: 'system_status_server' })!;
    await new Promise((r) => setTimeout(r, 300));
    const b = sample(await scrape(), 'uptime_seconds', { dynamo_namespace: 'system_status_server' })!;
    assert.ok(b > a, `${b} > ${a}`);
  });

  test('/health turns 200 only once serving; /live answers; unknown paths 404', async () => {
    assert.equal(healthBefore, 503);
    const h = await fetch(`http://127.0.0.1:${port}/health`);
    assert.equal(h.status, 200);
    const body = (await h.json()) as { status: string; endpoints: string[] };
    assert.equal(body.status, 'ready');
    assert.deepEqual(body.endpoints.sort(), ['my-ns/backend/generate', 'my-ns/backend/other', 'my-ns/frontend/generate']);
    assert.equal((await fetch(`http://127.0.0.1:${port}/live`)).status, 200);
    for (const path of ['/health', '/live', '/metrics']) {
      for (const method of ['POST', 'DELETE'])
        assert.equal((await fetch(`http://127.0.0.1:${port}${path}`, { method })).status, 405, `${method} ${path}`);
    }
    assert.equal((await fetch(`http://127.0.0.1:${port}/nope`)).status, 404);
  });

  test('custom metrics: bad names and reserved labels are clear errors when made; an undeclared label drops the value, never throws', async () => {
    const m = drt.namespace('my-ns').component('backend').metrics;
    for (const label of RESERVED_LABELS.filter((l) => !l.startsWith('__'))) {
      assert.throws(
        () => m.counter('x_total', { description: 'x', labels: [label] }),
        (e: unknown) => e instanceof UsageError && /reserved/.test(e.message),
        label,
      );
    }
    assert.throws(
      () => m.counter('x_total', { description: 'x', labels: ['__name__'] }),
      (e: unknown) => e instanceof UsageError,
      'a label starting with __',
    );
    // the other dynamo_* labels are the caller's (docs/runtime-api.md)
    m.counter('by_model_total', { description: 'x', labels: ['dynamo_model'] }).add(1, { dynamo_model: 'm' });
    assert.throws(() => m.counter('bad-name', { description: 'x' }), /invalid metric name "bad-name"/);
    const g = m.gauge('queue_depth', { description: 'Queue depth', labels: ['queue'] });
    g.set(4, { queue: 'a' });
    g.set(1, { other: 'b' }); // on the request path: dropped with a warning, as OTel instruments do
    const h = m.histogram('tokens', { description: 'Tokens per request', buckets: [10, 100] });
    h.record(50);
    drt.namespace('my-ns').metrics.upDownCounter('sessions', { description: 'Open sessions' }).add(2);
    const text = await scrape();
    assert.equal(sample(text, 'dynamo_component_queue_depth', { dynamo_namespace: 'my_ns', dynamo_component: 'backend', queue: 'a' }), 4);
    assert.deepEqual(
      series(text, 'dynamo_component_queue_depth').map((s) => s.labels.queue),
      ['a'],
      'the value with the undeclared label was dropped',
    );
    assert.equal(sample(text, 'dynamo_component_tokens_bucket', { dynamo_component: 'backend', le: '100' }), 1);
    assert.equal(sample(text, 'dynamo_component_sessions', { dynamo_namespace: 'my_ns' }), 2);
    assert.equal(
      series(text, 'dynamo_component_sessions')[0]!.labels.dynamo_component,
      undefined,
      'namespace-level metrics carry only the namespace label',
    );
  });
});

test('without DYN_SYSTEM_ENABLED no port is opened', async (t) => {
  const cluster = await startCluster();
  t.after(() => cluster.stop());
  const port = await freePort();
  const proc = startScript(
    'test/fixtures/echo_worker.ts',
    ['test', 'echo', 'generate'],
    clusterEnv(cluster, { DYN_SYSTEM_PORT: String(port) }),
  );
  t.after(() => proc.stop());
  await waitUntil('worker ready', () => /READY/.test(proc.output()), 20_000);
  await assert.rejects(fetch(`http://127.0.0.1:${port}/metrics`), /fetch failed/);
});

test('every error type is recorded where that failure happens', async (t) => {
  const { cluster, defer } = await testCluster(t);
  const port = await freePort();
  const env = clusterEnv(cluster, { DYN_SYSTEM_ENABLED: 'true', DYN_SYSTEM_HOST: '127.0.0.1', DYN_SYSTEM_PORT: String(port) });
  const drt = await connectInstrumented({ env });
  defer(() => drt.shutdown());
  const ep = drt.namespace('errs').component('c').endpoint('e');
  await ep.serve<{ kind: string }>((req) => {
    switch (req.kind) {
      case 'throw':
        throw new Error('generate failed');
      case 'broken-stream':
        return (async function* () {
          yield 'one';
          throw new Error('stream failed');
        })();
      case 'oversized':
        // a chunk above the server's max_payload (1 MiB): publishing it fails
        return (async function* () {
          yield new Uint8Array(2 * 1024 * 1024);
        })();
      case 'close-at-end':
        // the connection goes away after the last chunk: the end marker cannot be sent
        return (async function* () {
          yield 'last';
          await drt.nats.close();
        })();
      default:
        return 'ok';
    }
  });
  const clientRt = await DistributedRuntime.connect({
    nats: { servers: [cluster.nats.url] },
    etcd: { endpoints: [cluster.etcd.url] },
    requestTimeoutMs: 2000,
  });
  defer(() => clientRt.shutdown());
  const c2 = await clientRt.namespace('errs').component('c').endpoint('e').client();
  await c2.waitForInstances(1);
  const subject = c2.instances()[0]!.subject;
  await assert.rejects(c2.random({ kind: 'throw' }).collect(), (e: unknown) => e instanceof RemoteError && e.errorType === 'generate');
  await assert.rejects(
    c2.random({ kind: 'broken-stream' }).collect(),
    (e: unknown) => e instanceof RemoteError && e.errorType === 'response_stream',
  );
  await assert.rejects(
    c2.random(new Uint8Array([0xff])).collect(),
    (e: unknown) => e instanceof RemoteError && e.errorType === 'deserialization',
  );
  await assert.rejects(c2.random({ kind: 'oversized' }).collect(), /no response|within/);
  clientRt.nats.publish(subject, new TextEncoder().encode('{"kind":"ok"}')); // no reply subject
  await clientRt.nats.flush();
  const scrape = async (): Promise<string> => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const lbl = { dynamo_namespace: 'errs', dynamo_component: 'c', dynamo_endpoint: 'e' };
  const text = await waitUntil(
    'the reply-less message counted',
    async () => {
      const x = await scrape();
      return sample(x, 'dynamo_component_errors_total', { ...lbl, error_type: 'invalid_message' }) === 1 ? x : undefined;
    },
    5000,
  );
  for (const [type, n] of [
    ['generate', 1],
    ['response_stream', 1],
    ['deserialization', 1],
    ['publish_response', 1],
    ['invalid_message', 1],
    ['publish_final', 0],
  ] as const) {
    assert.equal(sample(text, 'dynamo_component_errors_total', { ...lbl, error_type: type }), n, type);
  }
  // last: the end marker fails to go out because the connection closed after the last chunk
  const stream = c2.random({ kind: 'close-at-end' }).collect();
  await assert.rejects(stream);
  const after = await waitUntil(
    'publish_final counted',
    async () => {
      const x = await scrape();
      return sample(x, 'dynamo_component_errors_total', { ...lbl, error_type: 'publish_final' }) === 1 ? x : undefined;
    },
    5000,
  );
  assert.equal(sample(after, 'dynamo_component_inflight_requests', lbl), 0, 'in-flight back to 0 whatever the outcome');
  assert.equal(sample(after, 'dynamo_component_requests_total', lbl), 6);
});
