/**
 * The HTTP transport of the Prometheus pull path: `/metrics` in text format 0.0.4, gzip when the
 * scraper accepts it, and 503 (never 200 with a comment) when collection fails or times out, so
 * that Prometheus marks the target down instead of showing stale series as fresh. Other routes
 * (the system status server's `/health` and `/live`) can be added.
 *
 * Concurrent scrapes share one collection and rendering (ExpositionCache). The server is bounded
 * for an open network (docs/exporting.md, "Limits"): a cap on connections, a deadline for a
 * request's headers and for the whole request, and a bound on what one client may leave unread
 * (responses it has asked for, pipelined or not, that it does not take within the write timeout
 * or beyond the byte bound): that connection is cut, counted by reason, and nobody else waits.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Socket } from 'node:net';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { formatHostPort } from '../config/values.ts';
import { getLogger } from '../log.ts';
import { UsageError } from '../errors.ts';
import type { ExportHealth } from './ExportHealth.ts';
import {
  acceptsOpenMetrics,
  OPENMETRICS_CONTENT_TYPE,
  PROMETHEUS_CONTENT_TYPE,
  type PrometheusSerializerOptions,
} from './PrometheusSerializer.ts';
import { ConnectionBudget } from './ConnectionBudget.ts';
import { type Exposition, ExpositionCache } from './ExpositionCache.ts';
import { DEFAULT_HTTP_LIMITS, DEFAULT_KEEP_ALIVE_TIMEOUT_MS, type HttpLimits } from './httpLimits.ts';
import type { PullMetricReader } from './PullMetricReader.ts';
import { BasicAuthGate, type WebConfig } from './webConfig.ts';
import { errorMessage } from '../errors.ts';

const log = getLogger('export::prometheus');
const gzipAsync = promisify(gzip);

/**
 * A route: writes its own response, or returns one for the server to send, gzipped when the
 * client accepts it and `compressible` is set, within the same unread-bytes bound as `/metrics`.
 */
// biome-ignore lint/suspicious/noConfusingVoidType: a route that writes its own response returns nothing (void), whatever its body's last expression
export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => void | RouteAnswer | Promise<void | RouteAnswer>;

export interface RouteAnswer {
  status: number;
  headers: Record<string, string>;
  body: Buffer | string;
  /** Gzip the body when the client accepts it (and it is worth it). */
  compressible?: boolean;
  /** A gzipped copy made in advance (static assets). */
  gzipped?: Buffer;
}

/** Bodies smaller than this are sent as they are even when the client accepts gzip. */
export const MIN_GZIP_BYTES = 1_024;

/** Why a connection was cut (the `reason` of `dynamo_metrics_http_connections_cut_total`). */
export type CutReason = 'max_connections' | 'max_connections_per_source' | 'evicted_idle' | 'unread_bytes' | 'write_timeout';

export interface MetricsHttpServerOptions extends PrometheusSerializerOptions {
  host: string;
  port: number;
  collectTimeoutMs: number;
  /** Path of the metrics route. @default '/metrics' */
  path?: string;
  /** More routes, by exact path. */
  routes?: Record<string, RouteHandler> | undefined;
  health?: ExportHealth;
  /** TLS and basic auth (exporter-toolkit web config). */
  webConfig?: WebConfig | undefined;
  /** @default DEFAULT_HTTP_LIMITS */
  limits?: Partial<HttpLimits>;
}

export { formatHostPort };

/** A connection's id: its peer's address and port. */
function connectionId(socket: Socket): string {
  return `${socket.remoteAddress ?? ''}|${socket.remotePort ?? ''}`;
}

export class MetricsHttpServer {
  private readonly server: Server;
  private readonly path: string;
  private readonly gate: BasicAuthGate;
  private readonly limits: HttpLimits;
  readonly cache: ExpositionCache;
  /** Bytes of responses given to each connection and not yet taken by its client. */
  private readonly unread = new WeakMap<Socket, number>();
  private readonly routes: Map<string, RouteHandler>;
  private readonly budget: ConnectionBudget;
  /** The open connections by id (`address|port`, the same for a TLS socket and the TCP one under it). */
  private readonly sockets = new Map<string, Socket>();

