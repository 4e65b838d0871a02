/**
 * Writing an OTLP/protobuf export of the aggregator's metrics at 10,000 workers (pure, one
 * process): the aggregator's own snapshot (AggregatorMetrics, about 60,000 number data points)
 * serialized by our serializer (src/export/otlpProtobuf.ts) and by the OTel one
 * (`ProtobufMetricsSerializer`), which is what every http/protobuf and gRPC export went through
 * before, alternately in the same process, and checked to be byte for byte the same. The gzip of
 * the request (the exporter's default level) is shown for scale: it is the same for both.
 *
 *   npm run bench -- bench/otlp.bench.ts
 */
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { ProtobufMetricsSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { AggregatorMetrics } from '../src/aggregator/AggregatorMetrics.ts';
import { HitRateTracker } from '../src/aggregator/HitRateTracker.ts';
import { parseStatsReply, type WorkerStats } from '../src/aggregator/statsReply.ts';
import { MetricsRequestSerializer } from '../src/export/otlpProtobuf.ts';
import { randomForwardPassMetrics } from '../src/mock/MockWorker.ts';
import { encodeJson } from '../src/runtime/json.ts';
import { fmt, machine, summarize, table } from './stats.ts';
import { goal, goalRows, verdict } from './goals.ts';

const N = Number(process.env.BENCH_WORKERS ?? 10_000);
const ROUNDS = 20;
const WARMUP = 3;
const SERVICE = 'dynamo_backend';

const workers = new Map<bigint, WorkerStats>();
const tracker = new HitRateTracker();
for (let i = 0; i < N; i++) {
  const id = 7587884888253033398n + BigInt(i * 7919);
  const body = encodeJson({
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
        data: randomForwardPassMetrics(),
      },
    ],
  });
  const w = parseStatsReply(body, SERVICE, 'generate').workers[0]!;
  workers.set(id, w);
}
const view = { workers, stats: { avg: 1, std: 0.5, min: 0, max: 2 } };
const metrics = new AggregatorMetrics('backend', 'generate', tracker, () => view as never);
const resource = resourceFromAttributes({ 'service.name': 'dynamo-metrics', 'service.instance.id': 'bench' });

const ours = new MetricsRequestSerializer();
const samples = { ours: [] as number[], otel: [] as number[], gzip: [] as number[] };
let bytes = 0;
let points = 0;
for (let r = 0; r < ROUNDS + WARMUP; r++) {
  // a fresh snapshot per round, as each export collects one (the attribute objects stay: one per worker)
  const request: ResourceMetrics = { resource, scopeMetrics: [await metrics.snapshot()] };
  points = request.scopeMetrics[0]!.metrics.reduce((n, m) => n + m.dataPoints.length, 0);
  const order = r % 2 === 0 ? (['ours', 'otel'] as const) : (['otel', 'ours'] as const);
  const out: Record<string, Uint8Array> = {};
  for (const who of order) {
    const t = performance.now();
    out[who] = who === 'ours' ? ours.serializeRequest(request) : ProtobufMetricsSerializer.serializeRequest(request)!;
    if (r >= WARMUP) samples[who].push(performance.now() - t);
  }
  assert.ok(Buffer.from(out.ours!).equals(Buffer.from(out.otel!)), 'the two serializers wrote different bytes');
  bytes = out.ours!.length;
  const t = performance.now();
  gzipSync(out.ours!);
  if (r >= WARMUP) samples.gzip.push(performance.now() - t);
}
const s = { ours: summarize(samples.ours), otel: summarize(samples.otel), gzip: summarize(samples.gzip) };
const show = (x: { median: number; p90: number }): string => `${fmt(x.median)} ms (p90 ${fmt(x.p90)})`;
console.log(
  `# OTLP/protobuf export request (${machine()}, ${N} workers, ${points} data points, ${fmt(bytes / 1e6, 2)} MB, ${ROUNDS} rounds after ${WARMUP} warm-ups)\n`,
);
console.log(
  table(
    ['what', 'per request', 'per data point'],
    [
      ['our serializer', show(s.ours), `${fmt((s.ours.median * 1000) / points, 2)} µs`],
      ['OTel `ProtobufMetricsSerializer` (before)', show(s.otel), `${fmt((s.otel.median * 1000) / points, 2)} µs`],
      ['gzip of the request (either serializer, for scale)', show(s.gzip), '—'],
    ],
  ),
);
goal('our serializer against the OTel one, same bytes (speed-up)', s.otel.median / s.ours.median, '>=', 3, 'x');
goal('our serializer, per data point', (s.ours.median * 1000) / points, '<=', 0.5, 'µs');
console.log(`\n${table(['goal', 'figure', 'target', 'verdict'], goalRows())}`);
verdict();
