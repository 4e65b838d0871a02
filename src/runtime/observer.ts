/**
 * The hooks through which the runtime reports what happens in it. The runtime declares them and
 * calls them where each thing really happens; an instrumentation (`instrumentation/` turns them
 * into OTel metrics and a status server) implements them and is handed to
 * `DistributedRuntime.connect()`. One observer per endpoint, so nothing per request is built.
 */
import type { MetricsFactory, MetricsScope } from './metricsFactory.ts';

/** Where in the request path a request failed (docs/metrics.md §1). */
export type EndpointErrorType =
  | 'deserialization'
  | 'invalid_message'
  | 'response_stream'
  | 'generate'
  | 'publish_response'
  | 'publish_final';

export const ENDPOINT_ERROR_TYPES: readonly EndpointErrorType[] = [
  'deserialization',
  'invalid_message',
  'response_stream',
  'generate',
  'publish_response',
  'publish_final',
];

export interface EndpointIdentity {
  readonly namespace: string;
  readonly component: string;
  readonly endpoint: string;
}

export interface EndpointObserver {
  /** A request arrived with `requestBytes` of payload. */
  requestStarted(requestBytes: number): void;
  /** A response chunk of `n` payload bytes was handed to NATS. */
  responseBytes(n: number): void;
  /** The request failed at `type`. */
  error(type: EndpointErrorType): void;
  /** The request is over (after the last chunk or the error), whatever the outcome. */
  requestFinished(durationSeconds: number): void;
  /**
   * A streamed response's chunk was handed to NATS: `sinceStartSeconds` from the request's
   * arrival, `sinceLastSeconds` from the previous chunk (undefined for the first).
   */
  streamChunk?(sinceStartSeconds: number, sinceLastSeconds: number | undefined): void;
  /** A streamed response ended (completed, failed or cancelled) after `chunks` chunks. */
  streamFinished?(chunks: number): void;
  /** The client cancelled the request before it was answered in full. */
  cancelled?(): void;
  /**
   * A request whose body named a model (`model`, as in Dynamo's `PreprocessedRequest`) is over.
   * Only an observer that has this hook makes the runtime read the model.
   */
  modelRequestFinished?: ((model: string, outcome: ModelRequestOutcome) => void) | undefined;
}

/** How a request that named a model went (what the GenAI conventions' server instruments record). */
export interface ModelRequestOutcome {
  readonly durationSeconds: number;
  /** From arrival to the first chunk of a streamed response; undefined for a single response or none. */
  readonly firstChunkSeconds: number | undefined;
  /** Chunks of a streamed response (one token each in Dynamo's engine output); 0 for a single response. */
  readonly chunks: number;
  /** Where it failed, `cancelled`, or undefined for a success. */
  readonly errorType: EndpointErrorType | 'cancelled' | undefined;
}

export type EndpointObserverFactory = (id: EndpointIdentity) => EndpointObserver;

/** Why a client request failed (docs/metrics.md §1, "Client side"). */
export type ClientErrorType =
  | 'timeout'
  | 'instance_gone'
  | 'no_responders'
  | 'no_instances'
  | 'remote_error'
  | 'cancelled'
  | 'shutdown'
  | 'other';

export const CLIENT_ERROR_TYPES: readonly ClientErrorType[] = [
  'timeout',
  'instance_gone',
  'no_responders',
  'no_instances',
  'remote_error',
  'cancelled',
  'shutdown',
  'other',
];

/** What a client of one endpoint reports, one observer per endpoint. */
export interface ClientObserver {
  /** A request was sent. */
  requestSent(): void;
  /** Its response ended after `seconds`, completely or with `error`. */
  requestEnded(seconds: number, error: ClientErrorType | undefined): void;
}

export type ClientObserverFactory = (id: EndpointIdentity) => ClientObserver;

export const NOOP_OBSERVER: EndpointObserver = {
  requestStarted() {},
  responseBytes() {},
  error() {},
  requestFinished() {},
};

/** What an instrumentation may ask of a runtime it observes. */
export interface ObservedRuntime {
  readonly instanceId: bigint;
  /** Ready once it serves endpoints and is not shutting down. */
  readiness(): { ready: boolean; endpoints: string[] };
}

/** A served endpoint's stats handler, as an instrumentation may read it at its collections. */
export interface EndpointStatsSource {
  readonly identity: EndpointIdentity;
  /** The worker serving it (its lease id; it changes when a lost lease is replaced). */
  instanceId(): bigint;
  /** Calls the endpoint's stats handler: its ForwardPassMetrics, or a promise of them. */
  read(): unknown;
}

/** Everything a runtime reports to, handed in with `DistributedRuntimeOptions.instrumentation`. */
export interface RuntimeInstrumentation {
  /** The observer of one served endpoint. */
  endpointObserver: EndpointObserverFactory;
  /**
   * An endpoint with a stats handler started serving; the returned function is called when it
   * stops. The handler is only ever read at the instrumentation's collections, never per request.
   */
  endpointStats?(source: EndpointStatsSource): () => void;
  /** Custom metrics for one level of the hierarchy. */
  metrics(scope: MetricsScope): MetricsFactory;
  /** The observer of the clients of one endpoint (none: clients measure nothing). */
  clientObserver?: ClientObserverFactory;
  /** A runtime using this instrumentation connected. */
  runtimeStarted?(runtime: ObservedRuntime): void;
  /** A runtime using this instrumentation shut down (after its endpoints stopped). */
  runtimeStopped?(runtime: ObservedRuntime): Promise<void>;
}
