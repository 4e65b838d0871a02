/**
 * The Prometheus serializer's pieces, each pinned exactly (pure, no SDK, no server): content
 * negotiation by Accept weights, name and label sanitising, escaping in both formats, the
 * spellings of infinities and NaN, attribute values of every type, and what is left out.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AggregationTemporality, DataPointType, type MetricData, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  acceptsOpenMetrics,
  escapeLabelValue,
  exposedName,
  formatValue,
  sanitizeLabelName,
  sanitizeMetricName,
  serializeFragmentAsync,
  serializePrometheus,
  serializePrometheusAsync,
  SERIALIZE_CHUNK_POINTS,
  PROMETHEUS_CONTENT_TYPE,
  OPENMETRICS_CONTENT_TYPE,
} from '../../src/export/PrometheusSerializer.ts';

/** What Prometheus 3 sends by default. */
const PROMETHEUS_DEFAULT_ACCEPT =
  'application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2';

test('Accept: OpenMetrics 1.0 only when it weighs more than the 0.0.4 text', () => {
  const cases: [string | undefined, boolean][] = [
    [undefined, false],
    ['', false],
    ['application/openmetrics-text', true],
    ['application/openmetrics-text; version=1.0.0', true],
    ['Application/OpenMetrics-Text;Version=1.0.0', true],
    ['application/openmetrics-text;version=0.0.1', false],
    ['application/openmetrics-text;version=2.0.0;q=1', false],
    ['application/openmetrics-text;q=0', false],
    ['application/openmetrics-text;q=0.5,text/plain;q=0.9', false],
    ['text/plain;q=0.9,application/openmetrics-text', true],
    ['application/openmetrics-text;q=0.5,text/plain;q=0.5', false], // a tie goes to the text
    ['application/openmetrics-text;q=0.5,*/*;q=0.5', false],
    ['*/*;q=0.1,application/openmetrics-text;q=0.2', true],
    ['*/*', false],
    ['text/plain', false],
    ['application/json', false],
    ['application/json, application/openmetrics-text;q=0.5', true], // a type neither format is does not weigh for the text
    ['application/openmetrics-text;q=0.3, application/openmetrics-text;q=0.8, text/plain;q=0.7', true], // the best weight of a type counts
    ['text/plain;q=0.2, text/plain;q=0.9, application/openmetrics-text;q=0.8', false],
    [PROMETHEUS_DEFAULT_ACCEPT, true],
    ['text/plain;version=0.0.4;q=1,application/openmetrics-text;version=1.0.0;q=0.9', false],
  ];
  for (const [accept, want] of cases) assert.equal(acceptsOpenMetrics(accept), want, String(accept));
});

test('names and label names are sanitised as Prometheus clients do', () => {
  assert.equal(sanitizeMetricName('dynamo.component-requests'), 'dynamo_component_requests');
  assert.equal(sanitizeMetricName('a:b_c9'), 'a:b_c9');
  assert.equal(sanitizeMetricName('9lives'), '_9lives');
  assert.equal(sanitizeMetricName('lives9'), 'lives9');
  assert.equal(sanitizeMetricName('é x'), '__x');
  assert.equal(sanitizeLabelName('a:b'), 'a_b');
  assert.equal(sanitizeLabelName('1st'), '_1st');
  assert.equal(sanitizeLabelName('first1'), 'first1');
  assert.equal(sanitizeLabelName('service.name'), 'service_name');
});

test('label values and numbers are written in the exposition spelling', () => {
  assert.equal(escapeLabelValue('a\\b\nc"d'), 'a\\\\b\\nc\\"d');
  assert.equal(escapeLabelValue('plain'), 'plain');
  assert.equal(formatValue(Infinity), '+Inf');
  assert.equal(formatValue(-Infinity), '-Inf');
  assert.equal(formatValue(NaN), 'NaN');
  assert.equal(formatValue(1.5), '1.5');
  assert.equal(formatValue(-2), '-2');
  assert.equal(formatValue(1e21), '1e+21');
});

const start: [number, number] = [1, 0];
const end: [number, number] = [2, 0];

function gauge(name: string, description: string, points: { attributes: Record<string, unknown>; value: number }[]): MetricData {
  return {
    descriptor: { name, description, unit: '', valueType: 1 },
    dataPointType: DataPointType.GAUGE,
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPoints: points.map((p) => ({ ...p, startTime: start, endTime: end })),
  } as MetricData;
}

