/** The status page's pure parts: query parsing, sorting and paging, the history ring, error text. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  byWorkerId,
  compareIds,
  DEFAULT_STATUS_ROWS,
  MAX_STATUS_ROWS,
  parseStatusQuery,
  sortRows,
  StatusQueryError,
  WorkerTable,
  workerRow,
  type WorkerRow,
} from '../../src/aggregator/statusTable.ts';
import { StatusHistory } from '../../src/aggregator/StatusHistory.ts';
import { ExportHealth, MAX_LAST_ERROR_CHARS, safeErrorText } from '../../src/export/ExportHealth.ts';
import type { WorkerStats } from '../../src/aggregator/statsReply.ts';

const q = (s: string) => parseStatusQuery(new URLSearchParams(s));

function stats(kvActiveBlocks: number, extra: Partial<WorkerStats['metrics']> = {}): WorkerStats {
  return { workerId: 0n, subject: 's', data: {}, metrics: { kvActiveBlocks, ...extra } };
}

test('parseStatusQuery: defaults, bounds, and one-line errors', () => {
  assert.deepEqual(q(''), { offset: 0, limit: DEFAULT_STATUS_ROWS, sort: 'worker_id', order: 'asc', worker: undefined });
  assert.deepEqual(q('offset=200&limit=1000&sort=hit_rate_percent&order=desc&worker=72'), {
    offset: 200,
    limit: MAX_STATUS_ROWS,
    sort: 'hit_rate_percent',
    order: 'desc',
    worker: '72',
  });
  assert.equal(q('limit=1').limit, 1);
  for (const bad of [
    'limit=0',
    `limit=${MAX_STATUS_ROWS + 1}`,
    'limit=1.5',
    'limit=abc',
    'offset=-1',
    'offset=1e3',
    'offset=99999999999',
    'sort=__proto__',
    'sort=',
    'order=ASC',
    'worker=-1',
    'worker=1a',
    `worker=${'9'.repeat(21)}`,
  ]) {
    assert.throws(
      () => q(bad),
      (e: unknown) => e instanceof StatusQueryError && !e.message.includes('\n'),
      bad,
    );
  }
});

test('workerRow: the metrics as /metrics shows them; absent values null', () => {
  const r = workerRow(
    18446744073709551615n,
    stats(5, { requestActiveSlots: 2, requestTotalSlots: 10, kvTotalBlocks: 100, numRequestsWaiting: 1, gpuCacheUsagePerc: 0.25 }),
    { islBlocks: 8, overlapBlocks: 2 },
    1,
  );
  assert.deepEqual(r, {
    worker_id: '18446744073709551615',
    active_slots: 2,
    total_slots: 10,
    kv_active_blocks: 5,
    kv_total_blocks: 100,
    requests_waiting: 1,
    gpu_cache_usage_percent: 25,
    hit_rate_percent: 25,
    isl_blocks: 8,
    overlap_blocks: 2,
    missed_cycles: 1,
  });
  const bare = workerRow(1n, stats(0), { islBlocks: 0, overlapBlocks: 0 }, 0);
  assert.equal(bare.hit_rate_percent, null, 'no ISL blocks: no hit rate (never NaN)');
  assert.equal(bare.active_slots, null);
  assert.equal(workerRow(1n, stats(0), undefined, 0).isl_blocks, null);
});

test('compareIds and byWorkerId order decimal ids numerically, past 2^53 (ids one apart share a float)', () => {
  const ids = ['10', '9', '9007199254740993', '9007199254740992', '18446744073709551615', '1', '18446744073709551614'];
  const want = ['1', '9', '10', '9007199254740992', '9007199254740993', '18446744073709551614', '18446744073709551615'];
  assert.deepEqual([...ids].sort(compareIds), want);
  const rows = ids.map((id) => ({ ...workerRow(BigInt(id), stats(0), undefined, 0) }));
  assert.deepEqual(
    byWorkerId(rows).map((r) => r.worker_id),
    want,
  );
});

function rows(values: (number | null)[]): WorkerRow[] {
  return values.map((v, i) => ({ ...workerRow(BigInt(i + 1), stats(0), undefined, 0), hit_rate_percent: v }));
}

test('sortRows: both orders, nulls last in each, ties in id order', () => {
  const r = rows([30, null, 10, 30, null, 20]);
  assert.deepEqual(
    sortRows(r, 'hit_rate_percent', 'asc').map((x) => x.worker_id),
    ['3', '6', '1', '4', '2', '5'],
  );
  assert.deepEqual(
    sortRows(r, 'hit_rate_percent', 'desc').map((x) => x.worker_id),
    ['1', '4', '6', '3', '2', '5'],
  );
  assert.deepEqual(
    sortRows(r, 'worker_id', 'desc').map((x) => x.worker_id),
    ['6', '5', '4', '3', '2', '1'],
  );
  assert.deepEqual(
    r.map((x) => x.worker_id),
    ['1', '2', '3', '4', '5', '6'],
    'the input is left as it was',
  );
});

test('WorkerTable: pages, filter, one build per version and one sort per column and order', () => {
  const table = new WorkerTable();
  let builds = 0;
  const build = (): WorkerRow[] => {
    builds++;
    return rows([5, 4, 3, 2, 1, 0, 6, 7, 8, 9, 10, 11]).reverse(); // any order in, id order kept
  };
  const p1 = table.page('v1', build, q('limit=5'));
  assert.equal(p1.total, 12);
  assert.equal(p1.matched, 12);
  assert.deepEqual(
    p1.rows.map((r) => r.worker_id),
    ['1', '2', '3', '4', '5'],
  );
  assert.deepEqual(
    table.page('v1', build, q('limit=5&offset=10')).rows.map((r) => r.worker_id),
    ['11', '12'],
  );
  assert.deepEqual(table.page('v1', build, q('offset=12')).rows, []);
  assert.deepEqual(
    table.page('v1', build, q('limit=3&sort=hit_rate_percent&order=desc')).rows.map((r) => r.hit_rate_percent),
    [11, 10, 9],
  );
  const f = table.page('v1', build, q('worker=1'));
  assert.deepEqual(
    f.rows.map((r) => r.worker_id),
    ['1', '10', '11', '12'],
  );
  assert.equal(f.matched, 4);
  assert.equal(f.total, 12);
  assert.equal(builds, 1, 'one build while the version holds');
  table.page('v2', build, q(''));
  assert.equal(builds, 2, 'a new version builds again');
});

test('StatusHistory: a bounded ring, oldest first, hit rate and events per interval', () => {
  const h = new StatusHistory(3);
  assert.deepEqual(h.points(), []);
  const input = (t: number, events: number, isl: number, overlap: number) => ({
    t,
    workers: t,
    load: { avg: t, std: 0 },
    events,
    islTotal: isl,
    overlapTotal: overlap,
  });
  h.record(input(1, 2, 10, 5));
  h.record(input(2, 2, 10, 5));
  h.record(input(3, 5, 30, 20));
  h.record({ ...input(4, 5, 30, 20), load: undefined });
  const pts = h.points();
  assert.equal(h.size, 3);
  assert.deepEqual(
    pts.map((p) => p.t),
    [2, 3, 4],
    'the oldest left',
  );
  assert.deepEqual(
    pts.map((p) => p.hit_rate_percent),
    [null, 75, null],
    'Δoverlap/Δisl of each interval; none without events',
  );
  assert.deepEqual(
    pts.map((p) => p.events),
    [0, 3, 0],
  );
  assert.equal(pts[2]!.load_avg, null);
  assert.throws(() => new StatusHistory(0), RangeError);
});

test("an exporter's last error is redacted, one line, bounded", () => {
  const health = new ExportHealth();
  health.attempt('otlp');
  health.failure('otlp', 'POST http://user:pw@collector:4318/v1/metrics?api_key=k3y&x=1 failed\nstack line');
  const [s] = health.statuses();
  assert.equal(s!.exporter, 'otlp');
  assert.equal(s!.failures, 1);
  assert.equal(s!.lastError, 'POST http://***@collector:4318/v1/metrics?api_key=***&x=1 failed');
  assert.ok(typeof s!.lastFailure === 'number');
  assert.equal(safeErrorText('x'.repeat(1000)).length, MAX_LAST_ERROR_CHARS);
});
