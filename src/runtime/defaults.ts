/**
 * Where a process looks for NATS and etcd unless told otherwise, and how long it tries
 * (docs/wire-protocol.md §3–4). A module of its own so that reading them (option tables, --help)
 * loads neither client library.
 */
export const DEFAULT_NATS_SERVER = 'nats://localhost:4222';
export const DEFAULT_ETCD_ENDPOINTS = 'http://localhost:2379';
/** How long connecting at start may take before the process gives up with an error. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
/** Pause between reconnect attempts; long-running processes retry forever. */
export const DEFAULT_RECONNECT_WAIT_MS = 1_000;
/** The etcd layouts endpoints register in unless `DYN_DISCOVERY_LAYOUTS` says otherwise. */
export const DEFAULT_DISCOVERY_LAYOUTS = ['instances'] as const;
/**
 * After three etcd calls in a row failed, how long the client sends none before trying one again
 * (etcd3's circuit breaker waits 5 s, so the first call after etcd returns could wait that long).
 */
export const DEFAULT_ETCD_RETRY_AFTER_MS = 1_000;
/**
 * Longest pause before a broken etcd watch is opened again (etcd3's default backoff grows to 30 s
 * over an outage, which left discovery blind that long after etcd returned).
 */
export const DEFAULT_ETCD_WATCH_MAX_BACKOFF_MS = 2_000;
