/**
 * The web config file of Prometheus exporters (exporter-toolkit's `--web.config.file`), for the
 * project's own HTTP servers: TLS (`tls_server_config`: `cert_file`, `key_file`, optionally
 * `client_ca_file` with `client_auth_type`, `min_version`) and basic auth (`basic_auth_users`:
 * user → bcrypt hash). Relative paths are relative to the file, as the toolkit reads them.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import type { SecureContextOptions, TlsOptions } from 'node:tls';
import { dirname, resolve } from 'node:path';
import bcrypt from 'bcryptjs';
import { parse as parseYaml } from 'yaml';
import { ConfigError, errorMessage } from '../errors.ts';

/** Successful bcrypt checks kept, so that a scraper's every request does not cost a bcrypt round. */
export const AUTH_CACHE_SIZE = 64;
/** bcrypt comparisons run at once (each costs about 0.2 s of CPU at cost 10); more wait. */
export const MAX_BCRYPT_IN_FLIGHT = 2;
/** Comparisons that may wait for a turn; beyond, a request with uncached credentials is refused at once. */
export const MAX_BCRYPT_QUEUED = 16;
/** Failed attempts a source address may make per window before it is refused without a comparison. */
export const MAX_FAILURES_PER_SOURCE = 10;
export const FAILURE_WINDOW_MS = 60_000;
/** Source addresses whose failures are remembered (the oldest forgotten first). */
export const MAX_TRACKED_SOURCES = 10_000;

const CLIENT_AUTH = [
  'NoClientCert',
  'RequestClientCert',
  'RequireAnyClientCert',
  'VerifyClientCertIfGiven',
  'RequireAndVerifyClientCert',
] as const;
const TLS_VERSIONS: Record<string, SecureContextOptions['minVersion']> = {
  TLS10: 'TLSv1',
  TLS11: 'TLSv1.1',
  TLS12: 'TLSv1.2',
  TLS13: 'TLSv1.3',
};

export interface WebConfig {
  /** Options for `https.createServer`, or undefined for plain HTTP. */
  tls: TlsOptions | undefined;
  /** user → bcrypt hash; empty for no authentication. */
  users: ReadonlyMap<string, string>;
}

const KNOWN_TOP = new Set(['tls_server_config', 'basic_auth_users', 'http_server_config']);
const KNOWN_TLS = new Set([
  'cert_file',
  'key_file',
  'client_ca_file',
  'client_auth_type',
  'min_version',
  'max_version',
  'cipher_suites',
  'curve_preferences',
  'prefer_server_cipher_suites',
]);

/** Reads and checks a web config file; every problem is one `ConfigError` naming the file. */
export function loadWebConfig(path: string): WebConfig {
  const fail = (what: string): never => {
    throw new ConfigError(`web config ${path}: ${what}`);
  };
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(path, 'utf8'));
  } catch (err) {
    fail(errorMessage(err));
  }
  if (doc === null || doc === undefined) return { tls: undefined, users: new Map() };
  if (typeof doc !== 'object' || Array.isArray(doc)) fail('the top level must be a mapping');
  const top = doc as Record<string, unknown>;
  for (const k of Object.keys(top)) if (!KNOWN_TOP.has(k)) fail(`unknown key ${k}; known keys: ${[...KNOWN_TOP].join(', ')}`);
  const base = dirname(path);
  const file = (key: string, v: unknown): Buffer => {
    if (typeof v !== 'string' || v === '') fail(`${key} must be a file path`);
    try {
      return readFileSync(resolve(base, v as string));
    } catch {
      return fail(`cannot read ${key} ${JSON.stringify(v)}`);
    }
  };

  let tls: TlsOptions | undefined;
  const t = top.tls_server_config as Record<string, unknown> | undefined;
  if (t !== undefined && t !== null) {
    if (typeof t !== 'object') fail('tls_server_config must be a mapping');
    for (const k of Object.keys(t)) if (!KNOWN_TLS.has(k)) fail(`unknown key tls_server_config.${k}`);
    tls = { cert: file('tls_server_config.cert_file', t.cert_file), key: file('tls_server_config.key_file', t.key_file) };
    const auth = (t.client_auth_type ?? (t.client_ca_file !== undefined ? 'RequireAndVerifyClientCert' : 'NoClientCert')) as string;
    if (!(CLIENT_AUTH as readonly string[]).includes(auth))
      fail(`tls_server_config.client_auth_type ${JSON.stringify(auth)} is not one of ${CLIENT_AUTH.join(', ')}`);
    if (auth !== 'NoClientCert') {
      tls.requestCert = true;
      tls.rejectUnauthorized = auth === 'RequireAndVerifyClientCert' || auth === 'RequireAnyClientCert';
      if (t.client_ca_file !== undefined) tls.ca = file('tls_server_config.client_ca_file', t.client_ca_file);
      else if (auth === 'RequireAndVerifyClientCert' || auth === 'VerifyClientCertIfGiven')
        fail(`client_auth_type ${auth} needs client_ca_file`);
    }
    if (t.min_version !== undefined) {
      const v = TLS_VERSIONS[String(t.min_version)];
      if (v === undefined)
        fail(`tls_server_config.min_version ${JSON.stringify(t.min_version)} is not one of ${Object.keys(TLS_VERSIONS).join(', ')}`);
      tls.minVersion = v;
    } else tls.minVersion = 'TLSv1.2';
  }

  const users = new Map<string, string>();
  const u = top.basic_auth_users;
  if (u !== undefined && u !== null) {
    if (typeof u !== 'object' || Array.isArray(u)) fail('basic_auth_users must be a mapping of user to bcrypt hash');
    for (const [name, hash] of Object.entries(u as Record<string, unknown>)) {
      // $2a$, $2b$ and $2y$ are what the bcrypt library here checks; $2x$ (and $2$) it cannot, so
      // they are refused now rather than answering 500 to every request
      if (typeof hash !== 'string' || !/^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/.test(hash))
        fail(`basic_auth_users.${name} is not a bcrypt hash of version 2a, 2b or 2y`);
      users.set(name, hash as string);
    }
  }
  return { tls, users };
}

