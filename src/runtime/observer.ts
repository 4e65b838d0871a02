/**
 * The hook through which every served endpoint reports what happens to its requests. The runtime
 * calls it at the point where each thing really happens; `instrumentation/` turns it into OTel
 * metrics. One observer per endpoint, so nothing per request needs building.
 */

/** Where in the request path a request failed (metrics.md §1). */
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
}

export type EndpointObserverFactory = (id: EndpointIdentity) => EndpointObserver;

export const NOOP_OBSERVER: EndpointObserver = {
  requestStarted() {},
  responseBytes() {},
  error() {},
  requestFinished() {},
};
