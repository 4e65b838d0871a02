/**
 * A flood of KV hit-rate events while cycles run, against real servers: 150,000 events sent as
 * fast as NATS takes them from another process-level connection, while the aggregator keeps
 * scraping 300 workers every second. No scrape of `/metrics` during or after the flood misses a
 * worker (a slow cycle keeps the workers it did not hear from, up to --max-missed-cycles), and
 * every event is counted exactly once, per worker.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from '@nats-io/transport-node';
import { waitUntil } from '../support/process.ts';
import { testCluster } from '../support/servers.ts';
import { LABELS, startMetrics, startMockWorker, waitForScrape } from '../support/aggregator.ts';
import { sample, series } from '../support/exposition.ts';

const WORKERS = 300;
const EVENTS = 150_000;

test(`${EVENTS} hit-rate events during cycles of ${WORKERS} workers: no worker lost in any scrape, every event counted`, {
  timeout: 300_000,
}, async (t) => {
  const { cluster, defer } = await testCluster(t);
  const w = await startMockWorker(cluster, ['--workers', String(WORKERS), '--hit-rate-interval', '1h']);
  defer(() => w.proc.stop(20_000));
  const m = await startMetrics(cluster);
  defer(() => m.proc.stop());
  await waitForScrape(m, `${WORKERS} workers`, (x) => series(x, 'llm_kv_blocks_active').length === WORKERS, 60_000);
  const before = await m.scrape();
  const acceptedBefore = sample(before, 'dynamo_metrics_events_total') ?? 0;

  // scrape continuously while the flood runs: every scrape must hold every worker
  let flooding = true;
  const shortScrapes: number[] = [];
  let scrapes = 0;
  const watcher = (async () => {
    while (flooding) {
      const text = await m.scrape();
      scrapes++;
      const n = series(text, 'llm_kv_blocks_active').length;
      if (n !== WORKERS) shortScrapes.push(n);
    }
  })();

  const pub = await connect({ servers: cluster.nats.url });
  defer(() => pub.close());
  const bodies = w.ids.map((id, i) =>
    new TextEncoder().encode(`{"worker_id":${id},"isl_blocks":${(i % 10) + 1},"overlap_blocks":${i % 2}}`),
  );
  const t0 = performance.now();
  for (let sent = 0; sent < EVENTS; sent += 5_000) {
    for (let j = sent; j < sent + 5_000; j++) pub.publish('namespace.dynamo.kv-hit-rate', bodies[j % WORKERS]!);
    await pub.flush();
  }
  const sendSecs = (performance.now() - t0) / 1000;
  let last = '';
  const text = await waitUntil(
    'every event counted',
    async () => {
      last = await m.scrape();
      return (sample(last, 'dynamo_metrics_events_total') ?? 0) - acceptedBefore >= EVENTS ? last : undefined;
    },
    120_000,
    200,
  ).catch((err: Error) => {
    throw new Error(
      `${err.message}: counted ${(sample(last, 'dynamo_metrics_events_total') ?? 0) - acceptedBefore}; ${last
        .split('\n')
        .filter((l) => /events_rejected|nats_connected|workers /.test(l))
        .join(' | ')}; ${m.proc.output().slice(-600)}`,
    );
  });
  // two more cycles under observation after the flood
  const cycles = sample(text, 'dynamo_metrics_scrape_cycles_total') ?? 0;
  await waitForScrape(m, 'two more cycles', (x) => (sample(x, 'dynamo_metrics_scrape_cycles_total') ?? 0) >= cycles + 2);
  flooding = false;
  await watcher;
  t.diagnostic(
    `${EVENTS} events sent in ${sendSecs.toFixed(2)} s (${(EVENTS / sendSecs).toFixed(0)}/s); ${scrapes} scrapes during and after`,
  );

  assert.deepEqual(shortScrapes, [], 'no scrape missed a worker');
  assert.equal((sample(text, 'dynamo_metrics_events_total') ?? 0) - acceptedBefore, EVENTS, 'counted exactly once');
  assert.equal(sample(text, 'dynamo_metrics_events_rejected_total', { reason: 'overloaded' }), undefined, 'none refused for overload');
  // per worker: each got EVENTS / WORKERS events of its own isl and overlap
  const per = EVENTS / WORKERS;
  const isl = new Map(series(text, 'llm_kv_hit_rate_isl_blocks_total').map((s) => [s.labels.worker_id, s.value]));
  const islBefore = new Map(series(before, 'llm_kv_hit_rate_isl_blocks_total').map((s) => [s.labels.worker_id, s.value]));
  for (const [i, id] of w.ids.entries()) {
    assert.equal((isl.get(id.toString()) ?? 0) - (islBefore.get(id.toString()) ?? 0), per * ((i % 10) + 1), `worker ${id}`);
  }
  assert.equal(sample(text, 'llm_load_avg', LABELS) !== undefined, true);
});
