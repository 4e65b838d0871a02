/**
 * The status pages' files (`static/` at the package root: HTML, script, style sheet), read and
 * gzipped once when a server starts and served from memory with an ETag: no work per request
 * beyond a header comparison, nothing fetched from elsewhere. HTML carries a Content-Security-
 * Policy that lets the page load only its own script and style and talk only to its own origin.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { IncomingMessage } from 'node:http';
import type { RouteAnswer, RouteHandler } from './MetricsHttpServer.ts';

/** The folder of the pages' files, at the package root. */
export const STATIC_DIR = 'static';

/** Same origin only; no inline script or style; not framed. */
export const PAGE_CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** Headers every answer of the pages carries (the JSON API too). */
export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-cache',
};

/** The package root: the nearest folder above this module holding `package.json` and `static/`. */
export function packageRoot(from: string = fileURLToPath(import.meta.url)): string {
  let dir = dirname(from);
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, STATIC_DIR))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error(`cannot find the package's ${STATIC_DIR}/ folder above ${from}`);
    dir = up;
  }
}

/** The package's version (its package.json), 'unknown' if it cannot be read. */
export function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export class StaticAsset {
  readonly etag: string;
  private readonly answer: RouteAnswer;
  private readonly notModified: RouteAnswer;

  constructor(
    readonly name: string,
    body: Buffer,
  ) {
    const type = CONTENT_TYPES[extname(name)] ?? 'application/octet-stream';
    this.etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
    const headers: Record<string, string> = { ...PAGE_HEADERS, 'Content-Type': type, ETag: this.etag };
    if (type.startsWith('text/html')) {
      headers['Content-Security-Policy'] = PAGE_CONTENT_SECURITY_POLICY;
      headers['X-Frame-Options'] = 'DENY';
    }
    this.answer = { status: 200, headers, body, gzipped: gzipSync(body) };
    this.notModified = { status: 304, headers: { ...PAGE_HEADERS, ETag: this.etag }, body: Buffer.alloc(0) };
  }

  /** Reads `static/<name>` of the package. */
  static load(name: string, root: string = packageRoot()): StaticAsset {
    return new StaticAsset(name, readFileSync(join(root, STATIC_DIR, name)));
  }

  readonly route: RouteHandler = (req: IncomingMessage) => (req.headers['if-none-match'] === this.etag ? this.notModified : this.answer);
}

/** Routes for `files` (path → asset name), each loaded once now. */
export function staticRoutes(files: Readonly<Record<string, string>>, root?: string): Record<string, RouteHandler> {
  return Object.fromEntries(Object.entries(files).map(([path, name]) => [path, StaticAsset.load(name, root).route]));
}

/** A JSON answer of a page's API (gzipped when asked and worth it). */
export function jsonAnswer(value: unknown): RouteAnswer {
  return {
    status: 200,
    headers: { ...PAGE_HEADERS, 'Content-Type': 'application/json; charset=utf-8' },
    body: JSON.stringify(value),
    compressible: true,
  };
}
