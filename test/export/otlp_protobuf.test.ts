/**
 * Our OTLP/protobuf serializer (src/export/otlpProtobuf.ts) against its oracle, the OTel
 * serializer: the same bytes for every kind of metric the SDK produces, for hand-built edge cases
 * (long fields, every attribute value type, extreme times and values), for randomly generated
 * requests, and after attribute objects change between requests (the cache must never serve
 * stale bytes). The http/protobuf and gRPC exporters built on it send the requests the OTel ones send.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Metadata } from '@grpc/grpc-js';
import type { Attributes, HrTime } from '@opentelemetry/api';
import { ValueType } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import { OTLPMetricExporter as OTelProtoExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPMetricExporter as OTelGrpcExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { CompressionAlgorithm } from '@opentelemetry/otlp-exporter-base';
import { ProtobufMetricsSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  AggregationType,
  DataPointType,
  InstrumentType,
  MeterProvider,
  MetricReader,
  type MetricData,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import { MetricsRequestSerializer } from '../../src/export/otlpProtobuf.ts';
import { createOtlpExporter } from '../../src/export/otlp.ts';
import { OtlpGrpcReceiver, OtlpReceiver } from '../support/otlpReceiver.ts';
import { rng } from '../support/hostile.ts';

class ManualReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

function same(ours: MetricsRequestSerializer, rm: ResourceMetrics, what: string): void {
  const expected = Buffer.from(ProtobufMetricsSerializer.serializeRequest(rm)!);
  const actual = Buffer.from(ours.serializeRequest(rm));
  if (!actual.equals(expected)) {
    let i = 0;
    while (i < actual.length && actual[i] === expected[i]) i++;
    assert.fail(`${what}: bytes differ at offset ${i} of ${expected.length} (ours ${actual.length} bytes)`);
  }
}

async function sdkMetrics(temporality: AggregationTemporality): Promise<ResourceMetrics> {
  const reader = new ManualReader({
    aggregationTemporalitySelector: () => temporality,
    aggregationSelector: (t) => (t === InstrumentType.HISTOGRAM ? { type: AggregationType.DEFAULT } : { type: AggregationType.DEFAULT }),
  });
  const expReader = new ManualReader({
    aggregationSelector: () => ({ type: AggregationType.EXPONENTIAL_HISTOGRAM }),
    aggregationTemporalitySelector: () => temporality,
  });
  const provider = new MeterProvider({
    resource: resourceFromAttributes({ 'service.name': 'bridge', 'host.name': 'nœud-7', 'process.pid': 4242, 'k8s.ready': true }),
    readers: [reader, expReader],
  });
  const meter = provider.getMeter('dynamo', '1.2.3', { schemaUrl: 'https://opentelemetry.io/schemas/1.26.0' });
  const attrs: Attributes[] = [
    { dynamo_namespace: 'ns', dynamo_component: 'backend', dynamo_endpoint: 'generate' },
    { ünïcode: 'ключ', big: 2 ** 60, neg: -17, ratio: 0.25, flag: false, list: ['a', 'b'], nums: [1, 2.5] },
    {},
  ];
  const counter = meter.createCounter('requests', { description: 'requests served', unit: '{request}' });
  const intCounter = meter.createCounter('bytes', { valueType: ValueType.INT, unit: 'By' });
  const upDown = meter.createUpDownCounter('inflight', { valueType: ValueType.INT });
  const hist = meter.createHistogram('duration', { unit: 's', advice: { explicitBucketBoundaries: [0.01, 0.1, 1, 10] } });
  const gauge = meter.createObservableGauge('load', { description: 'load' });
  gauge.addCallback((r) => {
    r.observe(0.75, attrs[0]);
    r.observe(-3, attrs[1]);
  });
  for (const a of attrs) {
    counter.add(1.5, a);
    intCounter.add(2 ** 33 + 7, a);
    upDown.add(-5, a);
    for (const v of [0.002, 0.05, 3, 42, 1e-9]) hist.record(v, a);
  }
  const first = await reader.collect();
  const second = await expReader.collect();
  await provider.shutdown();
  const rm = first.resourceMetrics;
  rm.scopeMetrics.push(...second.resourceMetrics.scopeMetrics);
  return rm;
}

test('every kind of SDK metric, cumulative and delta, is written byte for byte as the OTel serializer writes it', async () => {
  const ours = new MetricsRequestSerializer();
  for (const temporality of [AggregationTemporality.CUMULATIVE, AggregationTemporality.DELTA]) {
    const rm = await sdkMetrics(temporality);
    const kinds = new Set(rm.scopeMetrics.flatMap((s) => s.metrics.map((m) => m.dataPointType)));
    assert.deepEqual(
      [...kinds].sort(),
      [DataPointType.HISTOGRAM, DataPointType.EXPONENTIAL_HISTOGRAM, DataPointType.GAUGE, DataPointType.SUM].sort(),
    );
    same(ours, rm, `temporality ${temporality}`);
    same(ours, rm, `temporality ${temporality}, again from the cache`);
  }
});

const T0: HrTime = [1_763_900_000, 123_456_789];

function rmOf(
  metrics: MetricData[],
  resource: Attributes = {},
  extra: Partial<ResourceMetrics['scopeMetrics'][number]['scope']> = {},
): ResourceMetrics {
  return {
    resource: resourceFromAttributes(resource),
    scopeMetrics: [{ scope: { name: 'scope', ...extra }, metrics }],
  } as ResourceMetrics;
}

function gauge(
  name: string,
  points: { attributes: Attributes; value: number; startTime?: HrTime; endTime?: HrTime }[],
  valueType = ValueType.DOUBLE,
): MetricData {
  return {
    descriptor: { name, description: '', unit: '', valueType, type: InstrumentType.GAUGE } as MetricData['descriptor'],
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPointType: DataPointType.GAUGE,
    dataPoints: points.map((p) => ({ attributes: p.attributes, startTime: p.startTime ?? T0, endTime: p.endTime ?? T0, value: p.value })),
  } as MetricData;
}

test('edge cases: long fields, every attribute value type, extreme times and values', () => {
  const ours = new MetricsRequestSerializer();
  const long = 'x'.repeat(200);
  const veryLong = 'é'.repeat(20_000);
  const cases: [string, ResourceMetrics][] = [
    ['no metrics', rmOf([])],
    [
      'resource and scope attributes, scope version and schema URL',
      rmOf([], { a: 'b', n: 1 }, { version: '9', schemaUrl: 'https://s', attributes: { sa: true } } as never),
    ],
    ['a 200-byte name (two-byte lengths)', rmOf([gauge(long, [{ attributes: { k: long }, value: 1 }])])],
    ['a 40,000-byte attribute (three-byte lengths)', rmOf([gauge('g', [{ attributes: { k: veryLong }, value: 1 }])])],
    [
      'every attribute value type',
      rmOf([
        gauge('g', [
          {
            attributes: {
              s: 'v',
              empty: '',
              t: true,
              f: false,
              zero: 0,
              neg: -1,
              minInt: -(2 ** 63),
              tooSmall: -(2 ** 64),
              big: 2 ** 62,
              edge: 2 ** 63,
              tooBig: 2 ** 64,
              top7: 0x7f * 2 ** 28,
              half: 0.5,
              nan: NaN,
              inf: Infinity,
              arr: ['x', 'y'],
              mixed: [1, 'a', true, null] as never,
              bytes: new Uint8Array([1, 2, 3]) as never,
              obj: { inner: 'v', deep: { n: 2 } } as never,
              undef: undefined,
            },
            value: 1,
          },
        ]),
      ]),
    ],
    [
      'times at 0, near 2^32 seconds and in the far future; start and end differ',
      rmOf([
        gauge('g', [
          { attributes: {}, value: 1, startTime: [0, 0], endTime: [0, 1] },
          { attributes: {}, value: 2, startTime: [2 ** 32 - 1, 999_999_999], endTime: [2 ** 32 + 5, 0] },
          { attributes: {}, value: 3, startTime: [16_725_225_600, 5], endTime: [18_446_744_073, 709_551_615] },
        ]),
      ]),
    ],
    [
      'int values: negative, above 2^32, fractional',
      rmOf([
        gauge(
          'i',
          [
            { attributes: { w: '1' }, value: -5 },
            { attributes: { w: '2' }, value: 2 ** 40 + 3 },
            { attributes: { w: '3' }, value: -(2 ** 35) },
            { attributes: { w: '4' }, value: 7.9 },
          ],
          ValueType.INT,
        ),
      ]),
    ],
    [
      'double values: NaN, ±Infinity, -0, tiny',
      rmOf([
        gauge(
          'd',
          [NaN, Infinity, -Infinity, -0, 5e-324].map((value, i) => ({ attributes: { i }, value })),
        ),
      ]),
    ],
    [
      'a histogram without sum, min or max, and an exponential histogram with negative offsets and scale',
      rmOf([
        {
          descriptor: { name: 'h', description: 'd', unit: 's', valueType: ValueType.DOUBLE, type: InstrumentType.HISTOGRAM },
          aggregationTemporality: AggregationTemporality.DELTA,
          dataPointType: DataPointType.HISTOGRAM,
          dataPoints: [
            { attributes: { a: 'b' }, startTime: T0, endTime: T0, value: { count: 2 ** 33, buckets: { boundaries: [], counts: [] } } },
          ],
        } as never,
        {
          descriptor: { name: 'e', description: '', unit: '', valueType: ValueType.DOUBLE, type: InstrumentType.HISTOGRAM },
          aggregationTemporality: AggregationTemporality.CUMULATIVE,
          dataPointType: DataPointType.EXPONENTIAL_HISTOGRAM,
          dataPoints: [
            {
              attributes: { a: 'b' },
              startTime: T0,
              endTime: T0,
              value: {
                count: 9,
                sum: -4.5,
                scale: -3,
                zeroCount: 1,
                positive: { offset: -7, bucketCounts: [1, 0, 300] },
                negative: { offset: 0, bucketCounts: [] },
                min: -3,
                max: 2,
              },
            },
          ],
        } as never,
        {
          descriptor: { name: 's', description: '', unit: '', valueType: ValueType.INT, type: InstrumentType.COUNTER },
          aggregationTemporality: AggregationTemporality.DELTA,
          dataPointType: DataPointType.SUM,
          isMonotonic: false,
          dataPoints: [{ attributes: {}, startTime: T0, endTime: T0, value: 3 }],
        } as never,
      ]),
    ],
    [
      'a resource schema URL and a scope with dropped attributes',
      {
        ...rmOf([], { a: 1 }, { droppedAttributesCount: 2 } as never),
        resource: { attributes: { a: 1 }, schemaUrl: 'https://schema' },
      } as never,
    ],
    [
      'consecutive points whose times differ only in their seconds',
      rmOf([
        gauge('g', [
          { attributes: {}, value: 1, startTime: [100, 5], endTime: [100, 5] },
          { attributes: {}, value: 2, startTime: [200, 5], endTime: [300, 5] },
        ]),
      ]),
    ],
    [
      'inherited enumerable properties are not attributes (point attributes and a nested object value)',
      rmOf([
        gauge('g', [
          {
            attributes: Object.assign(Object.create({ inherited: 'x' }) as Attributes, {
              own: 'y',
              obj: Object.assign(Object.create({ up: 1 }), { down: 2 }),
            }),
            value: 1,
          },
        ]),
      ]),
    ],
    [
      'an exponential histogram of scale 0; a sum whose temporality is neither delta nor cumulative',
      rmOf([
        {
          descriptor: { name: 'e0', description: '', unit: '', valueType: ValueType.DOUBLE, type: InstrumentType.HISTOGRAM },
          aggregationTemporality: AggregationTemporality.DELTA,
          dataPointType: DataPointType.EXPONENTIAL_HISTOGRAM,
          dataPoints: [
            {
              attributes: {},
              startTime: T0,
              endTime: T0,
              value: {
                count: 1,
                scale: 0,
                zeroCount: 0,
                positive: { offset: 3, bucketCounts: [1] },
                negative: { offset: -1, bucketCounts: [] },
              },
            },
          ],
        } as never,
        {
          descriptor: { name: 'odd', description: '', unit: '', valueType: ValueType.DOUBLE, type: InstrumentType.COUNTER },
          aggregationTemporality: 99,
          dataPointType: DataPointType.SUM,
          isMonotonic: true,
          dataPoints: [{ attributes: {}, startTime: T0, endTime: T0, value: 1 }],
        } as never,
      ]),
    ],
  ];
  for (const [what, rm] of cases) {
    same(ours, rm, what);
    same(ours, rm, `${what} (again)`);
  }
});

test('every message length around the two- and three-byte length boundaries', () => {
  const ours = new MetricsRequestSerializer();
  // the attribute, point, metric, scope and request bodies each cross 127/128 and 16383/16384
  // bytes somewhere in the first two sweeps (their lengths move one byte at a time); the last
  // takes the attribute value's own message across 2097151/2097152 (a wider sweep costs seconds)
  for (const [from, to] of [
    [90, 140],
    [16_300, 16_400],
    [2_097_145, 2_097_152],
  ] as const) {
    for (let n = from; n <= to; n++) same(ours, rmOf([gauge('g', [{ attributes: { k: 'v'.repeat(n) }, value: 1 }])]), `a ${n}-byte value`);
  }
});

test('300 random requests, sharing (and changing) a pool of attribute objects, are written as the OTel serializer writes them', () => {
  const rnd = rng(12);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const strings = ['', 'a', 'worker', 'ns-é', 'x'.repeat(130), '日本'];
  const value = (): Attributes[string] =>
    pick([
      () => pick(strings),
      () => Math.floor(rnd() * 2 ** 40) - 2 ** 39,
      () => rnd() * 100,
      () => rnd() < 0.5,
      () => [pick(strings), pick(strings)],
    ])();
  const pool: Attributes[] = Array.from({ length: 40 }, () =>
    Object.fromEntries(Array.from({ length: Math.floor(rnd() * 5) }, () => [pick(strings) + Math.floor(rnd() * 9), value()])),
  );
  const ours = new MetricsRequestSerializer();
  for (let r = 0; r < 300; r++) {
    // between requests some pooled objects change: a value, a new key, a removed key
    for (let k = 0; k < 3; k++) {
      const a = pick(pool) as Record<string, unknown>;
      const keys = Object.keys(a);
      const choice = rnd();
      if (choice < 0.4 && keys.length > 0) a[pick(keys)] = value();
      else if (choice < 0.7) a[`${pick(strings)}n`] = value();
      else if (keys.length > 0) delete a[pick(keys)];
    }
    const time: HrTime = [Math.floor(rnd() * 2 ** 34), Math.floor(rnd() * 1e9)];
    const metrics = Array.from({ length: 1 + Math.floor(rnd() * 6) }, (_, m) =>
      gauge(
        `m${m}`,
        Array.from({ length: Math.floor(rnd() * 30) }, () => ({
          attributes: pick(pool),
          value: rnd() < 0.2 ? Math.floor(rnd() * 2 ** 50) : rnd() * 1e6,
          startTime: time,
          endTime: rnd() < 0.8 ? time : [time[0] + 1, 0],
        })),
        rnd() < 0.3 ? ValueType.INT : ValueType.DOUBLE,
      ),
    );
    same(ours, rmOf(metrics, { r }), `request ${r}`);
  }
});

test('an attribute set is encoded once while its object is unchanged; an object changed in place is encoded again; attribute sets no longer exported are forgotten', () => {
  const ours = new MetricsRequestSerializer();
  const a: Attributes = { worker_id: '1', component: 'backend' };
  const list: Attributes = { tags: ['x', 'y'] };
  const twoMetrics = (): ResourceMetrics =>
    rmOf([
      gauge('g', [
        { attributes: a, value: 1 },
        { attributes: list, value: 2 },
      ]),
      gauge('h', [{ attributes: a, value: 3 }]),
    ]);
  same(ours, twoMetrics(), 'first');
  assert.equal(ours.attributeEncodings, 2, 'a once (its second point is served from the cache), the list each time it appears');
  same(ours, twoMetrics(), 'again');
  assert.equal(ours.attributeEncodings, 3, 'a from the cache; the list (an array value) is never kept');
  a.worker_id = '2';
  (list.tags as string[])[1] = 'z'; // an array changed inside: its object is never trusted from the cache
  same(
    ours,
    rmOf([
      gauge('g', [
        { attributes: a, value: 1 },
        { attributes: list, value: 2 },
      ]),
    ]),
    'value changed',
  );
  a.extra = true;
  same(ours, rmOf([gauge('g', [{ attributes: a, value: 1 }])]), 'key added');
  delete a.component;
  same(ours, rmOf([gauge('g', [{ attributes: a, value: 1 }])]), 'key removed');

  const before = ours.attributeEncodings;
  same(ours, rmOf([gauge('g', [{ attributes: a, value: 1 }])]), 'unchanged since');
  assert.equal(ours.attributeEncodings, before, 'served from the cache');
  assert.deepEqual(ours.deserializeResponse(new Uint8Array(0)), ProtobufMetricsSerializer.deserializeResponse(new Uint8Array(0)));

  const many = Array.from({ length: 100 }, (_, i) => ({ worker_id: String(i), n: i, up: i % 2 === 0 }));
  ours.serializeRequest(
    rmOf([
      gauge(
        'g',
        many.map((attributes) => ({ attributes, value: 1 })),
      ),
    ]),
  );
  assert.equal(ours.cachedAttributeSets, 100);
  ours.serializeRequest(
    rmOf([
      gauge(
        'g',
        many.slice(0, 10).map((attributes) => ({ attributes, value: 1 })),
      ),
    ]),
  );
  assert.equal(ours.cachedAttributeSets, 10, 'the 90 departed sets are dropped');
});

for (const protocol of ['http/protobuf', 'grpc'] as const) {
  test(`the ${protocol} exporter sends the OTel exporter's request, compressed and with its headers`, async (t) => {
    const rx = protocol === 'grpc' ? await new OtlpGrpcReceiver().start() : await new OtlpReceiver().start();
    t.after(() => rx.stop());
    const rm = await sdkMetrics(AggregationTemporality.CUMULATIVE);
    const ours = createOtlpExporter({
      protocol,
      endpoint: rx.url,
      headers: { 'x-key': 'k' },
      timeoutMs: 5000,
      compression: 'gzip',
      intervalMs: 1000,
      temporality: 'cumulative',
      histogramAggregation: 'explicit_bucket_histogram',
    });
    const options = { url: rx.url, compression: CompressionAlgorithm.GZIP };
    const theirs =
      protocol === 'grpc'
        ? new OTelGrpcExporter({ ...options, metadata: grpcMetadata({ 'x-key': 'k' }) })
        : new OTelProtoExporter({ ...options, headers: { 'x-key': 'k' } });
    for (const exporter of [ours, theirs]) {
      const result = await new Promise<{ code: ExportResultCode }>((resolve) => exporter.export(rm, resolve));
      assert.equal(result.code, ExportResultCode.SUCCESS);
      await exporter.shutdown();
    }
    assert.equal(rx.bodies.length, 2);
    assert.ok(rx.bodies[0]!.equals(rx.bodies[1]!), 'the same request');
    const [a, b] = rx.exports.map((e) => ({
      key: e.headers['x-key'],
      type: e.contentType,
      encoding: e.headers['content-encoding'] ?? e.headers['grpc-encoding'],
    }));
    assert.deepEqual(a, b);
    assert.equal(a!.key, 'k');
    // (gRPC's message compression is below what a handler sees; over HTTP the header says it)
    if (protocol === 'http/protobuf') assert.equal(a!.encoding, 'gzip');
  });
}

function grpcMetadata(headers: Record<string, string>): Metadata {
  const m = new Metadata();
  for (const [k, v] of Object.entries(headers)) m.set(k, v);
  return m;
}

test('an attribute set with inherited properties is served from the cache on the next request, its own keys only', () => {
  const ours = new MetricsRequestSerializer();
  const a = Object.assign(Object.create({ inherited: 'x' }) as Attributes, { own: 'y', n: 2 });
  const request = (): ResourceMetrics => rmOf([gauge('g', [{ attributes: a, value: 1 }])]);
  same(ours, request(), 'first');
  same(ours, request(), 'again');
  assert.equal(ours.attributeEncodings, 1, 'encoded once: what was kept and what is checked are the same own keys');
});
