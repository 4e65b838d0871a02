/**
 * Decoding `$SRV.STATS` replies (pure, one process): 10,000 Dynamo-shaped replies, as the mock
 * workers send them and with `worker_id` (a 63-bit integer) in their data, read by `parseJson`,
 * by the exact parser alone (what every document with a long integer went through before), and by
 * the native `JSON.parse` (which rounds the ids: the floor, not an option). Then whole replies to
 * checked worker stats, and the 10,000 workers' aggregate text, by the fast path for canonical
 * replies (canonicalReply.ts) and by the general path alone (what every reply went through before).
 *
 *   npm run bench -- bench/decode.bench.ts
 */
import { parseJson, parseJsonExact, stringifyJson } from '../src/runtime/json.ts';
import { parseStatsReply, parseStatsReplyGeneral, type WorkerStats } from '../src/aggregator/statsReply.ts';
import { aggregateText } from '../src/aggregator/aggregate.ts';
import { randomForwardPassMetrics } from '../src/mock/MockWorker.ts';
import { fmt, machine, summarize, table } from './stats.ts';
import { goal, goalRows, verdict } from './goals.ts';

const N = 10_000;
const ROUNDS = 15;
const SERVICE = 'dynamo_backend';

function replies(withId: boolean): string[] {
  return Array.from({ length: N }, (_, i) => {
    const id = 7587884888253033398n + BigInt(i * 7919);
    const data = withId ? { worker_id: id, ...randomForwardPassMetrics() } : randomForwardPassMetrics();
    return stringifyJson({
      type: 'io.nats.micro.v1.stats_response',
      name: SERVICE,
      id: `svc${i}`,
      version: '0.0.1',
      started: '2026-11-23T04:00:00.000Z',
      metadata: {},
      endpoints: [
        {
          name: 'generate',
          subject: `${SERVICE}.generate-${id.toString(16)}`,
          queue_group: 'q',
          num_requests: 3,
          num_errors: 0,
          last_error: '',
          processing_time: 1200,
          average_processing_time: 400,
          data,
        },
      ],
    });
  });
}

/** µs per reply: median and p90 over the rounds (after 3 warm-up rounds). */
function perReply<T>(docs: readonly T[], f: (d: T) => unknown): { median: number; p90: number } {
  const samples: number[] = [];
  for (let r = 0; r < ROUNDS + 3; r++) {
    const t = performance.now();
    for (const d of docs) f(d);
    if (r >= 3) samples.push(((performance.now() - t) * 1000) / docs.length);
  }
  return summarize(samples);
}

const plain = replies(false);
const withId = replies(true);
const bytes = new TextEncoder();
const withIdBytes = withId.map((d) => bytes.encode(d));
const rows: string[][] = [];
const show = (s: { median: number; p90: number }): string => `${fmt(s.median, 2)} µs (p90 ${fmt(s.p90, 2)})`;
const native = perReply(withId, (d) => JSON.parse(d));
const fast = perReply(withId, (d) => parseJson(d));
const exact = perReply(withId, (d) => parseJsonExact(d));
const plainFast = perReply(plain, (d) => parseJson(d));
const whole = perReply(withIdBytes, (b) => parseStatsReply(b, SERVICE, 'generate'));
const plainBytes = plain.map((d) => bytes.encode(d));
const replyRows: string[][] = [];
/** µs per reply to worker stats, and ms for the aggregate text of all of them. */
function paths(label: string, bodies: Uint8Array[]): void {
  const cells: string[] = [label];
  const aggs: string[] = [];
  for (const read of [parseStatsReply, parseStatsReplyGeneral]) {
    cells.push(show(perReply(bodies, (b) => read(b, SERVICE, 'generate'))));
    const workers = new Map<bigint, WorkerStats>();
    for (const b of bodies) for (const w of read(b, SERVICE, 'generate').workers) workers.set(w.workerId, w);
    const samples: number[] = [];
    for (let r = 0; r < ROUNDS + 3; r++) {
      const t = performance.now();
      aggregateText(workers, { avg: 1, std: 0 });
      if (r >= 3) samples.push(performance.now() - t);
    }
    const s = summarize(samples);
    aggs.push(`${fmt(s.median, 1)} ms (p90 ${fmt(s.p90, 1)})`);
  }
  replyRows.push([...cells, ...aggs]);
}
paths("mock workers' replies", plainBytes);
paths('replies with `worker_id` in their data', withIdBytes);
rows.push(['reply with `worker_id` in its data', show(fast), show(exact), show(native)]);
rows.push(['reply without a long integer (the mock workers)', show(plainFast), '—', '—']);
rows.push(['parseStatsReply (bytes → checked worker stats), reply with `worker_id`', show(whole), '—', '—']);
console.log(`# decoding stats replies (${machine()}, ${N} replies of ${withId[0]!.length} bytes, ${ROUNDS} rounds)\n`);
console.log(table(['what', 'parseJson', 'exact parser alone (before)', 'JSON.parse (rounds ids)'], rows));
console.log(
  `\n${table(['10,000 replies', 'parseStatsReply µs per reply', 'general path alone (before)', 'aggregate text, fast path', 'aggregate text, general path (before)'], replyRows)}`,
);
goal('parseJson of a reply carrying a 63-bit id, against the exact parser (speed-up)', exact.median / fast.median, '>=', 2, 'x');
goal('parseJson of a reply carrying a 63-bit id, against JSON.parse (cost)', fast.median / native.median, '<=', 4, 'x');
console.log(`\n${table(['goal', 'figure', 'target', 'verdict'], goalRows())}`);
verdict();
