/**
 * The work of one `/api/status` answer at 10,000 workers, in isolation (no HTTP, no scrape cycle
 * competing for the thread): the first request after a new view (rows built and sorted) and the
 * next ones of the same view (a page copied from the kept order), each with its JSON.
 *
 *   npm run bench -- bench/status.bench.ts
 */
import { HitRateTracker } from '../src/aggregator/HitRateTracker.ts';
import { parseStatusQuery, WorkerTable, workerRow } from '../src/aggregator/statusTable.ts';
import { StatusHistory, DEFAULT_STATUS_HISTORY_POINTS } from '../src/aggregator/StatusHistory.ts';
import type { WorkerStats } from '../src/aggregator/statsReply.ts';
import { fmt, machine, summarize, table } from './stats.ts';
import { goal, goalRows, verdict } from './goals.ts';

const WORKERS = Number(process.env.BENCH_WORKERS ?? 10_000);
const ROUNDS = 30;

const tracker = new HitRateTracker();
function view(seed: number): Map<bigint, WorkerStats> {
  const workers = new Map<bigint, WorkerStats>();
  for (let i = 0; i < WORKERS; i++) {
    const id = 7_000_000_000_000_000_000n + BigInt(i * 7919);
    const r = (i * 2654435761 + seed) % 1000;
    workers.set(id, {
      workerId: id,
      subject: `s.${i}`,
      data: {},
      metrics: {
        kvActiveBlocks: r,
        kvTotalBlocks: 1000,
        requestActiveSlots: r % 64,
        requestTotalSlots: 64,
        numRequestsWaiting: r % 17,
        gpuCacheUsagePerc: r / 1000,
      },
    });
    if (seed === 0) tracker.add({ workerId: id, islBlocks: 100 + (r % 50), overlapBlocks: r % 100 });
  }
  return workers;
}
const history = new StatusHistory();
for (let i = 0; i < DEFAULT_STATUS_HISTORY_POINTS; i++)
  history.record({ t: i, workers: WORKERS, load: { avg: 500, std: 280 }, events: i * 100, islTotal: i * 1000, overlapTotal: i * 400 });

const table_ = new WorkerTable();
const query = parseStatusQuery(new URLSearchParams('sort=kv_active_blocks&order=desc&limit=100'));
const other = parseStatusQuery(new URLSearchParams('sort=hit_rate_percent&order=desc&limit=100&offset=5000'));
function answer(v: Map<bigint, WorkerStats>, version: number, q = query): number {
  // as AggregatorStatus builds them
  const page = table_.page(
    version,
    () => {
      const rows = [];
      for (const [id, w] of v) rows.push(workerRow(id, w, tracker.get(id), 0));
      return rows;
    },
    q,
  );
  return JSON.stringify({ workers: page, history: history.points() }).length;
}

const views = Array.from({ length: 4 }, (_, i) => view(i));
const first: number[] = [];
const again: number[] = [];
const otherSort: number[] = [];
let bytes = 0;
for (let i = 0; i < ROUNDS; i++) {
  const v = views[i % views.length]!;
  let t = performance.now();
  bytes = answer(v, i);
  first.push(performance.now() - t);
  t = performance.now();
  answer(v, i, other);
  otherSort.push(performance.now() - t);
  t = performance.now();
  answer(v, i);
  again.push(performance.now() - t);
}
const f = summarize(first.slice(3));
const o = summarize(otherSort.slice(3));
const a = summarize(again.slice(3));
console.log(`# /api/status work at ${WORKERS} workers (${machine()})\n`);
console.log(
  table(
    ['request', 'median', 'p90'],
    [
      ['first of a new view: rows built, sorted by one column, page of 100 + history as JSON', `${fmt(f.median)} ms`, `${fmt(f.p90)} ms`],
      ['same view, another column (one more sort)', `${fmt(o.median)} ms`, `${fmt(o.p90)} ms`],
      ['same view and column again (page copied)', `${fmt(a.median)} ms`, `${fmt(a.p90)} ms`],
    ],
  ),
);
console.log(`\nanswer size: ${bytes} bytes of JSON before gzip (600 history points + 100 rows)\n`);
goal(`status API work, first request of a view at ${WORKERS} workers (p90)`, f.p90, '<=', 30, 'ms');
goal(`status API work, same view again (p90)`, a.p90, '<=', 5, 'ms');
console.log(table(['goal', 'figure', 'target', 'verdict'], goalRows()));
verdict();
