/**
 * The NATS micro service protocol (`io.nats.micro.v1`), implemented here rather than with
 * nats.js's services module: Dynamo drops an endpoint whose stats lack any of the seven keys
 * (nats.js omits `last_error`), and processing time must cover the whole async handler
 * (nats.js measures only its synchronous part). See docs/wire-protocol.md §4.
 */
import { nuid, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { getLogger } from '../log.ts';
import { encodeJson, parseJson, stringifyJson } from './json.ts';
import { errorMessage, TimeoutError } from '../errors.ts';
import { withTimeout } from '../time.ts';

export const MICRO_VERSION = '0.0.1';
export const QUEUE_GROUP = 'q';
/** How long a STATS reply waits for an endpoint's stats handler before sending `data: null`. */
export const DEFAULT_STATS_HANDLER_TIMEOUT_MS = 500;

const log = getLogger('runtime::micro');
const encoder = new TextEncoder();

/** Request counters of one endpoint, in the units the protocol reports. */
export class EndpointCounters {
  numRequests = 0;
  numErrors = 0;
  lastError = '';
  /** Total handling time in nanoseconds (float until reported). */
  processingTimeNs = 0;

  record(durationNs: number, error?: string): void {
    this.numRequests++;
    this.processingTimeNs += durationNs;
    if (error !== undefined) {
      this.numErrors++;
      this.lastError = error;
    }
  }
}

export type StatsHandler = () => unknown;

/** What the service needs to know about one of its endpoints. */
export interface MicroEndpoint {
  /** Micro endpoint name: the subject with `.` replaced by `-`. */
  readonly name: string;
  readonly subject: string;
  readonly counters: EndpointCounters;
  readonly statsHandler?: StatsHandler | undefined;
}

export interface MicroServiceOptions {
  name: string;
  description: string;
  version?: string;
  metadata?: Record<string, string>;
  statsHandlerTimeoutMs?: number;
}

type Verb = 'PING' | 'INFO' | 'STATS';

export class MicroService {
  readonly id = nuid.next();
  readonly name: string;
  readonly version: string;
  readonly description: string;
  readonly metadata: Readonly<Record<string, string>>;
  readonly started = new Date().toISOString();
  private readonly endpoints = new Map<string, MicroEndpoint>();
  private readonly subs: Subscription[] = [];
  private readonly statsTimeoutMs: number;
  /** The stats reply's text up to its endpoints, written once. */
  private statsHead: string | undefined;
  /** Each endpoint's part of the stats reply that never changes, by endpoint name, written once. */
  private readonly endpointHeads = new Map<string, string>();

  constructor(
    private readonly nc: NatsConnection,
    opts: MicroServiceOptions,
  ) {
    this.name = opts.name;
    this.version = opts.version ?? MICRO_VERSION;
    this.description = opts.description;
    this.metadata = Object.freeze({ ...opts.metadata });
    this.statsTimeoutMs = opts.statsHandlerTimeoutMs ?? DEFAULT_STATS_HANDLER_TIMEOUT_MS;
  }

  /** Subscribes the discovery subjects: `$SRV.{verb}`, `.{name}`, `.{name}.{id}`. */
  start(): void {
    for (const verb of ['PING', 'INFO', 'STATS'] as const) {
      for (const subject of [`$SRV.${verb}`, `$SRV.${verb}.${this.name}`, `$SRV.${verb}.${this.name}.${this.id}`]) {
        this.subs.push(
          this.nc.subscribe(subject, {
            callback: (err, msg) => {
              if (err === null) this.answer(verb, msg);
            },
          }),
        );
      }
    }
  }

  addEndpoint(ep: MicroEndpoint): void {
    this.endpoints.set(ep.name, ep);
    this.endpointHeads.delete(ep.name);
  }

  removeEndpoint(name: string): void {
    this.endpoints.delete(name);
    this.endpointHeads.delete(name);
  }

  stop(): void {
    for (const s of this.subs.splice(0)) s.unsubscribe();
  }

  private answer(verb: Verb, msg: Msg): void {
    if (!msg.reply) return;
    try {
      if (verb === 'STATS') {
        this.answerStats(msg);
        return;
      }
      msg.respond(encodeJson(verb === 'PING' ? this.ping() : this.info()));
    } catch (err) {
      this.answerFailed(verb, err);
    }
  }

  private answerFailed(verb: Verb, err: unknown): void {
    log.rateLimited('warn', `answer-${verb}`, `cannot answer $SRV.${verb}`, { service: this.name, error: errorMessage(err) });
  }

  /**
   * Answers `$SRV.STATS` at once when every stats handler does (thousands of endpoints answer
   * every cycle: no promise, no timer), else once the pending ones settled or timed out.
   */
  private answerStats(msg: Msg): void {
    const eps = [...this.endpoints.values()];
    const datas = eps.map((ep) => this.callStatsHandler(ep));
    if (!datas.some(isThenable)) {
      msg.respond(encoder.encode(this.statsText(eps, datas)));
      return;
    }
    // biome-ignore lint/style/noNonNullAssertion: datas is eps mapped: one entry per endpoint, in order
    void Promise.all(datas.map((d, i) => (isThenable(d) ? this.awaitStatsHandler(eps[i]!, d) : d)))
      .then((settled) => msg.respond(encoder.encode(this.statsText(eps, settled))))
      .catch((err: unknown) => this.answerFailed('STATS', err));
  }

  /** The stats reply (as a consumer reads it): every endpoint carries all seven keys Dynamo requires. */
  async stats(): Promise<Record<string, unknown>> {
    const eps = [...this.endpoints.values()];
    const datas = await Promise.all(
      eps.map((ep) => {
        const d = this.callStatsHandler(ep);
        return isThenable(d) ? this.awaitStatsHandler(ep, d) : d;
      }),
    );
    return parseJson(this.statsText(eps, datas)) as Record<string, unknown>;
  }

  /**
   * The stats reply's text, written straight from its parts (the same text as `encodeJson` of the
   * reply object, keys in the same order): the part that never changes is written once per
   * service and once per endpoint.
   */
  private statsText(eps: readonly MicroEndpoint[], datas: readonly unknown[]): string {
    this.statsHead ??= `{"type":"io.nats.micro.v1.stats_response","name":${JSON.stringify(this.name)},"id":${JSON.stringify(this.id)},"version":${JSON.stringify(this.version)},"started":${JSON.stringify(this.started)},"metadata":${stringifyJson(this.metadata)},"endpoints":[`;
    let s = this.statsHead;
    for (let i = 0; i < eps.length; i++) {
      // biome-ignore lint/style/noNonNullAssertion: i < eps.length
      const ep = eps[i]!;
      let head = this.endpointHeads.get(ep.name);
      if (head === undefined) {
        head = `{"name":${JSON.stringify(ep.name)},"subject":${JSON.stringify(ep.subject)},"queue_group":${JSON.stringify(QUEUE_GROUP)},"num_requests":`;
        this.endpointHeads.set(ep.name, head);
      }
      const c = ep.counters;
      const processing = Math.round(c.processingTimeNs);
      const average = c.numRequests > 0 ? Math.round(processing / c.numRequests) : 0;
      s += `${i > 0 ? ',' : ''}${head}${jsonNumber(c.numRequests)},"num_errors":${jsonNumber(c.numErrors)},"last_error":${JSON.stringify(c.lastError)},"processing_time":${jsonNumber(processing)},"average_processing_time":${jsonNumber(average)},"data":${this.dataText(ep, datas[i])}}`;
    }
    return `${s}]}`;
  }

  /** A handler's data as JSON; null when it cannot be written (a cycle), the other endpoints kept. */
  private dataText(ep: MicroEndpoint, data: unknown): string {
    try {
      return stringifyJson(data ?? null);
    } catch (err) {
      this.statsHandlerFailed(ep, err);
      return 'null';
    }
  }

  /** A stats handler's answer now, or its promise; null when there is no handler or it threw. */
  private callStatsHandler(ep: MicroEndpoint): unknown {
    if (ep.statsHandler === undefined) return null;
    try {
      return ep.statsHandler() ?? null;
    } catch (err) {
      this.statsHandlerFailed(ep, err);
      return null;
    }
  }

  private async awaitStatsHandler(ep: MicroEndpoint, pending: PromiseLike<unknown>): Promise<unknown> {
    try {
      const data = await withTimeout(
        Promise.resolve(pending),
        this.statsTimeoutMs,
        () => new TimeoutError(`stats handler took longer than ${this.statsTimeoutMs} ms`),
      );
      return data ?? null;
    } catch (err) {
      this.statsHandlerFailed(ep, err);
      return null;
    }
  }

  private statsHandlerFailed(ep: MicroEndpoint, err: unknown): void {
    log.rateLimited('warn', `stats-${ep.name}`, 'stats handler failed', { endpoint: ep.name, error: errorMessage(err) });
  }

  ping(): Record<string, unknown> {
    return { type: 'io.nats.micro.v1.ping_response', name: this.name, id: this.id, version: this.version, metadata: this.metadata };
  }

  info(): Record<string, unknown> {
    return {
      type: 'io.nats.micro.v1.info_response',
      name: this.name,
      id: this.id,
      version: this.version,
      description: this.description,
      metadata: this.metadata,
      endpoints: [...this.endpoints.values()].map((ep) => ({
        name: ep.name,
        subject: ep.subject,
        queue_group: QUEUE_GROUP,
        metadata: null,
      })),
    };
  }
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof (v as PromiseLike<unknown> | null | undefined)?.then === 'function';
}

/** A number as JSON writes it (null unless finite). */
function jsonNumber(n: number): string {
  return Number.isFinite(n) ? String(n) : 'null';
}
