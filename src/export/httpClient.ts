/**
 * The HTTP client of the push paths (PushGateway): node:http/https rather than fetch, because
 * fetch refuses URLs that carry credentials and takes no CA or client certificate of its own.
 * Credentials in the URL become an `Authorization` header and never travel in the URL itself.
 */
import { readFileSync } from 'node:fs';
import { registerSecret } from '../redact.ts';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { TimeoutError } from '../errors.ts';

export interface HttpAuth {
  /** Basic auth user; the password comes from `passwordFile` (read at every request). */
  username?: string | undefined;
  passwordFile?: string | undefined;
  /** A bearer token file (read at every request, so a rotated token is picked up). */
  bearerTokenFile?: string | undefined;
}

export interface HttpTls {
  caFile?: string | undefined;
  certFile?: string | undefined;
  keyFile?: string | undefined;
}

export interface HttpResponse {
  status: number;
  statusText: string;
  body: string;
}

/** `url` without its userinfo, and the `Authorization` header the userinfo stood for. */
export function credentialsFromUrl(raw: string): { url: string; authorization: string | undefined } {
  const u = new URL(raw);
  if (u.username === '' && u.password === '') return { url: raw, authorization: undefined };
  const user = decodeURIComponent(u.username);
  const pass = decodeURIComponent(u.password);
  u.username = '';
  u.password = '';
  const url = raw.endsWith('/') ? u.toString() : u.toString().replace(/\/$/, '');
  return { url, authorization: `Basic ${Buffer.from(`${user}:${pass}`, 'utf8').toString('base64')}` };
}

/** The `Authorization` header for `auth`, or for the URL's own credentials. */
export function authorizationHeader(auth: HttpAuth, fromUrl: string | undefined): string | undefined {
  let header = fromUrl;
  if (auth.bearerTokenFile !== undefined) {
    const token = readFileSync(auth.bearerTokenFile, 'utf8').trim();
    registerSecret(token);
    header = `Bearer ${token}`;
  } else if (auth.username !== undefined) {
    const pass = auth.passwordFile !== undefined ? readFileSync(auth.passwordFile, 'utf8').replace(/\r?\n$/, '') : '';
    registerSecret(pass);
    header = `Basic ${Buffer.from(`${auth.username}:${pass}`, 'utf8').toString('base64')}`;
  }
  if (header !== undefined) registerSecret(header.slice(header.indexOf(' ') + 1)); // the encoded form too
  return header;
}

/** One request; the body of the answer is read (at most `maxBody` characters kept). */
export function send(
  url: string,
  opts: {
    method: string;
    headers?: Record<string, string>;
    body?: string | undefined;
    timeoutMs: number;
    tls?: HttpTls | undefined;
    maxBody?: number;
  },
): Promise<HttpResponse> {
  const u = new URL(url);
  const tls = opts.tls ?? {};
  const request = u.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      u,
      {
        method: opts.method,
        headers: { ...opts.headers, ...(opts.body !== undefined ? { 'Content-Length': Buffer.byteLength(opts.body) } : {}) },
        ...(u.protocol === 'https:'
          ? {
              ...(tls.caFile !== undefined ? { ca: readFileSync(tls.caFile) } : {}),
              ...(tls.certFile !== undefined ? { cert: readFileSync(tls.certFile) } : {}),
              ...(tls.keyFile !== undefined ? { key: readFileSync(tls.keyFile) } : {}),
            }
          : {}),
      },
      (res: IncomingMessage) => {
        let body = '';
        const max = opts.maxBody ?? 500;
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          if (body.length < max) body += d.slice(0, max - body.length);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, statusText: res.statusMessage ?? '', body }));
        res.on('error', reject);
      },
    );
    req.setTimeout(opts.timeoutMs, () => req.destroy(new TimeoutError(`no answer within ${opts.timeoutMs} ms`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}
