/**
 * The frontend: an OpenAI-compatible HTTP server in front of the workers. It learns the models
 * from their cards in etcd, tokenizes each request with its stand-in tokenizer, sends Dynamo's
 * `PreprocessedRequest` to a worker of the model's endpoint (round robin over the instances
 * whose cards name the model) through the runtime client, and relays the engine output as OpenAI
 * responses or server-sent events. A client that goes away cancels the worker's stream. It is
 * the measuring point: every request is counted in `FrontendMetrics`.
 *
 * Routes: `POST /v1/chat/completions`, `POST /v1/completions`, `GET /v1/models`, `GET /health`,
 * `GET /live`, `GET /metrics` (the pipeline's Prometheus exposition).
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { errorMessage } from '../errors.ts';
import type { MetricsHttpServer } from '../export/MetricsHttpServer.ts';
import { getLogger } from '../log.ts';
import type { Client } from '../runtime/Client.ts';
import type { DistributedRuntime } from '../runtime/DistributedRuntime.ts';
import { InstanceGoneError, NoInstancesError, RequestTimeoutError } from '../runtime/errors.ts';
import type { Subscription } from '@nats-io/transport-node';
import { decodeLoadEvent, type LoadEventRejectReason } from '../runtime/loadEvent.ts';
import { componentEventSubject, endpointEventSubject, KV_METRICS_TOPIC } from '../runtime/names.ts';
import { type FrontendErrorType, type FrontendMetrics, type Measure, UnmeasuredRequest } from './FrontendMetrics.ts';
import type { ModelRegistry, ServedModel } from './ModelRegistry.ts';
import {
  completionBody,
  errorBody,
  type InferenceRequest,
  InvalidRequestError,
  modelsBody,
  type OperationKind,
  parseInferenceRequest,
  streamChunk,
  type Usage,
  usageChunk,
} from './openai.ts';
import { type RouteDecision, Router, type RouterMode } from './Router.ts';
import { renderChat, tokenize } from './tokenizer.ts';

const log = getLogger('frontend');

/** Dynamo's frontend port. */
export const DEFAULT_HTTP_PORT = 8000;
export const DEFAULT_HTTP_HOST = '0.0.0.0';
/** The largest request body read. */
export const MAX_REQUEST_BODY_BYTES = 8 * 1024 * 1024;
/** How long a client may take to send its request (headers and body). */
export const REQUEST_RECEIVE_TIMEOUT_MS = 60_000;
const KEEP_ALIVE_TIMEOUT_MS = 65_000;

export interface FrontendOptions {
  host: string;
  port: number;
  /** @default 'round-robin' */
  routerMode?: RouterMode;
  /** Measure the requests (off only to measure what the measuring costs). @default true */
  instrumented?: boolean;
  /** Per-chunk timeout of the requests to workers. */
  workerTimeoutMs?: number;
}

/** One engine-output chunk as the frontend reads it. */
interface EngineChunk {
  token_ids?: unknown;
  text?: unknown;
  finish_reason?: unknown;
  completion_usage?: {
    prompt_tokens?: unknown;
    completion_tokens?: unknown;
    prompt_tokens_details?: { cached_tokens?: unknown } | null;
  } | null;
}

/** A failure answered with an HTTP status and an OpenAI error. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: string,
    readonly code: string | null,
    readonly errorType: FrontendErrorType,
    readonly param: string | null = null,
  ) {
    super(message);
  }
}

/** How a worker-side failure is answered. */
function workerFailure(err: unknown): HttpError {
  if (err instanceof NoInstancesError || err instanceof InstanceGoneError)
    return new HttpError(503, `no worker can serve the request: ${errorMessage(err)}`, 'service_unavailable', 'unavailable', 'unavailable');
  if (err instanceof RequestTimeoutError) return new HttpError(504, 'the worker did not answer in time', 'timeout', 'timeout', 'internal');
  return new HttpError(500, `the worker failed: ${errorMessage(err)}`, 'internal_error', 'internal', 'internal');
}

function nonNegativeInt(v: unknown): number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : 0;
}

export class Frontend {
  private readonly server: Server;
  private readonly clients = new Map<string, Promise<Client>>();
  private readonly router: Router;
  /** The registry generation the router last forgot departed instances at. */
  private routerAt = -1;
  /** Every registered instance of every model, as of `routerAt`. */
  private known = new Set<bigint>();
  /** `least-loaded`: the load subjects followed (each endpoint's and component's `kv_metrics`). */
  private readonly loadSubs = new Map<string, Subscription>();
  private syncScheduled = false;
  private closed = false;
  private seq = 0;

