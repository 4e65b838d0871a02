/**
 * A local OTLP/HTTP metrics receiver for tests. There is no OpenTelemetry Collector binary here,
 * so bodies are decoded with the official OTLP protobuf schema (the opentelemetry-proto files
 * that an OTel npm package ships, fetched with `npm pack` into node_modules/.cache on first use)
 * for http/protobuf, and checked against the same schema for http/json.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import protobuf from 'protobufjs';
import { Server as GrpcServer, ServerCredentials, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';

const ROOT = join(import.meta.dirname, '..', '..');
/** The last OTel JS package that ships the .proto files of opentelemetry-proto. */
const PROTO_PACKAGE = '@opentelemetry/otlp-grpc-exporter-base@0.38.0';
const CACHE = join(ROOT, 'node_modules', '.cache', 'otlp-proto-0.38.0');
const PROTO_DIR = join(CACHE, 'package', 'build', 'protos');

let requestType: protobuf.Type | undefined;

/** ExportMetricsServiceRequest from the official schema. */
export function otlpRequestType(): protobuf.Type {
  if (requestType !== undefined) return requestType;
  if (!existsSync(join(PROTO_DIR, 'opentelemetry', 'proto', 'metrics', 'v1', 'metrics.proto'))) {
    mkdirSync(CACHE, { recursive: true });
    const file = execFileSync('npm', ['pack', PROTO_PACKAGE, '--silent', '--pack-destination', CACHE], { cwd: CACHE, encoding: 'utf8' })
      .trim()
      .split('\n')
      .pop()!;
    execFileSync('tar', ['xzf', join(CACHE, file), '-C', CACHE, 'package/build/protos']);
  }
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => join(PROTO_DIR, target);
  root.loadSync('opentelemetry/proto/collector/metrics/v1/metrics_service.proto', { keepCase: true });
  requestType = root.lookupType('opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest');
  return requestType;
}

export interface DecodedPoint {
  attributes: Record<string, string | number | boolean>;
  value?: number | undefined;
  count?: number | undefined;
  sum?: number | undefined;
  bucketCounts?: number[] | undefined;
  explicitBounds?: number[] | undefined;
  /** Exponential histograms: scale, zero count and the positive buckets. */
  scale?: number | undefined;
  zeroCount?: number | undefined;
  positive?: { offset: number; bucketCounts: number[] } | undefined;
  startTimeUnixNano: string;
  timeUnixNano: string;
}

export interface DecodedMetric {
  name: string;
  description: string;
  unit: string;
  kind: 'gauge' | 'sum' | 'histogram' | 'exponential_histogram' | 'other';
  temporality?: 'DELTA' | 'CUMULATIVE' | 'UNSPECIFIED' | undefined;
  monotonic?: boolean | undefined;
  points: DecodedPoint[];
  scope: string;
}

export interface ReceivedExport {
  headers: IncomingHttpHeaders;
  contentType: string;
  resource: Record<string, string | number | boolean>;
  metrics: DecodedMetric[];
}

type AnyValue = { string_value?: string; int_value?: number | string; double_value?: number; bool_value?: boolean };
type KeyValue = { key: string; value: AnyValue };

function attrs(list: KeyValue[] | undefined): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const kv of list ?? []) {
    const v = kv.value ?? {};
    out[kv.key] = v.string_value ?? (v.int_value !== undefined ? Number(v.int_value) : undefined) ?? v.double_value ?? v.bool_value ?? '';
  }
  return out;
}