function sum(name: string, isMonotonic: boolean, value: number): MetricData {
  return {
    descriptor: { name, description: `${name} help`, unit: '', valueType: 1 },
    dataPointType: DataPointType.SUM,
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    isMonotonic,
    dataPoints: [{ attributes: {}, startTime: start, endTime: end, value }],
  } as MetricData;
}

function rm(metrics: MetricData[], resource: Record<string, string> = { 'service.name': 'svc' }): ResourceMetrics {
  return { resource: resourceFromAttributes(resource), scopeMetrics: [{ scope: { name: 's' }, metrics }] };
}

test('values, attributes of every type, help escaping in both formats, and what is left out', () => {
  const metrics = [
    gauge('g', 'back\\slash\nnew "quoted"', [
      { attributes: { s: 'x', n: 5, b: true, arr: [1, 2], gone: undefined }, value: Infinity },
      { attributes: { s: 'y' }, value: -Infinity },
      { attributes: { s: 'z' }, value: NaN },
    ]),
    sum('requests', true, 3),
    sum('requests_total_x', true, 1),
    sum('inflight', false, -2),
    gauge('empty', 'no points', []),
    gauge('nohelp', '', [{ attributes: {}, value: 1 }]),
    { ...sum('exp', true, 1), dataPointType: DataPointType.EXPONENTIAL_HISTOGRAM } as MetricData,
  ];
  const text = serializePrometheus(rm(metrics));
  assert.equal(
    text,
    [
      '# HELP g back\\\\slash\\nnew "quoted"',
      '# TYPE g gauge',
      'g{s="x",n="5",b="true",arr="[1,2]"} +Inf',
      'g{s="y"} -Inf',
      'g{s="z"} NaN',
      '# HELP requests_total requests help',
      '# TYPE requests_total counter',
      'requests_total 3',
      '# HELP requests_total_x_total requests_total_x help',
      '# TYPE requests_total_x_total counter',
      'requests_total_x_total 1',
      '# HELP inflight inflight help',
      '# TYPE inflight gauge',
      'inflight -2',
      '# HELP nohelp nohelp',
      '# TYPE nohelp gauge',
      'nohelp 1',
      '',
    ].join('\n'),
  );
  const om = serializePrometheus(rm(metrics), { openMetrics: true });
  assert.ok(om.startsWith('# HELP g back\\\\slash\\nnew \\"quoted\\"\n'), 'OpenMetrics escapes quotes in HELP too');
  assert.ok(
    om.includes('# HELP requests requests help\n# TYPE requests counter\nrequests_total 3\n'),
    'the counter family is named without _total',
  );
  assert.ok(om.endsWith('nohelp 1\n# EOF\n'));
  assert.ok(!text.includes('# EOF'), 'no EOF in the 0.0.4 text');
  const withTarget = serializePrometheus(rm([sum('c', true, 1)], { 'service.name': 'svc', 'k"ey': 'v\nal' }), { targetInfo: true });
  assert.ok(
    withTarget.startsWith(
      '# HELP target_info Target metadata\n# TYPE target_info gauge\ntarget_info{service_name="svc",k_ey="v\\nal"} 1\n',
    ),
    withTarget,
  );
  assert.ok(!text.includes('target_info'), 'target_info only when asked');
});

test('a name that is a counter in one scope and a gauge in another keeps the first; the async forms give the same text', async () => {
  const r: ResourceMetrics = {
    resource: resourceFromAttributes({}),
    scopeMetrics: [
      { scope: { name: 'a' }, metrics: [sum('x', false, 1)] },
      { scope: { name: 'b' }, metrics: [sum('x', true, 2), gauge('x', 'again', [{ attributes: { k: 'v' }, value: 3 }])] },
    ],
  };
  const text = serializePrometheus(r);
  assert.equal(text, '# HELP x x help\n# TYPE x gauge\nx 1\nx{k="v"} 3\n# HELP x_total x help\n# TYPE x_total counter\nx_total 2\n');
  assert.equal(await serializePrometheusAsync(r), text);
  const om = await serializePrometheusAsync(r, { openMetrics: true });
  assert.ok(om.endsWith('# EOF\n'));
  const frag = await serializeFragmentAsync(r, { openMetrics: true });
  assert.equal(`${frag.text}# EOF\n`, om, 'a fragment is the exposition without # EOF');
  assert.deepEqual(frag.names, ['x', 'x_total']);
});

