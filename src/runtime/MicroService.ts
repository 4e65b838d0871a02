/**
 * The NATS micro service protocol (`io.nats.micro.v1`), implemented here rather than with
 * nats.js's services module: Dynamo drops an endpoint whose stats lack any of the seven keys
 * (nats.js omits `last_error`), and processing time must cover the whole async handler
 * (nats.js measures only its synchronous part). See docs/wire-protocol.md §4.
 */
import { nuid, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { getLogger } from '../log.ts';
import { encodeJson } from './json.ts';
import { errorMessage, TimeoutError } from '../errors.ts';
import { withTimeout } from '../time.ts';

export const MICRO_VERSION = '0.0.1';
export const QUEUE_GROUP = 'q';
/** How long a STATS reply waits for an endpoint's stats handler before sending `data: null`. */
export const DEFAULT_STATS_HANDLER_TIMEOUT_MS = 500;

const log = getLogger('runtime::micro');

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
  readonly statsHandler?: StatsHandler;
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
  readonly metadata: Record<string, string>;
  readonly started = new Date().toISOString();
  private readonly endpoints = new Map<string, MicroEndpoint>();
  private readonly subs: Subscription[] = [];
  private readonly statsTimeoutMs: number;

  constructor(
    private readonly nc: NatsConnection,
    opts: MicroServiceOptions,
  ) {
    this.name = opts.name;
    this.version = opts.version ?? MICRO_VERSION;
    this.description = opts.description;
    this.metadata = opts.metadata ?? {};
    this.statsTimeoutMs = opts.statsHandlerTimeoutMs ?? DEFAULT_STATS_HANDLER_TIMEOUT_MS;
  }

  /** Subscribes the discovery subjects: `$SRV.{verb}`, `.{name}`, `.{name}.{id}`. */
  start(): void {
    for (const verb of ['PING', 'INFO', 'STATS'] as const) {
      for (const subject of [`$SRV.${verb}`, `$SRV.${verb}.${this.name}`, `$SRV.${verb}.${this.name}.${this.id}`]) {
        this.subs.push(
          this.nc.subscribe(subject, {
            callback: (err, msg) => {
              if (err === null) void this.answer(verb, msg);
            },
          }),
        );
      }
    }
  }

  addEndpoint(ep: MicroEndpoint): void {
    this.endpoints.set(ep.name, ep);
  }

  removeEndpoint(name: string): void {
    this.endpoints.delete(name);
  }

  stop(): void {
    for (const s of this.subs.splice(0)) s.unsubscribe();
  }

  private async answer(verb: Verb, msg: Msg): Promise<void> {
    if (!msg.reply) return;
    try {
      const body = verb === 'PING' ? this.ping() : verb === 'INFO' ? this.info() : await this.stats();
      msg.respond(encodeJson(body));
    } catch (err) {
      log.rateLimited('warn', `answer-${verb}`, `cannot answer $SRV.${verb}`, { service: this.name, error: errorMessage(err) });
    }
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

  /** The stats reply: every endpoint carries all seven keys Dynamo requires. */
  async stats(): Promise<Record<string, unknown>> {
    const endpoints = await Promise.all(
      [...this.endpoints.values()].map(async (ep) => {
        const c = ep.counters;
        const processing = Math.round(c.processingTimeNs);
        return {
          name: ep.name,
          subject: ep.subject,
          queue_group: QUEUE_GROUP,
          num_requests: c.numRequests,
          num_errors: c.numErrors,
          last_error: c.lastError,
          processing_time: processing,
          average_processing_time: c.numRequests > 0 ? Math.round(processing / c.numRequests) : 0,
          data: await this.statsData(ep),
        };
      }),
    );
    return {
      type: 'io.nats.micro.v1.stats_response',
      name: this.name,
      id: this.id,
      version: this.version,
      started: this.started,
      metadata: this.metadata,
      endpoints,
    };
  }

  private async statsData(ep: MicroEndpoint): Promise<unknown> {
    if (ep.statsHandler === undefined) return null;
    try {
      // a synchronous handler needs no timer (thousands of endpoints answer every cycle)
      const now = ep.statsHandler();
      if (typeof (now as PromiseLike<unknown> | null | undefined)?.then !== 'function') return now ?? null;
      const data = await withTimeout(
        Promise.resolve(now),
        this.statsTimeoutMs,
        () => new TimeoutError(`stats handler took longer than ${this.statsTimeoutMs} ms`),
      );
      return data ?? null;
    } catch (err) {
      log.rateLimited('warn', `stats-${ep.name}`, 'stats handler failed', { endpoint: ep.name, error: errorMessage(err) });
      return null;
    }
  }
}
