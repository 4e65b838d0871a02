/**
 * OTLP/protobuf encoding of an `ExportMetricsServiceRequest`, byte for byte what the OTel
 * serializer (`ProtobufMetricsSerializer` of `@opentelemetry/otlp-transformer`) writes: the same
 * fields in the same order, the same omissions, the same int/double choices. It is the oracle of
 * `test/export/otlp_protobuf.test.ts`, which compares the two over every kind of metric.
 *
 * Why not the OTel serializer itself: at 10,000 workers an export holds about 60,000 number data
 * points, and it walks them twice (a size estimate, then the write) encoding every attribute
 * string character by character: tens of milliseconds of CPU per export. Here the encoded
 * attributes of a data point are kept per attributes object (the aggregator hands the same object
 * for a worker's every series and every collection) and checked against the object's current
 * keys and values before each use, so a mutated object is encoded again; timestamps shared by
 * consecutive points are converted once; the buffer is sized from the previous request. The
 * result: the same bytes in a third to a quarter of the time (bench/otlp.bench.ts).
 *
 * Pure: no I/O; the response is decoded by the OTel deserializer.
 */
import type { Attributes, AttributeValue, HrTime } from '@opentelemetry/api';
import { ValueType } from '@opentelemetry/api';
import {
  AggregationTemporality,
  DataPointType,
  type DataPoint,
  type ExponentialHistogram,
  type Histogram,
  type MetricData,
  type ResourceMetrics,
  type ScopeMetrics,
} from '@opentelemetry/sdk-metrics';
import { ProtobufMetricsSerializer } from '@opentelemetry/otlp-transformer';

/** The first buffer, and the smallest; later requests start from the size of the last one. */
export const INITIAL_BUFFER_BYTES = 64 * 1024;
/** Room added to the last request's size for the next one (an eighth: a growing fleet rarely outgrows it). */
const BUFFER_HEADROOM_SHIFT = 3;

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;

const MIN_64_BIT_INT = -(2 ** 63);
const MAX_64_BIT_INT = 2 ** 63;

/** A growable protobuf writer; a length-delimited field reserves one byte and moves its body when the length needs more. */
class Writer {
  buf: Uint8Array;
  view: DataView;
  pos = 0;

  constructor(size: number) {
    this.buf = new Uint8Array(size);
    this.view = new DataView(this.buf.buffer);
  }