  constructor(
    private readonly reader: PullMetricReader,
    private readonly opts: MetricsHttpServerOptions,
  ) {
    this.path = opts.path ?? '/metrics';
    this.routes = new Map(Object.entries(opts.routes ?? {}));
    this.gate = new BasicAuthGate(opts.webConfig?.users ?? new Map());
    const tls = opts.webConfig?.tls;
    const handle = (req: IncomingMessage, res: ServerResponse): void => {
      const id = connectionId(req.socket);
      this.budget.busy(id, 1);
      res.once('close', () => this.budget.busy(id, -1));
      void this.route(req, res).catch((err: Error) => {
        log.rateLimited('warn', 'route', 'request handling failed', { error: err.message });
        if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
        res.end('internal error\n');
      });
    };
    const limits: HttpLimits = { ...DEFAULT_HTTP_LIMITS, ...opts.limits };
    this.limits = limits;
    this.budget = new ConnectionBudget(limits.maxConnections, limits.maxConnectionsPerSource);
    this.cache = new ExpositionCache(opts);
    // Node refuses a header deadline beyond the request deadline
    const headersTimeout = Math.min(limits.headerTimeoutMs, limits.requestTimeoutMs);
    const serverOptions = {
      headersTimeout,
      requestTimeout: limits.requestTimeoutMs,
      // how often Node checks those deadlines
      connectionsCheckingInterval: Math.max(100, Math.min(1_000, Math.floor(headersTimeout / 2))),
      keepAliveTimeout: DEFAULT_KEEP_ALIVE_TIMEOUT_MS,
    };
    this.server = tls !== undefined ? createHttpsServer({ ...tls, ...serverOptions }, handle) : createServer(serverOptions, handle);
    this.server.keepAliveTimeout = DEFAULT_KEEP_ALIVE_TIMEOUT_MS;
    // the caps are applied here rather than by server.maxConnections, which refuses a newcomer
    // while half-sent requests hold every place
    this.server.on('connection', (socket: Socket) => this.admit(socket));
  }

  private admit(socket: Socket): void {
    const id = connectionId(socket);
    const decision = this.budget.admit(id, socket.remoteAddress ?? '');
    if (!decision.admit) {
      this.cut(socket, decision.reason);
      return;
    }
    if (decision.evict !== undefined) {
      const victim = this.sockets.get(decision.evict);
      this.sockets.delete(decision.evict);
      this.cut(victim, 'evicted_idle');
    }
    this.sockets.set(id, socket);
    socket.once('close', () => {
      if (this.sockets.get(id) !== socket) return; // its id was reused by a newer connection
      this.sockets.delete(id);
      this.budget.remove(id);
    });
  }

  /** Cuts a connection (or counts one refused at accept). */
  private cut(socket: Socket | undefined, reason: CutReason): void {
    if (socket?.destroyed === true) return; // counted once per connection
    this.opts.health?.connectionCut(reason);
    log.rateLimited('warn', `cut-${reason}`, 'closed an HTTP connection', { reason });
    socket?.destroy();
  }

