/**
 * Request-plane benchmark: the runtime's request-reply round trip and throughput against a bare
 * nats.js request-reply on the same nats-server in the same run, and a 100-chunk stream against
 * 100 sequential round trips. Loopback, one process for client and worker (as for the baseline).
 *
 *   npm run bench -- bench/runtime.bench.ts
 */
import { connect } from '@nats-io/transport-node';
import { connectInstrumented } from '../instrumentation/index.ts';
import { DistributedRuntime } from '../src/runtime/index.ts';
import { startCluster } from '../test/support/servers.ts';
import { fmt, machine, summarize, table } from './stats.ts';
import { goal, goalRows, verdict } from './goals.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 64);
const THROUGHPUT_REQUESTS = Number(process.env.BENCH_REQUESTS ?? 50_000);
const PAYLOAD = new TextEncoder().encode(JSON.stringify({ text: 'x'.repeat(100) }));

async function timeSequential(n: number, once: () => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await once();
    out.push((performance.now() - t) * 1000);
  }
  return out;
}

async function throughput(total: number, concurrency: number, once: () => Promise<unknown>): Promise<number> {
  let issued = 0;
  const t = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (issued++ < total) await once();
    }),
  );
  return total / ((performance.now() - t) / 1000);
}

const cluster = await startCluster();
try {
  const env = { nats: { servers: [cluster.nats.url] }, etcd: { endpoints: [cluster.etcd.url] } };
  // bare nats.js: one responder connection, one requester connection
  const responder = await connect({ servers: cluster.nats.url });
  const requester = await connect({ servers: cluster.nats.url });
  responder.subscribe('bare.echo', {
    queue: 'q',
    callback: (_e, m) => {
      m.respond(m.data);
    },
  });
  await responder.flush();
  const bare = (): Promise<unknown> => requester.request('bare.echo', PAYLOAD, { timeout: 5000 });

  // the runtime: a worker runtime and a client runtime
  const worker = await connectInstrumented({ ...env, systemStatus: false }); // a worker measures itself, as in production
  const ep = worker.namespace('bench').component('echo').endpoint('generate');
  await ep.serve((req: unknown) => req, { decode: 'bytes' });
  const streamEp = worker.namespace('bench').component('echo').endpoint('stream');
  await streamEp.serve(
    async function* (req: unknown) {
      for (let i = 0; i < 100; i++) yield req;
    },
    { decode: 'bytes' },
  );
  const clientRt = await DistributedRuntime.connect(env);
  const client = await clientRt.namespace('bench').component('echo').endpoint('generate').client();
  const streamClient = await clientRt.namespace('bench').component('echo').endpoint('stream').client();
  await client.waitForInstances(1);
  await streamClient.waitForInstances(1);
  const viaRuntime = (): Promise<unknown> => client.roundRobin(PAYLOAD).collect();

  // warm up both
  await timeSequential(500, bare);
  await timeSequential(500, viaRuntime);
  // interleave blocks so that machine noise hits both alike
  const bareRtt: number[] = [];
  const rtRtt: number[] = [];
  for (let block = 0; block < 5; block++) {
    bareRtt.push(...(await timeSequential(ROUNDS / 5, bare)));
    rtRtt.push(...(await timeSequential(ROUNDS / 5, viaRuntime)));
  }
  const b = summarize(bareRtt);
  const r = summarize(rtRtt);
  const bareTput = await throughput(THROUGHPUT_REQUESTS, CONCURRENCY, bare);
  const rtTput = await throughput(THROUGHPUT_REQUESTS, CONCURRENCY, viaRuntime);

  const streamTimes = await timeSequential(200, () => streamClient.roundRobin(PAYLOAD).collect());
  const s = summarize(streamTimes);
  // what the stream replaces, measured as such: 100 runtime round trips one after another, timed as a whole
  const hundred = summarize(
    await timeSequential(20, async () => {
      for (let i = 0; i < 100; i++) await viaRuntime();
    }),
  );

  console.log(
    `# runtime request plane (${machine()}, ${ROUNDS} sequential round trips, ${THROUGHPUT_REQUESTS} requests at concurrency ${CONCURRENCY}, ${PAYLOAD.length}-byte payload)\n`,
  );
  console.log(
    table(
      ['path', 'median RTT µs', 'p90 µs', 'p99 µs', 'throughput req/s'],
      [
        ['bare nats.js request-reply', fmt(b.median), fmt(b.p90), fmt(b.p99), fmt(bareTput, 0)],
        ['runtime (client → endpoint)', fmt(r.median), fmt(r.p90), fmt(r.p99), fmt(rtTput, 0)],
        ['ratio runtime / bare', fmt(r.median / b.median, 2), fmt(r.p90 / b.p90, 2), fmt(r.p99 / b.p99, 2), fmt(rtTput / bareTput, 2)],
      ],
    ),
  );
  console.log(
    `\n100-chunk stream: median ${fmt(s.median)} µs, p99 ${fmt(s.p99)} µs; 100 sequential runtime round trips (measured, 20 times): median ${fmt(hundred.median)} µs, p90 ${fmt(hundred.p90)} µs (${fmt(hundred.median / s.median, 1)}x the stream)`,
  );
  goal('runtime round trip median / bare nats.js median', r.median / b.median, '<=', 1.3, 'x');
  goal('100-chunk stream against 100 sequential round trips (how many times faster)', hundred.median / s.median, '>=', 5, 'x');
  console.log('');
  console.log(table(['goal', 'figure', 'target', 'verdict'], goalRows()));
  verdict();

  await clientRt.shutdown();
  await worker.shutdown();
  await responder.close();
  await requester.close();
} finally {
  await cluster.stop();
}
