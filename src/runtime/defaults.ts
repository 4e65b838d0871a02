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