/**
 * Checks the Basic credentials of requests against `users`:
 *
 * - a successful check is cached (by a hash of the header), so a scraper costs one bcrypt round;
 * - an unknown user is compared against a dummy hash of the same cost, so that users cannot be
 *   told from non-users by the time of the answer (as exporter-toolkit does);
 * - at most `MAX_BCRYPT_IN_FLIGHT` comparisons run at once and `MAX_BCRYPT_QUEUED` wait; a
 *   source address with `MAX_FAILURES_PER_SOURCE` failures in the window is refused without a
 *   comparison. A flood of wrong passwords therefore costs a bounded amount of CPU, and a scraper
 *   with cached credentials always gets in.
 */
export class BasicAuthGate {
  private readonly ok = new Set<string>();
  private readonly failures = new Map<string, { count: number; since: number }>();
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly dummyHash: string;

  constructor(
    private readonly users: ReadonlyMap<string, string>,
    private readonly compare: (password: string, hash: string) => Promise<boolean> = (p, h) => bcrypt.compare(p, h),
    private readonly now: () => number = Date.now,
  ) {
    const first = users.values().next();
    // same version and cost as a real user's hash: a comparison takes as long
    this.dummyHash = `${first.done === true ? '$2b$10$' : first.value.slice(0, 7)}${'O'.repeat(53)}`;
  }

  get enabled(): boolean {
    return this.users.size > 0;
  }

  async allows(req: IncomingMessage): Promise<boolean> {
    if (!this.enabled) return true;
    const credentials = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
    if (credentials === undefined) return false;
    const key = createHash('sha256').update(credentials).digest('hex');
    if (this.ok.has(key)) return true;
    const source = req.socket.remoteAddress ?? '';
    if (this.tooManyFailures(source)) return false;
    const decoded = Buffer.from(credentials, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const user = colon < 0 ? decoded : decoded.slice(0, colon);
    const hash = this.users.get(user);
    const good = await this.compareInTurn(colon < 0 ? '' : decoded.slice(colon + 1), hash ?? this.dummyHash);
    if (good === undefined) return false; // too many waiting: refused without a comparison
    if (!good || hash === undefined || colon < 0) {
      this.fail(source);
      return false;
    }
    if (this.ok.size >= AUTH_CACHE_SIZE) this.ok.clear();
    this.ok.add(key);
    return true;
  }

  private tooManyFailures(source: string): boolean {
    const f = this.failures.get(source);
    if (f === undefined) return false;
    if (this.now() - f.since > FAILURE_WINDOW_MS) {
      this.failures.delete(source);
      return false;
    }
    return f.count >= MAX_FAILURES_PER_SOURCE;
  }

  private fail(source: string): void {
    const f = this.failures.get(source);
    if (f !== undefined && this.now() - f.since <= FAILURE_WINDOW_MS) f.count++;
    else {
      this.failures.delete(source);
      const oldest = this.failures.keys().next();
      if (this.failures.size >= MAX_TRACKED_SOURCES && oldest.done !== true) this.failures.delete(oldest.value);
      this.failures.set(source, { count: 1, since: this.now() });
    }
  }

  /** One comparison in the bounded pool; undefined when the queue is full. */
  private async compareInTurn(password: string, hash: string): Promise<boolean | undefined> {
    if (this.inFlight >= MAX_BCRYPT_IN_FLIGHT) {
      if (this.waiting.length >= MAX_BCRYPT_QUEUED) return undefined;
      await new Promise<void>((resolve) => this.waiting.push(resolve)); // the finishing one hands its slot over
    } else this.inFlight++;
    try {
      return await this.compare(password, hash).catch(() => false);
    } finally {
      const next = this.waiting.shift();
      if (next !== undefined) next();
      else this.inFlight--;
    }
  }
}