test('a large exposition is serialised in chunks of SERIALIZE_CHUNK_POINTS, giving the same text as in one go', async () => {
  const n = SERIALIZE_CHUNK_POINTS * 2 + 7;
  const points = Array.from({ length: n }, (_, i) => ({ attributes: { i: String(i) }, value: i }));
  const r = rm([gauge('big', 'many', points)]);
  // one tick per turn of the event loop while serialising: the serializer gives the loop a turn per chunk
  let turns = 0;
  let done = false;
  const tick = (): void => {
    if (done) return;
    turns++;
    setImmediate(tick);
  };
  setImmediate(tick);
  const text = await serializePrometheusAsync(r);
  done = true;
  assert.equal(text, serializePrometheus(r));
  assert.equal(text.split('\n').length, n + 3);
  assert.ok(turns >= 2 && turns <= 4, `${n} points gave the event loop ${turns} turns (one per ${SERIALIZE_CHUNK_POINTS} points expected)`);
});

test("dotted OTel names are translated as the Collector's Prometheus exporter does; Prometheus-style names are kept", () => {
  assert.equal(exposedName('gen_ai.server.time_to_first_token', 's', 'histogram'), 'gen_ai_server_time_to_first_token_seconds');
  assert.equal(exposedName('gen_ai.client.token.usage', '{token}', 'histogram'), 'gen_ai_client_token_usage');
  assert.equal(exposedName('http.server.request.duration', 's', 'histogram'), 'http_server_request_duration_seconds');
  assert.equal(exposedName('process.memory.usage', 'By', 'gauge'), 'process_memory_usage_bytes');
  assert.equal(exposedName('system.cpu.utilization', '1', 'gauge'), 'system_cpu_utilization_ratio');
  assert.equal(exposedName('x.rate', 'By/s', 'gauge'), 'x_rate_bytes_per_second');
  assert.equal(exposedName('x.duration_seconds', 's', 'histogram'), 'x_duration_seconds', 'the unit is not repeated');
  assert.equal(exposedName('dynamo_component_request_duration_seconds', 's', 'histogram'), 'dynamo_component_request_duration_seconds');
  assert.equal(exposedName('dynamo_frontend_time_to_first_token_seconds', 's', 'histogram'), 'dynamo_frontend_time_to_first_token_seconds');
  assert.equal(exposedName('llm_kv_blocks_active', '', 'gauge'), 'llm_kv_blocks_active');
});

