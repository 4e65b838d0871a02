/**
 * Streaming latency per endpoint on the worker's /metrics: time to first chunk, time between
 * chunks and chunks per response, for streamed responses only (a unary answer adds nothing),
 * with the endpoint's labels; values follow the handler's own pacing. Real NATS and etcd.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startInstrumentedWorker } from '../support/instrumented.ts';
import { promtool } from '../support/promtool.ts';

const FIRST_MS = 100;
const GAP_MS = 30;
const CHUNKS = 6;

test('time to first chunk, inter-chunk latency and chunks per response for streamed responses', { timeout: 120_000 }, async (t) => {
  const { drt, scrape } = await startInstrumentedWorker(t);
  const ep = drt.namespace('s').component('llm').endpoint('generate');
  await ep.serve<{ stream?: boolean }>((req) => {
    if (!req.stream) return 'unary';
    return (async function* () {
      await new Promise((r) => setTimeout(r, FIRST_MS));
      for (let i = 0; i < CHUNKS; i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, GAP_MS));
        yield { token: i };
      }
    })();
  });
  const client = await ep.client();
  for (let i = 0; i < 2; i++) assert.equal((await client.random({ stream: true }).collect()).length, CHUNKS);
  for (let i = 0; i < 3; i++) await client.random({ stream: false }).collect();

  const text = await scrape();
  const lbl = 'dynamo_namespace="s",dynamo_component="llm",dynamo_endpoint="generate"';
  const value = (line: string): number => {
    const m = new RegExp(`^${line.replace(/[.+{}]/g, '\\$&')} (\\S+)$`, 'm').exec(text);
    assert.ok(
      m !== null,
      `missing: ${line}\n${text
        .split('\n')
        .filter((l) => l.includes('chunk'))
        .join('\n')}`,
    );
    return Number(m[1]);
  };
  // time to first chunk: two streams, each at least FIRST_MS
  assert.equal(value(`dynamo_component_time_to_first_chunk_seconds_count{${lbl}}`), 2, 'streams only, not the unary answers');
  assert.equal(value(`dynamo_component_time_to_first_chunk_seconds_bucket{${lbl},le="0.05"}`), 0);
  assert.equal(value(`dynamo_component_time_to_first_chunk_seconds_bucket{${lbl},le="+Inf"}`), 2);
  assert.ok(value(`dynamo_component_time_to_first_chunk_seconds_sum{${lbl}}`) >= (2 * FIRST_MS) / 1000 - 0.002);
  // between chunks: (CHUNKS - 1) gaps per stream, each at least GAP_MS
  assert.equal(value(`dynamo_component_inter_chunk_latency_seconds_count{${lbl}}`), 2 * (CHUNKS - 1));
  assert.equal(value(`dynamo_component_inter_chunk_latency_seconds_bucket{${lbl},le="0.01"}`), 0);
  assert.ok(value(`dynamo_component_inter_chunk_latency_seconds_sum{${lbl}}`) >= (2 * (CHUNKS - 1) * GAP_MS) / 1000 - 0.002);
  // chunks per response
  assert.equal(value(`dynamo_component_response_chunks_count{${lbl}}`), 2);
  assert.equal(value(`dynamo_component_response_chunks_sum{${lbl}}`), 2 * CHUNKS);
  assert.equal(value(`dynamo_component_response_chunks_bucket{${lbl},le="5"}`), 0);
  assert.equal(value(`dynamo_component_response_chunks_bucket{${lbl},le="10"}`), 2);
  assert.match(
    text,
    /^# HELP dynamo_component_time_to_first_chunk_seconds Time from a streamed request's arrival to its first response chunk \(time to first token\)$/m,
  );
  promtool(text);
});