/** Decodes a request body in the official schema into a flat, comparable form. */
export function decodeOtlp(body: Buffer, contentType: string): Omit<ReceivedExport, 'headers' | 'contentType'>[] {
  const type = otlpRequestType();
  let msg: protobuf.Message;
  if (contentType.startsWith('application/json')) {
    // OTLP/JSON: lowerCamelCase names, 64-bit integers as strings, enums as numbers; fromObject
    // maps it onto the schema (fields the schema does not know are dropped and then missed).
    const json = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
    msg = type.fromObject(toSnake(json) as Record<string, unknown>);
  } else {
    msg = type.decode(body);
  }
  const obj = type.toObject(msg, { longs: String, enums: String, defaults: false, arrays: true }) as {
    resource_metrics: {
      resource?: { attributes?: KeyValue[] };
      scope_metrics: { scope?: { name?: string }; metrics: Record<string, unknown>[] }[];
    }[];
  };
  return obj.resource_metrics.map((rm) => ({
    resource: attrs(rm.resource?.attributes),
    metrics: rm.scope_metrics.flatMap((sm) =>
      sm.metrics.map((m) => {
        const base = {
          name: m.name as string,
          description: (m.description as string) ?? '',
          unit: (m.unit as string) ?? '',
          scope: sm.scope?.name ?? '',
        };
        const pointsOf = (dps: Record<string, unknown>[] | undefined): DecodedPoint[] =>
          (dps ?? []).map((p) => ({
            attributes: attrs(p.attributes as KeyValue[]),
            value: p.as_double !== undefined ? Number(p.as_double) : p.as_int !== undefined ? Number(p.as_int) : undefined,
            count: p.count !== undefined ? Number(p.count) : undefined,
            sum: p.sum !== undefined ? Number(p.sum) : undefined,
            bucketCounts: (p.bucket_counts as string[] | undefined)?.map(Number),
            explicitBounds: p.explicit_bounds as number[] | undefined,
            scale: p.scale !== undefined ? Number(p.scale) : undefined,
            zeroCount: p.zero_count !== undefined ? Number(p.zero_count) : undefined,
            positive:
              p.positive !== undefined
                ? {
                    offset: Number((p.positive as { offset?: number }).offset ?? 0),
                    bucketCounts: ((p.positive as { bucket_counts?: string[] }).bucket_counts ?? []).map(Number),
                  }
                : undefined,
            startTimeUnixNano: String(p.start_time_unix_nano ?? '0'),
            timeUnixNano: String(p.time_unix_nano ?? '0'),
          }));
        const temporality = (t: unknown): DecodedMetric['temporality'] =>
          t === 'AGGREGATION_TEMPORALITY_DELTA' ? 'DELTA' : t === 'AGGREGATION_TEMPORALITY_CUMULATIVE' ? 'CUMULATIVE' : 'UNSPECIFIED';
        if (m.gauge)
          return { ...base, kind: 'gauge' as const, points: pointsOf((m.gauge as { data_points: Record<string, unknown>[] }).data_points) };
        if (m.sum) {
          const s = m.sum as { data_points: Record<string, unknown>[]; aggregation_temporality: unknown; is_monotonic?: boolean };
          return {
            ...base,
            kind: 'sum' as const,
            temporality: temporality(s.aggregation_temporality),
            monotonic: s.is_monotonic ?? false,
            points: pointsOf(s.data_points),
          };
        }
        if (m.histogram) {
          const h = m.histogram as { data_points: Record<string, unknown>[]; aggregation_temporality: unknown };
          return {
            ...base,
            kind: 'histogram' as const,
            temporality: temporality(h.aggregation_temporality),
            points: pointsOf(h.data_points),
          };
        }
        if (m.exponential_histogram) {
          const h = m.exponential_histogram as { data_points: Record<string, unknown>[]; aggregation_temporality: unknown };
          return {
            ...base,
            kind: 'exponential_histogram' as const,
            temporality: temporality(h.aggregation_temporality),
            points: pointsOf(h.data_points),
          };
        }
        return { ...base, kind: 'other' as const, points: [] };
      }),
    ),
  }));
}

/** OTLP/JSON uses lowerCamelCase field names; the schema is loaded with proto (snake) names. */
function toSnake(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(toSnake);
  if (typeof v !== 'object' || v === null) return v;
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), toSnake(x)]));
}

