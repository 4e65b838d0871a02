/**
 * The `INFO` line a NATS server sends first on every connection, before any login: here, whether
 * the server requires TLS. `connectNats` asks it when the only trust it has for TLS is the
 * system-wide `SSL_CERT_FILE`/`SSL_CERT_DIR`: nats.js takes a CA only together with a demand for
 * TLS, and that demand must not be made of a server that does not speak TLS.
 */
import { connect as connectTcp } from 'node:net';
import { parseJson } from './json.ts';

/** The most of the server's first line read before giving up on it (nats-server's INFO is about 500 bytes). */
export const MAX_INFO_LINE_BYTES = 64 * 1024;
/** NATS's client port when a URL names none. */
export const DEFAULT_NATS_PORT = 4222;

/** Host and port of a `nats://` or `tls://` server URL (userinfo already removed), or undefined for another scheme. */
export function natsHostPort(url: string): { host: string; port: number } | undefined {
  const withScheme = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(url) ? url : `nats://${url}`;
  let parsed: URL;
  try {
    parsed = new URL(withScheme);
  } catch {
    return undefined;
  }
  if (parsed.protocol !== 'nats:' && parsed.protocol !== 'tls:') return undefined;
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === '') return undefined;
  return { host, port: parsed.port === '' ? DEFAULT_NATS_PORT : Number(parsed.port) };
}

/** Whether `line` (the server's first line, without its CRLF) is an INFO that requires TLS; undefined if it is no INFO. */
export function infoRequiresTls(line: string): boolean | undefined {
  const m = /^INFO\s+(\{.*\})\s*$/s.exec(line);
  if (m === null) return undefined;
  let info: unknown;
  try {
    // biome-ignore lint/style/noNonNullAssertion: group 1 is not optional
    info = parseJson(m[1]!);
  } catch {
    return undefined;
  }
  if (typeof info !== 'object' || info === null || Array.isArray(info)) return undefined;
  return (info as { tls_required?: unknown }).tls_required === true;
}

/**
 * Reads the first line the server at `url` sends and tells whether it requires TLS; undefined
 * when the server cannot be reached within `timeoutMs` or sends no INFO (the connection attempt
 * that follows reports that).
 */
export function serverRequiresTls(url: string, timeoutMs: number): Promise<boolean | undefined> {
  const at = natsHostPort(url);
  if (at === undefined) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const socket = connectTcp(at);
    let text = '';
    const done = (v: boolean | undefined): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      text += chunk;
      const end = text.indexOf('\r\n');
      if (end !== -1) done(infoRequiresTls(text.slice(0, end)));
      else if (text.length > MAX_INFO_LINE_BYTES) done(undefined);
    });
    socket.on('error', () => done(undefined));
    socket.on('close', () => done(undefined));
  });
}
