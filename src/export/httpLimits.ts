/**
 * The bounds of every HTTP server of the project (the Prometheus pull server and the system
 * status server): defaults that suit Prometheus, each one an option (docs/configuration.md).
 */

/** Connections served at once; more are refused at accept (Prometheus keeps one per target). */
export const DEFAULT_MAX_CONNECTIONS = 512;
/**
 * Connections one source address may hold at once: by default all of them (clients behind one
 * proxy share an address), since at the global cap a newcomer from a lighter source takes the
 * place of the heaviest source's longest-idle connection anyway.
 */
export const DEFAULT_MAX_CONNECTIONS_PER_SOURCE = DEFAULT_MAX_CONNECTIONS;
/** A request's headers must arrive within this. */
export const DEFAULT_HEADER_TIMEOUT_MS = 10_000;
/** A whole request must arrive within this. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
/** A response must be taken by the client within this, or its connection is cut. */
export const DEFAULT_WRITE_TIMEOUT_MS = 30_000;
/** The most bytes of responses one connection may leave unread before it is cut. */
export const DEFAULT_MAX_UNREAD_BYTES = 32 * 1024 * 1024;
/** Idle keep-alive connections are closed after this (above Prometheus's own keep-alive). */
export const DEFAULT_KEEP_ALIVE_TIMEOUT_MS = 65_000;

export interface HttpLimits {
  maxConnections: number;
  maxConnectionsPerSource: number;
  headerTimeoutMs: number;
  requestTimeoutMs: number;
  writeTimeoutMs: number;
  maxUnreadBytes: number;
}

export const DEFAULT_HTTP_LIMITS: HttpLimits = {
  maxConnections: DEFAULT_MAX_CONNECTIONS,
  maxConnectionsPerSource: DEFAULT_MAX_CONNECTIONS_PER_SOURCE,
  headerTimeoutMs: DEFAULT_HEADER_TIMEOUT_MS,
  requestTimeoutMs: DEFAULT_REQUEST_TIMEOUT_MS,
  writeTimeoutMs: DEFAULT_WRITE_TIMEOUT_MS,
  maxUnreadBytes: DEFAULT_MAX_UNREAD_BYTES,
};
