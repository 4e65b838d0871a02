/**
 * Log lines operators can keep: no line over 16 KiB (container runtimes split longer ones), in
 * text and JSON forms, never a character cut in half; and the aggregator at 1,000 workers writes
 * one short summary per cycle at `debug`, its per-worker detail at `trace` in lines below the cap.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from '@nats-io/transport-node';
import { configureLogging, cutBytes, getLogger, MAX_LOG_LINE_BYTES } from '../src/log.ts';
import { waitUntil } from './support/process.ts';
import { startMetrics } from './support/aggregator.ts';
import { dynamoShapedWorker, registerDynamoInstances } from './support/dynamoStats.ts';
import { series } from './support/exposition.ts';
import { testCluster } from './support/servers.ts';

function capture(jsonl: boolean): { lines: string[]; restore: () => void } {
  const lines: string[] = []; // the logger writes each line whole
  configureLogging({ level: 'trace', jsonl, sink: { write: (line) => void lines.push(line) } });
  return { lines, restore: () => configureLogging({ level: 'info', jsonl: false, sink: { write: (l) => process.stderr.write(l) } }) };
}

test('a line over 16 KiB is cut to 16 KiB, text and JSON; shorter lines are untouched', (t) => {
  const big = { kv_active_blocks: Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`758788488825303${i}`, i])) };
  const text = capture(false);
  t.after(text.restore);
  getLogger('test').info('aggregated', big);
  getLogger('test').info('short', { a: 1 });
  assert.equal(text.lines.length, 2);
  assert.ok(Buffer.byteLength(text.lines[0]!) <= MAX_LOG_LINE_BYTES, `${Buffer.byteLength(text.lines[0]!)} bytes`);
  assert.match(text.lines[0]!, / … \(line cut: \d+ bytes\)\n$/);
  assert.match(text.lines[1]!, /INFO test: short a=1\n$/);
  const json = capture(true);
  getLogger('test').warn('aggregated', big);
  const line = json.lines[0]!;
  assert.ok(Buffer.byteLength(line) <= MAX_LOG_LINE_BYTES);
  const parsed = JSON.parse(line) as { level: string; message: string; truncated_from_bytes: number };
  assert.equal(parsed.level, 'WARN');
  assert.equal(parsed.message, 'aggregated');
  assert.ok(parsed.truncated_from_bytes > MAX_LOG_LINE_BYTES);
});

test('cutBytes never cuts a character in half', () => {
  const s = 'é'.repeat(10) + '😀'.repeat(10); // 2-byte and 4-byte characters
  for (let n = 0; n <= Buffer.byteLength(s); n++) {
    const cut = cutBytes(s, n);
    assert.ok(Buffer.byteLength(cut) <= n);
    assert.ok(s.startsWith(cut), `at ${n} bytes`);
    assert.doesNotMatch(cut, /\uFFFD/);
  }
});

test('the aggregator at 1,000 workers: one summary line per cycle at debug, the detail at trace, no line over 16 KiB', async (t) => {
  const { cluster, defer } = await testCluster(t);
  const ids = Array.from({ length: 1000 }, (_, i) => 7587884888253033398n + BigInt(i));
  defer(await registerDynamoInstances(cluster.etcd.url, ids));
  const nc = await connect({ servers: cluster.nats.url });
  defer(() => nc.close());
  dynamoShapedWorker(
    nc,
    ids.map((id, i) => ({
      id,
      data: `{"request_active_slots":1,"request_total_slots":10,"kv_active_blocks":${i % 100},"kv_total_blocks":100}`,
    })),
  );
  await nc.flush();
  for (const level of ['debug', 'trace']) {
    const m = await startMetrics(cluster, [], { DYN_LOG: level });
    await waitUntil(
      '1,000 workers exported',
      async () => (series(await m.scrape(), 'llm_kv_blocks_active').length === 1000 ? true : undefined),
      60_000,
      500,
    );
    await waitUntil(
      'three cycles logged',
      () => ((m.proc.output().match(/ aggregated workers=/g) ?? []).length >= 3 ? true : undefined),
      20_000,
      200,
    );
    await m.proc.stop();
    const lines = m.proc
      .output()
      .split('\n')
      .filter((l) => l !== '');
    const longest = Math.max(...lines.map((l) => Buffer.byteLength(l) + 1));
    assert.ok(longest <= MAX_LOG_LINE_BYTES, `${level}: longest line ${longest} bytes`);
    const summaries = lines.filter((l) => / aggregated workers=/.test(l));
    assert.ok(summaries.length >= 3);
    assert.match(summaries[0]!, /workers=1000 answered=1000 load_avg=49\.5 load_std=[\d.]+ kv_active_min=0 kv_active_max=99$/);
    const perCycle = Math.max(...summaries.map((l) => Buffer.byteLength(l) + 1));
    const detail = lines.filter((l) => / aggregated workers part=/.test(l));
    if (level === 'debug') {
      assert.equal(detail.length, 0);
      t.diagnostic(
        `debug at 1,000 workers: ${perCycle} bytes per cycle (${((perCycle * 60) / 1024).toFixed(1)} KiB a minute at one cycle a second)`,
      );
    } else {
      assert.ok(detail.length >= 4 * 3, 'four detail lines a cycle');
      const ids1 = new Set(detail.slice(0, 4).flatMap((l) => [...l.matchAll(/"(\d+)":/g)].map((m) => m[1])));
      assert.equal(ids1.size, 1000, "every worker in one cycle's detail");
    }
  }
});