  constructor(
    private readonly drt: DistributedRuntime,
    private readonly registry: ModelRegistry,
    private readonly metrics: FrontendMetrics,
    private readonly prometheus: MetricsHttpServer | undefined,
    private readonly opts: FrontendOptions,
  ) {
    this.router = new Router(opts.routerMode ?? 'round-robin');
    this.server = createServer(
      { requestTimeout: REQUEST_RECEIVE_TIMEOUT_MS, headersTimeout: REQUEST_RECEIVE_TIMEOUT_MS, keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS },
      (req, res) => {
        this.route(req, res).catch((err: unknown) => {
          log.rateLimited('warn', 'route', 'request handling failed', { error: errorMessage(err) });
          if (!res.headersSent) this.sendError(res, new HttpError(500, 'internal error', 'internal_error', 'internal', 'internal'));
          else res.end();
        });
      },
    );
  }

  async listen(): Promise<void> {
    this.server.listen(this.opts.port, this.opts.host);
    await once(this.server, 'listening');
  }

  /** `http://host:port` as bound (the port chosen when 0 was asked). */
  get url(): string {
    const a = this.server.address() as AddressInfo;
    const host = this.opts.host === '0.0.0.0' || this.opts.host === '::' ? '127.0.0.1' : this.opts.host;
    return `http://${host.includes(':') ? `[${host}]` : host}:${a.port}`;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** Stops accepting connections and ends the open ones. */
  async close(): Promise<void> {
    this.closed = true;
    for (const sub of this.loadSubs.values()) sub.unsubscribe();
    this.loadSubs.clear();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
    for (const c of this.clients.values()) void c.then((client) => client.close()).catch(() => undefined);
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    const post = path === '/v1/chat/completions' || path === '/v1/completions';
    const get = path === '/v1/models' || path === '/health' || path === '/live' || path === '/metrics';
    if (!post && !get) {
      // the status page and its API, served from the routes of the pipeline's HTTP server
      if ((req.method === 'GET' || req.method === 'HEAD') && this.prometheus !== undefined && (await this.prometheus.serveRoute(req, res)))
        return;
      this.sendError(res, new HttpError(404, `no route ${path}`, 'invalid_request_error', 'not_found', 'not_found'));
      return;
    }
    const allowed = post ? 'POST' : 'GET, HEAD';
    if (post ? req.method !== 'POST' : req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: allowed, 'Content-Type': 'application/json' });
      res.end(errorBody(`use ${allowed}`, 'invalid_request_error', 'method_not_allowed'));
      return;
    }
    if (path === '/metrics') {
      if (this.prometheus !== undefined) await this.prometheus.handleMetrics(req, res);
      else this.sendError(res, new HttpError(404, 'no Prometheus exporter', 'invalid_request_error', 'not_found', 'not_found'));
      return;
    }
    if (path === '/v1/models') {
      this.sendJson(res, 200, modelsBody(this.registry.models().map((m) => ({ id: m.name, created: m.created }))));
      return;
    }
    if (path === '/health' || path === '/live') {
      const models = this.registry.models().map((m) => m.name);
      this.sendJson(res, 200, JSON.stringify(path === '/live' ? { status: 'live' } : { status: 'healthy', models }));
      return;
    }
    await this.infer(path === '/v1/chat/completions' ? 'chat_completions' : 'completions', req, res);
  }

  /** One completion request, from its body to its last byte. */
  private async infer(kind: OperationKind, req: IncomingMessage, res: ServerResponse): Promise<void> {
    let request: InferenceRequest;
    let model: ServedModel;
    try {
      request = parseInferenceRequest(kind, await this.readJson(req));
      const m = this.registry.model(request.model);
      if (m === undefined)
        throw new HttpError(
          404,
          `The model \`${request.model}\` does not exist.`,
          'invalid_request_error',
          'model_not_found',
          'not_found',
          'model',
        );
      model = m;
    } catch (err) {
      // before a model is known nothing is counted per model: a client's made-up names would be labels
      this.sendError(
        res,
        err instanceof HttpError
          ? err
          : new HttpError(
              400,
              errorMessage(err),
              'invalid_request_error',
              null,
              'validation',
              err instanceof InvalidRequestError ? err.param : null,
            ),
      );
      return;
    }
    const measure: Measure =
      this.opts.instrumented === false
        ? new UnmeasuredRequest()
        : this.metrics.begin(model.name, kind, request.stream ? 'stream' : 'unary');
    const abort = new AbortController();
    res.once('close', () => {
      if (res.writableFinished) return;
      abort.abort();
      if (this.opts.instrumented !== false) this.metrics.disconnectedClients++;
      measure.end('error', 'cancelled');
    });
    try {
      const prompt = request.messages !== undefined ? renderChat(request.messages) : (request.prompt ?? '');
      const tokenIds = tokenize(prompt);
      const limit = model.card.contextLength;
      if (limit > 0 && tokenIds.length + request.maxTokens > limit)
        throw new HttpError(
          400,
          `${tokenIds.length} prompt tokens and max_tokens ${request.maxTokens} exceed the model's context length ${limit}`,
          'invalid_request_error',
          'context_length_exceeded',
          'validation',
          'max_tokens',
        );
      const client = await this.client(model);
      const decision = this.pickInstance(model, tokenIds);
      res.once('close', () => this.router.done(decision.instance));
      const stream = client.direct(
        {
          model: model.name,
          token_ids: tokenIds,
          stop_conditions: { max_tokens: request.maxTokens },
          sampling_options: {},
          output_options: {},
        },
        decision.instance,
        { signal: abort.signal, ...(this.opts.workerTimeoutMs !== undefined ? { timeoutMs: this.opts.workerTimeoutMs } : {}) },
      );
      const id = `${kind === 'chat_completions' ? 'chatcmpl' : 'cmpl'}-${Date.now().toString(36)}${(this.seq++).toString(36)}`;
      const created = Math.floor(Date.now() / 1000);
      await (request.stream
        ? this.relayStream(res, stream, request, tokenIds.length, measure, id, created, abort.signal)
        : this.respondWhole(res, stream, request, tokenIds.length, measure, id, created));
    } catch (err) {
      if (abort.signal.aborted) return; // the client left: counted at 'close' (a cancellation from elsewhere is a failure)
      const e = err instanceof HttpError ? err : workerFailure(err);
      measure.end('error', e.errorType);
      if (!res.headersSent) this.sendError(res, e);
      else {
        // mid-stream: an error event, then the end of the stream
        res.end(`data: ${errorBody(e.message, e.type, e.code)}\n\n`);
      }
    }
  }

  /** Server-sent events: one chunk per engine chunk, the usage chunk when asked, then `[DONE]`. */
  private async relayStream(
    res: ServerResponse,
    stream: AsyncIterable<{ json<T>(): T }>,
    request: InferenceRequest,
    isl: number,
    measure: Measure,
    id: string,
    created: number,
    signal: AbortSignal,
  ): Promise<void> {
    let first = true;
    let usage: Usage | undefined;
    for await (const chunk of stream) {
      const c = chunk.json<EngineChunk>();
      const n = Array.isArray(c.token_ids) ? c.token_ids.length : 0;
      if (first) {
        res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' });
      }
      const finish = typeof c.finish_reason === 'string' ? c.finish_reason : null;
      // the chunks of one turn of the event loop leave in one write (one system call, not one each)
      if (!res.writableCorked) {
        res.cork();
        setImmediate(() => res.uncork());
      }
      const ok = res.write(
        `data: ${streamChunk(request.kind, id, request.model, created, typeof c.text === 'string' ? c.text : '', finish, first)}\n\n`,
      );
      first = false;
      measure.tokensSent(n, isl);
      usage = this.usage(c, measure) ?? usage;
      if (!ok && !signal.aborted) await Promise.race([once(res, 'drain'), once(res, 'close')]);
      if (signal.aborted) return;
    }
    if (first) res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' });
    if (request.includeUsage) {
      const u = usage ?? { prompt_tokens: isl, completion_tokens: measure.tokens, total_tokens: isl + measure.tokens };
      res.write(`data: ${usageChunk(request.kind, id, request.model, created, u)}\n\n`);
    }
    measure.end('success', '');
    res.end('data: [DONE]\n\n');
  }

  /** One JSON response with the whole text and the usage. */
  private async respondWhole(
    res: ServerResponse,
    stream: AsyncIterable<{ json<T>(): T }>,
    request: InferenceRequest,
    isl: number,
    measure: Measure,
    id: string,
    created: number,
  ): Promise<void> {
    let text = '';
    let finish: string | null = null;
    let usage: Usage | undefined;
    for await (const chunk of stream) {
      const c = chunk.json<EngineChunk>();
      measure.tokensSent(Array.isArray(c.token_ids) ? c.token_ids.length : 0, isl);
      if (typeof c.text === 'string') text += c.text;
      if (typeof c.finish_reason === 'string') finish = c.finish_reason;
      usage = this.usage(c, measure) ?? usage;
    }
    const u = usage ?? { prompt_tokens: isl, completion_tokens: measure.tokens, total_tokens: isl + measure.tokens };
    measure.end('success', '');
    this.sendJson(res, 200, completionBody(request.kind, id, request.model, created, text, finish, u));
  }

  /** The usage of a chunk that carries one (the last), its cached tokens observed. */
  private usage(c: EngineChunk, measure: Measure): Usage | undefined {
    const u = c.completion_usage;
    if (u === undefined || u === null) return undefined;
    const prompt = nonNegativeInt(u.prompt_tokens);
    const completion = nonNegativeInt(u.completion_tokens);
    const cached = nonNegativeInt(u.prompt_tokens_details?.cached_tokens);
    measure.cachedTokens(cached);
    return {
      prompt_tokens: prompt,
      completion_tokens: completion,
      total_tokens: prompt + completion,
      prompt_tokens_details: { cached_tokens: cached },
    };
  }

  /** The instance of the model for this prompt, as the router mode decides. */
  private pickInstance(model: ServedModel, tokenIds: readonly number[]): RouteDecision {
    if (this.routerAt !== this.registry.generation) this.syncRouter();
    return this.router.route(model.instances, tokenIds, model.card.kvCacheBlockSize);
  }

  /**
   * Once per change of the cards, not on every request: the router forgets departed instances,
   * and in `least-loaded` mode the load subjects of new endpoints are followed.
   */
  private syncRouter(): void {
    const models = this.registry.models();
    this.known = new Set(models.flatMap((m) => m.instances));
    this.router.retain(this.known);
    this.routerAt = this.registry.generation;
    if (this.router.mode !== 'least-loaded') return;
    for (const m of models) {
      for (const [subject, byEndpoint] of [
        [endpointEventSubject(m.namespace, m.component, m.endpoint, KV_METRICS_TOPIC), true],
        [componentEventSubject(m.namespace, m.component, KV_METRICS_TOPIC), false],
      ] as const) {
        if (this.loadSubs.has(subject)) continue;
        const sub = this.drt.nats.subscribe(subject, {
          callback: (err, msg) => (err === null ? this.onLoad(msg.data, byEndpoint) : undefined),
        });
        this.loadSubs.set(subject, sub);
      }
    }
  }

  /**
   * A model card appeared or changed: in `least-loaded` mode the router follows the new
   * endpoints' load subjects now (on the next turn, once the registry's view has the card), so
   * that their load is known before their first request.
   */
  cardsChanged(): void {
    if (this.router.mode !== 'least-loaded' || this.syncScheduled) return;
    this.syncScheduled = true;
    setImmediate(() => {
      this.syncScheduled = false;
      if (!this.closed && this.routerAt !== this.registry.generation) this.syncRouter();
    });
  }

  /** How the router picks a worker. */
  get routerMode(): RouterMode {
    return this.router.mode;
  }

  /** What the router knows of `instance`'s published load (`least-loaded`). */
  publishedLoad(instance: bigint): ReturnType<Router['loadOf']> {
    return this.router.loadOf(instance);
  }

  /**
   * A worker's load event: believed for a registered instance, else dropped and counted. On a
   * component's subject an unknown id is only ignored: it may be a worker of another endpoint of
   * that component (a prefill worker beside the model's decode workers).
   */
  private onLoad(body: Uint8Array, byEndpoint: boolean): void {
    const r = decodeLoadEvent(body);
    if (typeof r === 'string') this.refuseLoad(r);
    else if (!this.known.has(r.workerId)) {
      if (byEndpoint) this.refuseLoad('unregistered_worker');
    } else
      this.router.observeLoad(
        r.workerId,
        {
          waiting: r.metrics.numRequestsWaiting ?? 0,
          decodeBlocks: r.decodeBlocks ?? r.metrics.kvActiveBlocks ?? 0,
          prefillTokens: r.prefillTokens ?? 0,
        },
        r.dpRank ?? 0,
      );
  }

  private refuseLoad(reason: LoadEventRejectReason): void {
    this.metrics.loadEventRejected(reason);
    log.rateLimited('warn', `load-${reason}`, 'dropped a load event', { reason });
  }

  private client(model: ServedModel): Promise<Client> {
    const key = `${model.namespace}/${model.component}/${model.endpoint}`;
    let c = this.clients.get(key);
    if (c === undefined) {
      c = this.drt.namespace(model.namespace).component(model.component).endpoint(model.endpoint).client();
      this.clients.set(key, c);
      c.catch(() => this.clients.delete(key));
    }
    return c;
  }

  private async readJson(req: IncomingMessage): Promise<unknown> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_REQUEST_BODY_BYTES)
        throw new HttpError(
          413,
          `the request body is larger than ${MAX_REQUEST_BODY_BYTES} bytes`,
          'invalid_request_error',
          'too_large',
          'validation',
        );
      chunks.push(chunk);
    }
    try {
      return JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch (err) {
      throw new InvalidRequestError(`the request body is not JSON: ${errorMessage(err)}`);
    }
  }

  private sendJson(res: ServerResponse, status: number, body: string): void {
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  }

  private sendError(res: ServerResponse, e: HttpError): void {
    this.sendJson(res, e.status, errorBody(e.message, e.type, e.code, e.param));
  }
}
