/**
 * Connecting to NATS and etcd from explicit options or the environment (docs/wire-protocol.md §3–4), with a
 * one-line error when a server cannot be reached.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  connect,
  credsAuthenticator,
  nkeyAuthenticator,
  nkeys,
  type NatsConnection,
  type NodeConnectionOptions,
} from '@nats-io/transport-node';
import { circuitBreaker, ConsecutiveBreaker, ExponentialBackoff, handleWhen } from 'cockatiel';
import { Etcd3, type IOptions as EtcdClientOptions, isRecoverableError } from 'etcd3';
import { withoutIpServerNames } from '../grpcServerName.ts';
import { PEM_CERTIFICATE, readPem } from './pem.ts';
import { serverRequiresTls } from './natsServerInfo.ts';
import { LeaseKeepAlive } from './LeaseKeepAlive.ts';
import { EtcdUnavailableError, NatsUnavailableError } from './errors.ts';
import { errorMessage } from '../errors.ts';
import { redactText, redactUrl, registerSecret, registerUrlSecrets, safeDecode } from '../redact.ts';

import {
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_ETCD_ENDPOINTS,
  DEFAULT_ETCD_RETRY_AFTER_MS,
  DEFAULT_ETCD_WATCH_MAX_BACKOFF_MS,
  DEFAULT_NATS_SERVER,
  DEFAULT_RECONNECT_WAIT_MS,
} from './defaults.ts';

export { DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_ETCD_ENDPOINTS, DEFAULT_NATS_SERVER, DEFAULT_RECONNECT_WAIT_MS };

export interface NatsOptions {
  /** Server URLs; from `NATS_SERVER` (comma list). */
  servers: string[];
  user?: string | undefined;
  pass?: string | undefined;
  token?: string | undefined;
  /** A `.creds` file (`NATS_AUTH_CREDENTIALS_FILE`). */
  credentialsFile?: string | undefined;
  /** A user NKEY seed, `SU…` (`NATS_AUTH_NKEY`, as Dynamo reads it). */
  nkeySeed?: string | undefined;
  /** CA certificate(s) that sign the server's certificate: a path or PEM text (`NATS_CA`). */
  tlsCa?: string | undefined;
  /** Client certificate for mutual TLS: a path or PEM text (`NATS_CERT`). */
  tlsCert?: string | undefined;
  /** The client certificate's key: a path or PEM text (`NATS_KEY`). */
  tlsKey?: string | undefined;
  /**
   * A file of CA certificates trusted system-wide (`SSL_CERT_FILE`, as OpenSSL and the Rust
   * client of Dynamo's processes read it): used for TLS to NATS when `tlsCa` is not given.
   */
  sslCertFile?: string | undefined;
  /** Directories of CA certificates (`SSL_CERT_DIR`, `:`-separated), used as `sslCertFile` is. */
  sslCertDir?: string | undefined;
  /** Connection name shown by the server's monitoring. */
  name?: string | undefined;
}

export interface EtcdOptions {
  /** Endpoint URLs; from `ETCD_ENDPOINTS` (comma list). */
  endpoints: string[];
  username?: string | undefined;
  password?: string | undefined;
  /** CA certificate: a path or PEM text (`ETCD_AUTH_CA`). */
  caFile?: string | undefined;
  /** Client certificate: a path or PEM text (`ETCD_AUTH_CLIENT_CERT`). */
  certFile?: string | undefined;
  /** Client key: a path or PEM text (`ETCD_AUTH_CLIENT_KEY`). */
  keyFile?: string | undefined;
}

function list(v: string | undefined, fallback: string): string[] {
  return (v ?? fallback)
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v === '' ? undefined : v;
}

export function natsOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): NatsOptions {
  return {
    servers: list(env.NATS_SERVER, DEFAULT_NATS_SERVER),
    user: nonEmpty(env.NATS_AUTH_USERNAME),
    pass: nonEmpty(env.NATS_AUTH_PASSWORD),
    token: nonEmpty(env.NATS_AUTH_TOKEN),
    credentialsFile: nonEmpty(env.NATS_AUTH_CREDENTIALS_FILE),
    nkeySeed: nonEmpty(env.NATS_AUTH_NKEY),
    tlsCa: nonEmpty(env.NATS_CA),
    sslCertFile: nonEmpty(env.SSL_CERT_FILE),
    sslCertDir: nonEmpty(env.SSL_CERT_DIR),
    tlsCert: nonEmpty(env.NATS_CERT),
    tlsKey: nonEmpty(env.NATS_KEY),
  };
}