export class OtlpReceiver {
  readonly exports: ReceivedExport[] = [];
  /** The request bodies accepted, uncompressed, as sent. */
  readonly bodies: Buffer[] = [];
  /** Status codes to answer the next requests with, in order; 200 after they run out. */
  readonly plannedStatuses: number[] = [];
  /** While set, every request is answered with this status (an outage that still accepts connections). */
  outageStatus: number | undefined;
  requests = 0;
  delayMs = 0;
  private server: Server | undefined;

  constructor(public port = 0) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}/v1/metrics`;
  }

  async start(): Promise<this> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        this.requests++;
        const answer = (): void => {
          const status = this.outageStatus ?? this.plannedStatuses.shift() ?? 200;
          if (status === 200) {
            let body = Buffer.concat(chunks);
            if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
            const contentType = String(req.headers['content-type'] ?? '');
            this.bodies.push(body);
            for (const d of decodeOtlp(body, contentType)) this.exports.push({ headers: req.headers, contentType, ...d });
          }
          // An empty ExportMetricsServiceResponse: zero bytes in protobuf, {} in JSON.
          const json = String(req.headers['content-type'] ?? '').startsWith('application/json');
          res.writeHead(status, { 'Content-Type': json ? 'application/json' : 'application/x-protobuf' });
          res.end(status !== 200 ? '' : json ? '{}' : '');
        };
        if (this.delayMs > 0) setTimeout(answer, this.delayMs);
        else answer();
      });
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as { port: number }).port;
    this.server = server;
    return this;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (s === undefined) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  /** The newest value of metric `name` with attributes containing `match`. */
  latest(name: string, match: Record<string, string> = {}): DecodedPoint | undefined {
    for (let i = this.exports.length - 1; i >= 0; i--) {
      for (const m of this.exports[i]!.metrics) {
        if (m.name !== name) continue;
        const p = m.points.find((pt) => Object.entries(match).every(([k, v]) => pt.attributes[k] === v));
        if (p !== undefined) return p;
      }
    }
    return undefined;
  }
}

/**
 * An OTLP/gRPC receiver: a real gRPC server (@grpc/grpc-js) offering
 * `opentelemetry.proto.collector.metrics.v1.MetricsService/Export`, decoding each request with the
 * official proto schema like the HTTP receiver; the request's metadata is kept as `headers`.
 */
export class OtlpGrpcReceiver {
  readonly exports: ReceivedExport[] = [];
  /** The request messages received, as sent. */
  readonly bodies: Buffer[] = [];
  private server: GrpcServer | undefined;
  port = 0;

  get url(): string {
    return `${this.tls === undefined ? 'http' : 'https'}://127.0.0.1:${this.port}`;
  }

  /** @param tls a certificate and key (PEM) to serve TLS with; plaintext without */
  constructor(private readonly tls?: { cert: Buffer; key: Buffer }) {}

  async start(): Promise<this> {
    const server = new GrpcServer();
    const identity = (b: Buffer): Buffer => b;
    server.addService(
      {
        Export: {
          path: '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export',
          requestStream: false,
          responseStream: false,
          requestSerialize: identity,
          requestDeserialize: identity,
          responseSerialize: identity,
          responseDeserialize: identity,
        },
      },
      {
        Export: (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => {
          const headers = Object.fromEntries(Object.entries(call.metadata.getMap()).map(([k, v]) => [k, String(v)]));
          this.bodies.push(call.request);
          for (const d of decodeOtlp(call.request, 'application/x-protobuf'))
            this.exports.push({ headers, contentType: 'application/grpc', ...d });
          callback(null, Buffer.alloc(0)); // an empty ExportMetricsServiceResponse
        },
      },
    );
    const creds =
      this.tls === undefined
        ? ServerCredentials.createInsecure()
        : ServerCredentials.createSsl(null, [{ cert_chain: this.tls.cert, private_key: this.tls.key }]);
    this.port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', creds, (err, port) => (err ? reject(err) : resolve(port))),
    );
    this.server = server;
    return this;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (s !== undefined) await new Promise<void>((resolve) => s.tryShutdown(() => resolve()));
  }
}