test("every unit word of the Collector's translation, rates, annotations and unit 1, exactly", () => {
  const words: Record<string, string> = {
    d: 'days',
    h: 'hours',
    min: 'minutes',
    s: 'seconds',
    ms: 'milliseconds',
    us: 'microseconds',
    ns: 'nanoseconds',
    By: 'bytes',
    KiBy: 'kibibytes',
    MiBy: 'mebibytes',
    GiBy: 'gibibytes',
    KBy: 'kilobytes',
    MBy: 'megabytes',
    GBy: 'gigabytes',
    TiBy: 'tibibytes',
    TBy: 'terabytes',
    m: 'meters',
    V: 'volts',
    A: 'amperes',
    J: 'joules',
    W: 'watts',
    g: 'grams',
    Cel: 'celsius',
    Hz: 'hertz',
    '%': 'percent',
  };
  for (const [unit, word] of Object.entries(words)) assert.equal(exposedName('a.b', unit, 'gauge'), `a_b_${word}`, unit);
  assert.equal(exposedName('a.b', ' s ', 'gauge'), 'a_b_seconds', 'spaces around the unit');
  for (const [per, word] of Object.entries({ s: 'second', m: 'minute', h: 'hour', d: 'day', w: 'week', mo: 'month', y: 'year' }))
    assert.equal(exposedName('a.b', `By/${per}`, 'counter'), `a_b_bytes_per_${word}`, per);
  assert.equal(exposedName('a.b', 'By/min', 'gauge'), 'a_b_bytes_per_min', 'a rate unit the translation does not know is kept');
  assert.equal(exposedName('a.b', '1/s', 'gauge'), 'a_b_per_second', 'a dimensionless rate');
  assert.equal(exposedName('a.b', '/s', 'gauge'), 'a_b_per_second');
  assert.equal(exposedName('a.b', 'By/', 'gauge'), 'a_b_bytes', 'nothing after the slash');
  assert.equal(exposedName('a.b', 'By / s', 'gauge'), 'a_b_bytes_per_second', 'spaces around either side');
  assert.equal(exposedName('a.b', '{request}/s', 'counter'), 'a_b_per_second', 'an annotation is dropped, the rate kept');
  assert.equal(exposedName('a.b', 'By/{x}', 'counter'), 'a_b_bytes');
  assert.equal(exposedName('a.b', 'By{x}', 'gauge'), 'a_b', 'a side holding an annotation says nothing');
  assert.equal(exposedName('a.b', ' {x} ', 'gauge'), 'a_b', 'only an annotation (and spaces): nothing');
  assert.equal(exposedName('a.b', 'furlong', 'gauge'), 'a_b_furlong', 'an unknown unit as it is');
  assert.equal(exposedName('a.b', 'm-s*2', 'gauge'), 'a_b_m_s_2', 'an unknown unit cleaned to letters and digits');
  assert.equal(exposedName('a.b', 'By/s/x', 'gauge'), 'a_b_bytes_per_s_x', 'everything after the first slash is the rate unit');
  assert.equal(exposedName('a.b', 'constructor', 'gauge'), 'a_b_constructor', 'no inherited property is a unit word');
  assert.equal(exposedName('a.b', '1', 'counter'), 'a_b', 'unit 1 on a counter adds nothing');
  assert.equal(exposedName('a.b', '1', 'histogram'), 'a_b');
  assert.equal(exposedName('a.b', '', 'gauge'), 'a_b');
  assert.equal(exposedName('a..b', 's', 'gauge'), 'a_b_seconds', 'runs of underscores are one');
  assert.equal(exposedName('a.__b', 's', 'gauge'), 'a_b_seconds', 'a run of three is one too');
  assert.equal(exposedName('a.b', '.By-', 'gauge'), 'a_b_By', 'separators at either end of a unit leave no underscore');
  assert.equal(exposedName('a.b', 'By/-s-', 'gauge'), 'a_b_bytes_per_s');
  assert.equal(exposedName('a__b', 's', 'gauge'), 'a__b', 'a Prometheus-style name is kept as it is');
});

test('a histogram point without attributes, and scope labels on points without attributes', () => {
  const h = {
    descriptor: { name: 'lat', description: 'd', unit: '', valueType: 1 },
    dataPointType: DataPointType.HISTOGRAM,
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPoints: [
      { attributes: {}, startTime: start, endTime: end, value: { buckets: { boundaries: [1], counts: [1, 0] }, sum: 0.5, count: 1 } },
    ],
  } as MetricData;
  assert.equal(
    serializePrometheus(rm([h])),
    '# HELP lat d\n# TYPE lat histogram\nlat_bucket{le="1"} 1\nlat_bucket{le="+Inf"} 1\nlat_sum 0.5\nlat_count 1\n',
  );
  assert.ok(
    serializePrometheus(rm([h]), { scopeLabels: true }).includes('lat_bucket{otel_scope_name="s",le="1"} 1\n'),
    'the scope label alone, then le',
  );
  assert.ok(serializePrometheus(rm([sum('c', true, 1)]), { scopeLabels: true }).includes('c_total{otel_scope_name="s"} 1\n'));
});

test("the content types are the two formats' own, and a fragment names target_info among its families", async () => {
  // what scrapers match on (Prometheus's text format 0.0.4; OpenMetrics 1.0.0)
  assert.equal(PROMETHEUS_CONTENT_TYPE, 'text/plain; version=0.0.4; charset=utf-8');
  assert.equal(OPENMETRICS_CONTENT_TYPE, 'application/openmetrics-text; version=1.0.0; charset=utf-8');
  const frag = await serializeFragmentAsync(rm([sum('x', true, 1)]), { targetInfo: true });
  assert.deepEqual(frag.names, ['target_info', 'x_total']);
});