export function etcdOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): EtcdOptions {
  return {
    endpoints: list(env.ETCD_ENDPOINTS, DEFAULT_ETCD_ENDPOINTS),
    username: nonEmpty(env.ETCD_AUTH_USERNAME),
    password: nonEmpty(env.ETCD_AUTH_PASSWORD),
    caFile: nonEmpty(env.ETCD_AUTH_CA),
    certFile: nonEmpty(env.ETCD_AUTH_CLIENT_CERT),
    keyFile: nonEmpty(env.ETCD_AUTH_CLIENT_KEY),
  };
}

/**
 * The server URLs without their userinfo, and the credentials the first URL that has some
 * carries (percent-decoded): `user:pass@` a user and password, `token@` a token. The userinfo
 * runs to the last `@`, so a password may hold `@`, `/` or `:`. Every credential is registered
 * for redaction.
 */
export function splitUrlCredentials(urls: string[]): { servers: string[]; user?: string; pass?: string; token?: string } {
  const out: { servers: string[]; user?: string; pass?: string; token?: string } = { servers: [] };
  for (const raw of urls) {
    registerUrlSecrets(raw);
    const m = /^([a-zA-Z][a-zA-Z0-9+.-]*:\/\/)?(.*)@([^@]*)$/.exec(raw);
    if (m === null) {
      out.servers.push(raw);
      continue;
    }
    out.servers.push(`${m[1] ?? ''}${m[3]}`);
    if (out.user !== undefined || out.token !== undefined) continue;
    // biome-ignore lint/style/noNonNullAssertion: group 2 is not optional in the userinfo pattern
    const info = m[2]!;
    const colon = info.indexOf(':');
    if (colon === -1) out.token = safeDecode(info);
    else {
      out.user = safeDecode(info.slice(0, colon));
      out.pass = safeDecode(info.slice(colon + 1));
    }
  }
  return out;
}

/** Connects to NATS; reconnects forever afterwards. Throws `NatsUnavailableError` at start. */
export async function connectNats(opts: NatsOptions, connectTimeoutMs = DEFAULT_CONNECT_TIMEOUT_MS): Promise<NatsConnection> {
  // credentials in a server URL (`nats://user:pass@host:4222`, `nats://token@host`) are used as
  // the NATS client does not use them itself, and never travel or print as part of the URL
  const { servers, user, pass, token } = splitUrlCredentials(opts.servers);
  for (const secret of [opts.pass, opts.token, pass, token]) registerSecret(secret);
  const co: NodeConnectionOptions = {
    servers,
    ...(opts.name === undefined ? {} : { name: opts.name }),
    timeout: connectTimeoutMs,
    reconnect: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: DEFAULT_RECONNECT_WAIT_MS,
    waitOnFirstConnect: false,
  };
  if (opts.user !== undefined) {
    co.user = opts.user;
    if (opts.pass !== undefined) co.pass = opts.pass;
  } else if (user !== undefined && opts.token === undefined) {
    co.user = user;
    if (pass !== undefined) co.pass = pass;
  }
  if (opts.token !== undefined) co.token = opts.token;
  else if (token !== undefined && opts.user === undefined) co.token = token;
  if (opts.nkeySeed !== undefined) co.authenticator = nkeySeedAuthenticator(opts.nkeySeed);
  else if (opts.credentialsFile !== undefined) {
    let creds: Uint8Array;
    try {
      creds = readFileSync(opts.credentialsFile);
    } catch (err) {
      throw new NatsUnavailableError(`cannot read NATS credentials file ${opts.credentialsFile}: ${errorMessage(err)}`);
    }
    co.authenticator = credsAuthenticator(creds);
  }
  let tls = natsTls(opts);
  if (opts.tlsCa === undefined && (opts.sslCertFile !== undefined || opts.sslCertDir !== undefined)) {
    // Dynamo's Rust processes trust SSL_CERT_FILE/SSL_CERT_DIR for NATS (async-nats loads the
    // system roots through rustls-native-certs, which reads them instead): so does this one. A
    // nats:// server asks for TLS in its INFO; nats.js takes a CA only with a demand for TLS.
    if (tls === undefined && (await anyRequiresTls(servers, connectTimeoutMs))) tls = {};
    if (tls !== undefined) tls.ca = systemTrust(opts);
  }
  if (tls !== undefined) co.tls = tls;
  try {
    return await connect(co);
  } catch (err) {
    throw new NatsUnavailableError(
      `cannot connect to NATS at ${opts.servers.map(redactUrl).join(',')}: ${redactText(errorMessage(err))}; is nats-server running? (set NATS_SERVER or --nats-server)`,
      { cause: err },
    );
  }
}