  /**
   * Sends `chunks` as the response body, keeping the connection's unread bytes within bound: a
   * response its client does not take within the write timeout cuts the connection.
   */
  private send(req: IncomingMessage, res: ServerResponse, chunks: readonly Buffer[], length: number): void {
    // the request's socket: a pipelined response has none of its own until its turn comes
    const socket = req.socket;
    const unread = (this.unread.get(socket) ?? 0) + socket.writableLength;
    if (unread > 0 && unread + length > this.limits.maxUnreadBytes) {
      this.cut(socket, 'unread_bytes');
      return;
    }
    for (const c of chunks) res.write(c);
    res.end();
    this.unread.set(socket, (this.unread.get(socket) ?? 0) + length);
    const timer = setTimeout(() => this.cut(socket, 'write_timeout'), this.limits.writeTimeoutMs);
    timer.unref();
    let settled = false;
    const done = (): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      this.unread.set(socket, Math.max(0, (this.unread.get(socket) ?? 0) - length));
    };
    res.once('finish', done);
    res.once('close', done);
  }

  /** Adds (or replaces) the route at exact `path` (not the metrics path). */
  addRoute(path: string, handler: RouteHandler): void {
    if (path === this.path) throw new UsageError(`${path} is the metrics path`);
    this.routes.set(path, handler);
  }

  /**
   * Answers `req` from the routes added here when one matches its path (a server of its own that
   * shares this one's pages, such as the frontend's); false when none does.
   */
  async serveRoute(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const handler = this.routes.get((req.url ?? '/').split('?', 1)[0] ?? '/');
    if (handler === undefined) return false;
    const a = await handler(req, res);
    if (a !== undefined) await this.answer(req, res, a);
    return true;
  }

  /** Sends a route's answer: gzipped when asked and worth it, bounded like a scrape. */
  private async answer(req: IncomingMessage, res: ServerResponse, a: RouteAnswer): Promise<void> {
    const headers: Record<string, string | number> = { ...a.headers };
    let body = typeof a.body === 'string' ? Buffer.from(a.body) : a.body;
    const canGzip = a.gzipped !== undefined || (a.compressible === true && body.length >= MIN_GZIP_BYTES);
    if (canGzip) {
      headers.Vary = 'Accept-Encoding';
      if (/\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) {
        body = a.gzipped ?? (await gzipAsync(body));
        headers['Content-Encoding'] = 'gzip';
      }
    }
    headers['Content-Length'] = body.length;
    res.writeHead(a.status, headers);
    if (req.method === 'HEAD' || a.status === 304) res.end();
    else this.send(req, res, [body], body.length);
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
    // a client asking for more while it leaves earlier answers unread (pipelining and not reading)
    const socket = req.socket;
    if ((this.unread.get(socket) ?? 0) + socket.writableLength > this.limits.maxUnreadBytes) {
      this.cut(socket, 'unread_bytes');
      return;
    }
    if (!(await this.gate.allows(req))) {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="dynamo-otel-metrics"', 'Content-Type': 'text/plain' });
      res.end('unauthorized\n');
      return;
    }
    const path = (req.url ?? '/').split('?', 1)[0] ?? '/';
    const handler = path === this.path ? (rq: IncomingMessage, rs: ServerResponse) => this.handleMetrics(rq, rs) : this.routes.get(path);
    if (handler !== undefined && req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain' });
      res.end('method not allowed\n');
      return;
    }
    if (handler !== undefined) {
      const a = await handler(req, res);
      if (a !== undefined) await this.answer(req, res, a);
      return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
    res.end('not found\n');
  }

  /** Collects, serializes and answers one scrape. */
  async handleMetrics(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const health = this.opts.health;
    const openMetrics = acceptsOpenMetrics(req.headers.accept);
    health?.attempt('prometheus');
    const gzipped = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
    let body: Exposition;
    try {
      body = await this.cache.render(() => this.reader.collectAll(this.opts.collectTimeoutMs), { openMetrics, gzip: gzipped });
    } catch (err) {
      health?.failure('prometheus', errorMessage(err));
      log.rateLimited('warn', 'collect', 'metrics collection failed; answering 503', { error: errorMessage(err) });
      res.writeHead(503, { 'Content-Type': 'text/plain; charset=utf-8', 'Retry-After': '1' });
      res.end(`metrics collection failed: ${errorMessage(err)}\n`);
      return;
    }
    health?.success('prometheus');
    const headers: Record<string, string | number> = {
      'Content-Type': openMetrics ? OPENMETRICS_CONTENT_TYPE : PROMETHEUS_CONTENT_TYPE,
      Vary: 'Accept, Accept-Encoding',
      'Content-Length': body.length,
    };
    if (gzipped) headers['Content-Encoding'] = 'gzip';
    res.writeHead(200, headers);
    if (req.method === 'HEAD') res.end();
    else this.send(req, res, body.chunks, body.length);
  }
}
