/**
 * The HTTP transport of the Prometheus pull path: `/metrics` in text format 0.0.4, gzip when the
 * scraper accepts it, and 503 (never 200 with a comment) when collection fails or times out, so
 * that Prometheus marks the target down instead of showing stale series as fresh. Other routes
 * (the system status server's `/health` and `/live`) can be added.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { gzip as gzipCb } from 'node:zlib';
import { formatHostPort } from '../config/values.ts';
import { getLogger } from '../log.ts';
import { UsageError } from '../errors.ts';
import type { ExportHealth } from './ExportHealth.ts';
import { acceptsOpenMetrics, OPENMETRICS_CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE, serializePrometheusAsync, type PrometheusSerializerOptions } from './PrometheusSerializer.ts';
import type { PullMetricReader } from './PullMetricReader.ts';
import { BasicAuthGate, type WebConfig } from './webConfig.ts';
import { errorMessage } from '../errors.ts';

const gzip = promisify(gzipCb);
const log = getLogger('export::prometheus');

export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export interface MetricsHttpServerOptions extends PrometheusSerializerOptions {
  host: string;
  port: number;
  collectTimeoutMs: number;
  /** Path of the metrics route. @default '/metrics' */
  path?: string;
  /** More routes, by exact path. */
  routes?: Record<string, RouteHandler>;
  health?: ExportHealth;
  /** TLS and basic auth (exporter-toolkit web config). */
  webConfig?: WebConfig;
}

export { formatHostPort };

export class MetricsHttpServer {
  private readonly server: Server;
  private readonly path: string;
  private readonly gate: BasicAuthGate;

  constructor(
    private readonly reader: PullMetricReader,
    private readonly opts: MetricsHttpServerOptions,
  ) {
    this.path = opts.path ?? '/metrics';
    this.gate = new BasicAuthGate(opts.webConfig?.users ?? new Map());
    const tls = opts.webConfig?.tls;
    const handle = (req: IncomingMessage, res: ServerResponse): void => {
      void this.route(req, res).catch((err: Error) => {
        log.rateLimited('warn', 'route', 'request handling failed', { error: err.message });
        if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
        res.end('internal error\n');
      });
    };
    this.server = tls !== undefined ? createHttpsServer(tls, handle) : createServer(handle);
    this.server.keepAliveTimeout = 65_000;
  }

  /** Listens; a port in use or a bad address is a one-line `UsageError`. */
  async start(): Promise<AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        reject(
          new UsageError(
            `cannot listen on ${formatHostPort(this.opts.host, this.opts.port)}: ${err.code === 'EADDRINUSE' ? 'address already in use' : err.code === 'EADDRNOTAVAIL' ? 'address not available on this machine' : err.message}`,
          ),
        );
      };
      this.server.once('error', onError);
      this.server.listen(this.opts.port, this.opts.host, () => {
        this.server.off('error', onError);
        resolve();
      });
    });
    return this.address;
  }

  get address(): AddressInfo {
    return this.server.address() as AddressInfo;
  }

  /** `host:port/metrics` as the seed's log line prints it. */
  /** `http(s)://host:port`, where the server listens. */
  get baseUrl(): string {
    return `${this.opts.webConfig?.tls !== undefined ? 'https' : 'http'}://${formatHostPort(this.opts.host, this.address.port)}`;
  }

  get displayUrl(): string {
    return `${this.opts.webConfig?.tls !== undefined ? 'https://' : ''}${formatHostPort(this.opts.host, this.address.port)}${this.path}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!(await this.gate.allows(req))) {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="dynamo-otel-metrics"', 'Content-Type': 'text/plain' });
      res.end('unauthorized\n');
      return;
    }
    const path = (req.url ?? '/').split('?')[0]!;
    const handler = path === this.path ? (rq: IncomingMessage, rs: ServerResponse) => this.handleMetrics(rq, rs) : this.opts.routes?.[path];
    if (handler !== undefined && req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain' });
      res.end('method not allowed\n');
      return;
    }
    if (handler !== undefined) return handler(req, res);
    res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
    res.end('not found\n');
  }

  /** Collects, serializes and answers one scrape. */
  async handleMetrics(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const health = this.opts.health;
    const openMetrics = acceptsOpenMetrics(req.headers.accept);
    health?.attempt('prometheus');
    let text: string;
    try {
      const rm = await this.reader.collectAll(this.opts.collectTimeoutMs);
      text = await serializePrometheusAsync(rm, { ...this.opts, openMetrics });
    } catch (err) {
      health?.failure('prometheus');
      log.rateLimited('warn', 'collect', 'metrics collection failed; answering 503', { error: errorMessage(err) });
      res.writeHead(503, { 'Content-Type': 'text/plain; charset=utf-8', 'Retry-After': '1' });
      res.end(`metrics collection failed: ${errorMessage(err)}\n`);
      return;
    }
    health?.success('prometheus');
    const headers: Record<string, string | number> = { 'Content-Type': openMetrics ? OPENMETRICS_CONTENT_TYPE : PROMETHEUS_CONTENT_TYPE, Vary: 'Accept, Accept-Encoding' };
    let body: Buffer = Buffer.from(text, 'utf8');
    if (/\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) {
      body = await gzip(body);
      headers['Content-Encoding'] = 'gzip';
    }
    headers['Content-Length'] = body.length;
    res.writeHead(200, headers);
    res.end(req.method === 'HEAD' ? undefined : body);
  }
}