/** The authenticator of an NKEY seed; a value that is not a user seed is one line that does not echo it. */
function nkeySeedAuthenticator(seed: string): NonNullable<NodeConnectionOptions['authenticator']> {
  registerSecret(seed);
  const bytes = new TextEncoder().encode(seed.trim());
  try {
    nkeys.fromSeed(bytes).getPublicKey();
  } catch {
    throw new NatsUnavailableError('NATS_AUTH_NKEY is not an NKEY seed (expected the SU… seed of a user key)');
  }
  return nkeyAuthenticator(bytes);
}

/**
 * The client's TLS settings: required when a server URL says `tls://` or any TLS material is
 * given; the CA replaces the system roots (a private CA), a certificate with its key makes mutual TLS.
 */
function natsTls(opts: NatsOptions): NonNullable<NodeConnectionOptions['tls']> | undefined {
  const wantsTls = opts.servers.some((s) => /^tls:\/\//i.test(s));
  if (!wantsTls && opts.tlsCa === undefined && opts.tlsCert === undefined && opts.tlsKey === undefined) return undefined;
  if ((opts.tlsCert === undefined) !== (opts.tlsKey === undefined)) {
    throw new NatsUnavailableError(
      'NATS client TLS needs both a certificate (NATS_CERT, --nats-tls-cert) and its key (NATS_KEY, --nats-tls-key)',
    );
  }
  const fail = (message: string): Error => new NatsUnavailableError(message);
  const tls: NonNullable<NodeConnectionOptions['tls']> = {};
  if (opts.tlsCa !== undefined) tls.ca = readPem(opts.tlsCa, 'NATS CA certificate', fail).toString();
  if (opts.tlsCert !== undefined && opts.tlsKey !== undefined) {
    tls.cert = readPem(opts.tlsCert, 'NATS client certificate', fail).toString();
    tls.key = readPem(opts.tlsKey, 'NATS client key', fail).toString();
  }
  return tls;
}

/** Whether any of `servers` says in its INFO that it requires TLS (those that cannot be reached say nothing). */
async function anyRequiresTls(servers: string[], timeoutMs: number): Promise<boolean> {
  const answers = await Promise.all(servers.map((s) => serverRequiresTls(s, timeoutMs)));
  return answers.includes(true);
}

/**
 * The CA certificates of `SSL_CERT_FILE` and of every file in the `SSL_CERT_DIR` directories
 * that holds one, as one PEM text; like rustls-native-certs, they replace the system roots.
 */
function systemTrust(opts: NatsOptions): string {
  const fail = (message: string): Error => new NatsUnavailableError(message);
  const parts: string[] = [];
  if (opts.sslCertFile !== undefined) parts.push(readPem(opts.sslCertFile, 'SSL_CERT_FILE', fail).toString());
  for (const dir of (opts.sslCertDir ?? '').split(':').filter((d) => d !== '')) {
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch {
      continue; // as OpenSSL does: a directory of the list that is not there holds nothing
    }
    for (const name of names) {
      const text = readIfFile(join(dir, name));
      if (text?.includes(PEM_CERTIFICATE)) parts.push(text);
    }
  }
  if (parts.length === 0) throw fail(`SSL_CERT_DIR ${opts.sslCertDir} holds no certificate file (${PEM_CERTIFICATE}…)`);
  return parts.join('\n');
}

/** A regular file's text, or undefined for anything else (a subdirectory, a dangling link). */
function readIfFile(path: string): string | undefined {
  try {
    return statSync(path).isFile() ? readFileSync(path, 'utf8') : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Closes an etcd client and stops the keepalive of any lease still on it (etcd3's `close()` alone
 * leaves open streams renewing them).
 */
export function closeEtcdClient(etcd: Etcd3): void {
  LeaseKeepAlive.of(etcd).close();
  etcd.close();
}

/**
 * etcd3's own policies, with shorter waits once etcd is back: a host whose calls failed three
 * times in a row is tried again after `DEFAULT_ETCD_RETRY_AFTER_MS` (etcd3: 5 s), and a broken
 * watch is reopened within `DEFAULT_ETCD_WATCH_MAX_BACKOFF_MS` (etcd3: up to 30 s). Leases,
 * re-registration and discovery resume within about a second of etcd's return instead of up to
 * 5 s, or 30 s for a watch. Retries (etcd3's three per call) are unchanged.
 */
export function etcdFaultHandling(): NonNullable<EtcdClientOptions['faultHandling']> {
  const watchPauses = new ExponentialBackoff({ maxDelay: DEFAULT_ETCD_WATCH_MAX_BACKOFF_MS });
  return {
    host: () =>
      circuitBreaker(handleWhen(isRecoverableError), {
        halfOpenAfter: DEFAULT_ETCD_RETRY_AFTER_MS,
        breaker: new ConsecutiveBreaker(3),
      }),
    // etcd3 asks this for the first pause, then each pause for the next, as with its default
    watchBackoff: { duration: 0, next: () => watchPauses.next() },
  };
}

/** Builds an etcd client. It connects lazily; `DistributedRuntime` proves the connection by granting its lease. */
export function createEtcdClient(opts: EtcdOptions, connectTimeoutMs = DEFAULT_CONNECT_TIMEOUT_MS): Etcd3 {
  // user:password in an endpoint URL is etcd auth, as ETCD_AUTH_USERNAME/PASSWORD are (those win);
  // the URLs handed to the client carry no credentials.
  const { servers: hosts, user, pass } = splitUrlCredentials(opts.endpoints);
  registerSecret(opts.password);
  const urlAuth = user === undefined ? undefined : { username: user, password: pass ?? '' };
  const co: EtcdClientOptions = {
    hosts,
    dialTimeout: connectTimeoutMs,
    faultHandling: etcdFaultHandling(),
  };
  if (opts.username !== undefined) co.auth = { username: opts.username, password: opts.password ?? '' };
  else if (urlAuth !== undefined) co.auth = urlAuth;
  if (opts.caFile !== undefined || opts.certFile !== undefined || opts.keyFile !== undefined) {
    if ((opts.certFile === undefined) !== (opts.keyFile === undefined)) {
      throw new EtcdUnavailableError('etcd client TLS needs both ETCD_AUTH_CLIENT_CERT and ETCD_AUTH_CLIENT_KEY');
    }
    const fail = (message: string): Error => new EtcdUnavailableError(message);
    co.credentials = {
      // without a CA of its own, the system's roots (grpc-js's default)
      rootCertificate:
        opts.caFile !== undefined ? readPem(opts.caFile, 'etcd CA certificate (ETCD_AUTH_CA)', fail) : (undefined as unknown as Buffer),
      ...(opts.certFile !== undefined
        ? { certChain: readPem(opts.certFile, 'etcd client certificate (ETCD_AUTH_CLIENT_CERT)', fail) }
        : {}),
      ...(opts.keyFile !== undefined ? { privateKey: readPem(opts.keyFile, 'etcd client key (ETCD_AUTH_CLIENT_KEY)', fail) } : {}),
    };
  }
  // etcd3 builds its gRPC credentials in its constructor: an IP endpoint gets no TLS server name
  return withoutIpServerNames(() => new Etcd3(co));
}