  ensure(n: number): void {
    const needed = this.pos + n;
    if (needed <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < needed) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  tag(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }

  varint(value: number): void {
    this.ensure(10);
    const b = this.buf;
    if (value >= 0 && value <= 0xffffffff) {
      let v = value >>> 0;
      while (v > 0x7f) {
        b[this.pos++] = (v & 0x7f) | 0x80;
        v >>>= 7;
      }
      b[this.pos++] = v;
      return;
    }
    let [low, high] = split64(value);
    while (high > 0 || low > 0x7f) {
      b[this.pos++] = (low & 0x7f) | 0x80;
      low = ((low >>> 7) | (high << 25)) >>> 0;
      high >>>= 7;
    }
    b[this.pos++] = low & 0x7f;
  }

  fixed64(low: number, high: number): void {
    this.ensure(8);
    const v = this.view;
    v.setUint32(this.pos, low >>> 0, true);
    v.setUint32(this.pos + 4, high >>> 0, true);
    this.pos += 8;
  }

  /** A count as fixed64 the way the OTel writer does it (32-bit halves of a non-negative number). */
  count64(n: number): void {
    this.fixed64(n >>> 0, (n / 0x100000000) >>> 0);
  }

  double(value: number): void {
    this.ensure(8);
    this.view.setFloat64(this.pos, value, true);
    this.pos += 8;
  }

  /** A double field written only when the value is there (`optional double`). */
  optionalDouble(field: number, value: number | undefined): void {
    if (value === undefined) return;
    this.tag(field, WIRE_FIXED64);
    this.double(value);
  }

  /** sint32 (zigzag), as the OTel writer does it. */
  sint32(value: number): void {
    this.varint(((value << 1) ^ (value >> 31)) >>> 0);
  }

  sfixed64(value: number): void {
    const [low, high] = split64(value);
    this.fixed64(low, high);
  }

  string(s: string): void {
    const len = s.length;
    let ascii = true;
    for (let i = 0; i < len; i++) {
      if (s.charCodeAt(i) > 127) {
        ascii = false;
        break;
      }
    }
    if (!ascii) {
      this.bytes(utf8.encode(s));
      return;
    }
    this.varint(len);
    this.ensure(len);
    const b = this.buf;
    for (let i = 0; i < len; i++) b[this.pos++] = s.charCodeAt(i);
  }

  bytes(bytes: Uint8Array): void {
    this.varint(bytes.length);
    this.raw(bytes);
  }

  raw(bytes: Uint8Array): void {
    this.ensure(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  /** Opens a length-delimited field's body; `close` with the returned position ends it. */
  open(): number {
    this.ensure(1);
    return this.pos++;
  }

  close(at: number): void {
    const length = this.pos - at - 1;
    const size = varintSize(length);
    if (size > 1) {
      this.ensure(size - 1);
      this.buf.copyWithin(at + size, at + 1, this.pos);
      this.pos += size - 1;
    }
    writeVarint32(this.buf, at, length);
  }

  finish(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }
}

const utf8 = new TextEncoder();

/** 64-bit two's complement halves of an integer-valued number. */
function split64(value: number): [number, number] {
  if (value >= 0) return [value >>> 0, (value / 0x100000000) >>> 0];
  const abs = Math.abs(value);
  let low = ~(abs >>> 0) >>> 0;
  let high = ~((abs / 0x100000000) >>> 0) >>> 0;
  low = (low + 1) >>> 0;
  if (low === 0) high = (high + 1) >>> 0;
  return [low, high];
}

function varintSize(v: number): number {
  if (v < 0x80) return 1;
  if (v < 0x4000) return 2;
  if (v < 0x200000) return 3;
  if (v < 0x10000000) return 4;
  return 5;
}

function writeVarint32(b: Uint8Array, at: number, value: number): void {
  let v = value >>> 0;
  while (v > 0x7f) {
    b[at++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  b[at] = v;
}

// ---- times

/** Nanoseconds of an HrTime as fixed64 halves, without losing precision above 2^53. */
function hrTimeHalves(t: HrTime): [number, number] {
  const seconds = t[0];
  const lower = (seconds & 0xffff) * 1e9;
  const upper = ((seconds / 0x10000) >>> 0) * 1e9;
  const low = (lower >>> 0) + ((((upper & 0xffff) * 0x10000) >>> 0) + t[1]);
  const carry = Math.floor(low / 0x100000000);
  return [low >>> 0, (Math.floor(lower / 0x100000000) + ((upper / 0x10000) >>> 0) + carry) >>> 0];
}

/** The halves of the last time converted: consecutive points mostly share their times. */
class TimeCache {
  private s = NaN;
  private n = NaN;
  private halves: [number, number] = [0, 0];

  write(w: Writer, t: HrTime): void {
    if (t[0] !== this.s || t[1] !== this.n) {
      this.s = t[0];
      this.n = t[1];
      this.halves = hrTimeHalves(t);
    }
    w.fixed64(this.halves[0], this.halves[1]);
  }
}

// ---- attributes

function writeAnyValue(w: Writer, value: unknown): void {
  const t = typeof value;
  if (t === 'string') {
    w.tag(1, WIRE_LEN);
    w.string(value as string);
  } else if (t === 'boolean') {
    w.tag(2, WIRE_VARINT);
    w.varint(value ? 1 : 0);
  } else if (t === 'number') {
    const n = value as number;
    if (Number.isInteger(n) && n >= MIN_64_BIT_INT && n < MAX_64_BIT_INT) {
      w.tag(3, WIRE_VARINT);
      w.varint(n);
    } else {
      w.tag(4, WIRE_FIXED64);
      w.double(n);
    }
  } else if (value instanceof Uint8Array) {
    w.tag(7, WIRE_LEN);
    w.bytes(value);
  } else if (Array.isArray(value)) {
    w.tag(5, WIRE_LEN);
    const array = w.open();
    for (const item of value) {
      w.tag(1, WIRE_LEN);
      const at = w.open();
      writeAnyValue(w, item);
      w.close(at);
    }
    w.close(array);
  } else if (t === 'object' && value !== null) {
    w.tag(6, WIRE_LEN);
    const list = w.open();
    const obj = value as Record<string, unknown>;
    for (const k in obj) {
      if (!Object.hasOwn(obj, k)) continue;
      w.tag(1, WIRE_LEN);
      const kv = w.open();
      writeKeyValue(w, k, obj[k]);
      w.close(kv);
    }
    w.close(list);
  }
  // anything else: nothing, as the OTel serializer does
}

function writeKeyValue(w: Writer, key: string, value: unknown): void {
  w.tag(1, WIRE_LEN);
  w.string(key);
  w.tag(2, WIRE_LEN);
  const at = w.open();
  writeAnyValue(w, value);
  w.close(at);
}

function writeAttributes(w: Writer, attributes: Attributes, field: number): void {
  for (const key in attributes) {
    if (!Object.hasOwn(attributes, key)) continue;
    w.tag(field, WIRE_LEN);
    const at = w.open();
    writeKeyValue(w, key, attributes[key]);
    w.close(at);
  }
}

/** The encoded `repeated KeyValue` of one attributes object, with what it was encoded from. */
interface EncodedAttributes {
  /** The request in which the entry was last checked against its object. */
  checked: number;
  keys: string[];
  values: AttributeValue[];
  bytes: Uint8Array;
}

function isPrimitive(v: unknown): boolean {
  const t = typeof v;
  return t === 'string' || t === 'number' || t === 'boolean';
}

/**
 * Encoded attributes per attributes object, for one field number. An entry is used only while
 * the object still has exactly the keys and (primitive) values it was encoded from, and lives
 * until a request does not use it. (A `Map`, not a `WeakMap`: with tens of thousands of entries
 * a `WeakMap` made the whole request two to three times slower here, its ephemeron table being
 * costly to the garbage collector; `sweep` does the forgetting instead.)
 */
class AttributeCache {
  private readonly entries = new Map<Attributes, EncodedAttributes>();
  private readonly scratch = new Writer(256);
  /** The request being written; each checks an entry once (an object cannot change while a request is written). */
  private request = 0;
  private used = 0;
  /** Attribute sets encoded so far (a cache miss each; for tests). */
  encodings = 0;

  constructor(private readonly field: number) {}

  begin(): void {
    this.request++;
    this.used = 0;
  }

  /** Forgets the entries the request just written did not use (departed series). */
  sweep(): void {
    if (this.entries.size === this.used) return;
    for (const [attributes, e] of this.entries) if (e.checked !== this.request) this.entries.delete(attributes);
  }

  get size(): number {
    return this.entries.size;
  }

  get(attributes: Attributes): Uint8Array {
    const cached = this.entries.get(attributes);
    if (cached !== undefined) {
      if (cached.checked === this.request) return cached.bytes;
      if (matches(cached, attributes)) {
        cached.checked = this.request;
        this.used++;
        return cached.bytes;
      }
      this.entries.delete(attributes);
    }
    const keys: string[] = [];
    const values: AttributeValue[] = [];
    let primitive = true;
    for (const key in attributes) {
      if (!Object.hasOwn(attributes, key)) continue;
      const v = attributes[key];
      keys.push(key);
      values.push(v as AttributeValue);
      if (!isPrimitive(v)) primitive = false;
    }
    const w = this.scratch;
    w.pos = 0;
    this.encodings++;
    writeAttributes(w, attributes, this.field);
    const bytes = w.buf.slice(0, w.pos);
    // an array or object value could change inside without the object changing: not kept
    if (primitive) {
      this.entries.set(attributes, { checked: this.request, keys, values, bytes });
      this.used++;
    }
    return bytes;
  }
}

function matches(e: EncodedAttributes, attributes: Attributes): boolean {
  let i = 0;
  const { keys, values } = e;
  for (const key in attributes) {
    if (!Object.hasOwn(attributes, key)) continue;
    if (i >= keys.length || keys[i] !== key || values[i] !== attributes[key]) return false;
    i++;
  }
  return i === keys.length;
}

// ---- data points

const NUMBER_POINT_FIXED_BYTES = 27; // three fixed64 fields, tag and value

interface Session {
  w: Writer;
  times: TimeCache;
  numberAttributes: AttributeCache;
}

function writeNumberPoint(s: Session, point: DataPoint<number>, valueType: ValueType): void {
  const { w } = s;
  const attrs = point.attributes ? s.numberAttributes.get(point.attributes) : EMPTY;
  w.varint(NUMBER_POINT_FIXED_BYTES + attrs.length);
  w.tag(2, WIRE_FIXED64);
  s.times.write(w, point.startTime);
  w.tag(3, WIRE_FIXED64);
  s.times.write(w, point.endTime);
  if (valueType === ValueType.INT) {
    w.tag(6, WIRE_FIXED64);
    w.sfixed64(point.value);
  } else {
    w.tag(4, WIRE_FIXED64);
    w.double(point.value);
  }
  w.raw(attrs);
}

const EMPTY = new Uint8Array(0);

/** Fields 2-5 of both histogram points: start and end times, count, optional sum. */
function writeTimesCountSum(s: Session, point: DataPoint<Histogram | ExponentialHistogram>): void {
  const { w } = s;
  w.tag(2, WIRE_FIXED64);
  s.times.write(w, point.startTime);
  w.tag(3, WIRE_FIXED64);
  s.times.write(w, point.endTime);
  w.tag(4, WIRE_FIXED64);
  w.count64(point.value.count);
  w.optionalDouble(5, point.value.sum);
}

function writeHistogramPoint(s: Session, point: DataPoint<Histogram>): void {
  const { w } = s;
  const h = point.value;
  const at = w.open();
  writeTimesCountSum(s, point);
  if (h.buckets.counts.length > 0) {
    w.tag(6, WIRE_LEN);
    const counts = w.open();
    for (const c of h.buckets.counts) w.count64(c);
    w.close(counts);
  }
  if (h.buckets.boundaries.length > 0) {
    w.tag(7, WIRE_LEN);
    const bounds = w.open();
    for (const b of h.buckets.boundaries) w.double(b);
    w.close(bounds);
  }
  if (point.attributes) writeAttributes(w, point.attributes, 9);
  w.optionalDouble(11, h.min);
  w.optionalDouble(12, h.max);
  w.close(at);
}

function writeBuckets(w: Writer, offset: number, counts: number[]): void {
  const at = w.open();
  if (offset !== 0) {
    w.tag(1, WIRE_VARINT);
    w.sint32(offset);
  }
  if (counts.length > 0) {
    w.tag(2, WIRE_LEN);
    const packed = w.open();
    for (const c of counts) w.varint(c);
    w.close(packed);
  }
  w.close(at);
}

function writeExponentialPoint(s: Session, point: DataPoint<ExponentialHistogram>): void {
  const { w } = s;
  const h = point.value;
  const at = w.open();
  if (point.attributes) writeAttributes(w, point.attributes, 1);
  writeTimesCountSum(s, point);
  if (h.scale !== 0) {
    w.tag(6, WIRE_VARINT);
    w.sint32(h.scale);
  }
  w.tag(7, WIRE_FIXED64);
  w.count64(h.zeroCount);
  w.tag(8, WIRE_LEN);
  writeBuckets(w, h.positive.offset, h.positive.bucketCounts);
  w.tag(9, WIRE_LEN);
  writeBuckets(w, h.negative.offset, h.negative.bucketCounts);
  w.optionalDouble(12, h.min);
  w.optionalDouble(13, h.max);
  w.close(at);
}

// ---- metrics

function temporality(t: AggregationTemporality): number {
  return t === AggregationTemporality.DELTA ? 1 : t === AggregationTemporality.CUMULATIVE ? 2 : 0;
}

function writeTemporality(w: Writer, t: AggregationTemporality): void {
  const value = temporality(t);
  if (value !== 0) {
    w.tag(2, WIRE_VARINT);
    w.varint(value);
  }
}

/** A Histogram or ExponentialHistogram message: its points, then its temporality. */
function writeHistogramBody<P>(
  s: Session,
  field: number,
  points: P[],
  writePoint: (s: Session, p: P) => void,
  t: AggregationTemporality,
): void {
  const { w } = s;
  w.tag(field, WIRE_LEN);
  const body = w.open();
  for (const p of points) {
    w.tag(1, WIRE_LEN);
    writePoint(s, p);
  }
  writeTemporality(w, t);
  w.close(body);
}

function writeMetric(s: Session, m: MetricData): void {
  const { w } = s;
  const at = w.open();
  w.tag(1, WIRE_LEN);
  w.string(m.descriptor.name);
  if (m.descriptor.description) {
    w.tag(2, WIRE_LEN);
    w.string(m.descriptor.description);
  }
  if (m.descriptor.unit) {
    w.tag(3, WIRE_LEN);
    w.string(m.descriptor.unit);
  }
  switch (m.dataPointType) {
    case DataPointType.GAUGE:
    case DataPointType.SUM: {
      w.tag(m.dataPointType === DataPointType.GAUGE ? 5 : 7, WIRE_LEN);
      const body = w.open();
      const valueType = m.descriptor.valueType;
      for (const p of m.dataPoints) {
        w.tag(1, WIRE_LEN);
        writeNumberPoint(s, p, valueType);
      }
      if (m.dataPointType === DataPointType.SUM) {
        writeTemporality(w, m.aggregationTemporality);
        if (m.isMonotonic) {
          w.tag(3, WIRE_VARINT);
          w.varint(1);
        }
      }
      w.close(body);
      break;
    }
    case DataPointType.HISTOGRAM:
      writeHistogramBody(s, 9, m.dataPoints, writeHistogramPoint, m.aggregationTemporality);
      break;
    case DataPointType.EXPONENTIAL_HISTOGRAM:
      writeHistogramBody(s, 10, m.dataPoints, writeExponentialPoint, m.aggregationTemporality);
      break;
  }
  w.close(at);
}

function writeScopeMetrics(s: Session, sm: ScopeMetrics): void {
  const { w } = s;
  const at = w.open();
  const scope = sm.scope as ScopeMetrics['scope'] & { attributes?: Attributes; droppedAttributesCount?: number };
  w.tag(1, WIRE_LEN);
  const scopeAt = w.open();
  w.tag(1, WIRE_LEN);
  w.string(scope.name);
  if (scope.version) {
    w.tag(2, WIRE_LEN);
    w.string(scope.version);
  }
  if (scope.attributes) writeAttributes(w, scope.attributes, 3);
  if (scope.droppedAttributesCount) {
    w.tag(4, WIRE_VARINT);
    w.varint(scope.droppedAttributesCount);
  }
  w.close(scopeAt);
  for (const m of sm.metrics) {
    w.tag(2, WIRE_LEN);
    writeMetric(s, m);
  }
  if (scope.schemaUrl) {
    w.tag(3, WIRE_LEN);
    w.string(scope.schemaUrl);
  }
  w.close(at);
}

function writeResourceMetrics(s: Session, rm: ResourceMetrics): void {
  const { w } = s;
  const at = w.open();
  w.tag(1, WIRE_LEN);
  const resourceAt = w.open();
  if (rm.resource.attributes) writeAttributes(w, rm.resource.attributes, 1);
  w.tag(2, WIRE_VARINT);
  w.varint(0);
  w.close(resourceAt);
  for (const sm of rm.scopeMetrics) {
    w.tag(2, WIRE_LEN);
    writeScopeMetrics(s, sm);
  }
  if (rm.resource.schemaUrl) {
    w.tag(3, WIRE_LEN);
    w.string(rm.resource.schemaUrl);
  }
  w.close(at);
}

/**
 * A serializer of metrics export requests with its own attribute cache (one per exporter).
 * `serializeRequest` returns a fresh array (the transport may hold it while it retries).
 */
export class MetricsRequestSerializer {
  private size = INITIAL_BUFFER_BYTES;
  private readonly numberAttributes = new AttributeCache(7);

  /** How many attribute sets are kept encoded (for tests). */
  get cachedAttributeSets(): number {
    return this.numberAttributes.size;
  }

  /** How many times an attribute set of a number point was encoded, not taken from the cache (for tests). */
  get attributeEncodings(): number {
    return this.numberAttributes.encodings;
  }

  serializeRequest = (request: ResourceMetrics): Uint8Array => {
    this.numberAttributes.begin();
    const w = new Writer(this.size);
    const s: Session = { w, times: new TimeCache(), numberAttributes: this.numberAttributes };
    w.tag(1, WIRE_LEN);
    writeResourceMetrics(s, request);
    this.numberAttributes.sweep();
    // sized from the last request, not the largest: a one-off burst is not allocated for ever after
    this.size = Math.max(INITIAL_BUFFER_BYTES, w.pos + (w.pos >> BUFFER_HEADROOM_SHIFT));
    return w.finish();
  };

  deserializeResponse = (data: Uint8Array): ReturnType<typeof ProtobufMetricsSerializer.deserializeResponse> =>
    ProtobufMetricsSerializer.deserializeResponse(data);
}
