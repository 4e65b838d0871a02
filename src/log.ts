/**
 * Logs in the shape of Dynamo's (`2025-03-17T00:07:05.202558Z  INFO metrics: ...`) on stderr,
 * filtered by `DYN_LOG` (error|warn|info|debug|trace, default info), JSON lines when
 * `DYN_LOGGING_JSONL` is truthy. Repeated warnings are rate limited per key.
 */
import { redactText } from './redact.ts';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug' | 'trace';

const LEVELS: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3, trace: 4 };
export const DEFAULT_LOG_LEVEL: LogLevel = 'info';
/** Minimum time between two lines of one rate-limited key. */
export const DEFAULT_RATE_LIMIT_MS = 10_000;
/**
 * The longest line written, newline included: container runtimes (Docker's json-file and
 * journald drivers, CRI's log format) split lines above 16 KiB, which breaks a JSON line in two.
 * A longer line is cut: a text line at the limit with a note, a JSON line keeps its time, level,
 * target and the start of its message, and says how long it was.
 */
export const MAX_LOG_LINE_BYTES = 16 * 1024;
const CUT_MESSAGE_BYTES = 4 * 1024;

export interface LogSink {
  write(line: string): void;
}

interface LogSettings {
  level: number;
  jsonl: boolean;
  sink: LogSink;
}

function parseLevel(v: string | undefined): LogLevel {
  // DYN_LOG may be a filter list like "info,dynamo=debug"; the first bare level wins.
  for (const part of (v ?? '').split(',')) {
    const p = part.trim().toLowerCase();
    if (p in LEVELS) return p as LogLevel;
  }
  return DEFAULT_LOG_LEVEL;
}

/**
 * Why `DYN_LOG` cannot be used, or undefined when it can: a level, or a filter list such as
 * `info,dynamo=debug` whose every part is a level or `target=level`.
 */
export function logFilterProblem(v: string | undefined): string | undefined {
  if (v === undefined || v.trim() === '') return undefined;
  for (const part of v.split(',')) {
    const p = part.trim().toLowerCase();
    const level = p.includes('=') ? p.slice(p.indexOf('=') + 1) : p;
    if (!(level in LEVELS))
      return `DYN_LOG: ${JSON.stringify(v)} has ${JSON.stringify(part.trim())}, which is not a log level; use error, warn, info, debug or trace (or target=level)`;
  }
  return undefined;
}

const settings: LogSettings = {
  level: LEVELS[parseLevel(process.env.DYN_LOG)],
  jsonl: /^(1|true|yes|on)$/i.test(process.env.DYN_LOGGING_JSONL ?? ''),
  sink: { write: (line) => process.stderr.write(line) },
};

/** Changes the log settings of the whole process (tests, CLIs). */
export function configureLogging(opts: { level?: LogLevel; jsonl?: boolean; sink?: LogSink }): void {
  if (opts.level !== undefined) settings.level = LEVELS[opts.level];
  if (opts.jsonl !== undefined) settings.jsonl = opts.jsonl;
  if (opts.sink !== undefined) settings.sink = opts.sink;
}

function timestamp(): string {
  // Microseconds, as Dynamo's tracing subscriber prints.
  const nowMs = performance.timeOrigin + performance.now();
  const iso = new Date(Math.floor(nowMs)).toISOString(); // 2025-03-17T00:07:05.202Z
  const micros = Math.floor((nowMs % 1) * 1000)
    .toString()
    .padStart(3, '0');
  return `${iso.slice(0, -1)}${micros}Z`;
}

export class Logger {
  private readonly lastByKey = new Map<string, { at: number; suppressed: number }>();

  constructor(readonly target: string) {}

  enabled(level: LogLevel): boolean {
    return LEVELS[level] <= settings.level;
  }

  /** Writes one line; every URL in the message and in string fields is redacted (src/redact.ts). */
  log(level: LogLevel, rawMessage: string, rawFields?: Record<string, unknown>): void {
    if (!this.enabled(level)) return;
    const ts = timestamp();
    const message = redactText(rawMessage);
    const fields = rawFields === undefined ? undefined : redactFields(rawFields);
    if (settings.jsonl) {
      const line = `${JSON.stringify({ time: ts, level: level.toUpperCase(), target: this.target, message, ...fields }, jsonSafe)}\n`;
      settings.sink.write(
        fitsLine(line)
          ? line
          : `${JSON.stringify({ time: ts, level: level.toUpperCase(), target: this.target, message: cutBytes(message, CUT_MESSAGE_BYTES), truncated_from_bytes: Buffer.byteLength(line) })}\n`,
      );
      return;
    }
    const extra = fields
      ? ` ${Object.entries(fields)
          .map(([k, v]) => `${k}=${fmt(v)}`)
          .join(' ')}`
      : '';
    const line = `${ts} ${level.toUpperCase().padStart(5)} ${this.target}: ${message}${extra}\n`;
    if (fitsLine(line)) settings.sink.write(line);
    else {
      const note = ` … (line cut: ${Buffer.byteLength(line)} bytes)\n`;
      settings.sink.write(`${cutBytes(line, MAX_LOG_LINE_BYTES - Buffer.byteLength(note)).replace(/\n/g, ' ')}${note}`);
    }
  }

  error(message: string, fields?: Record<string, unknown>): void {
    this.log('error', message, fields);
  }
  warn(message: string, fields?: Record<string, unknown>): void {
    this.log('warn', message, fields);
  }
  info(message: string, fields?: Record<string, unknown>): void {
    this.log('info', message, fields);
  }
  debug(message: string, fields?: Record<string, unknown>): void {
    this.log('debug', message, fields);
  }
  trace(message: string, fields?: Record<string, unknown>): void {
    this.log('trace', message, fields);
  }

  /**
   * Logs at most once per `intervalMs` for `key`; the next line that gets through says how many
   * were suppressed in between. Returns whether this call was logged.
   */
  rateLimited(
    level: LogLevel,
    key: string,
    message: string,
    fields?: Record<string, unknown>,
    intervalMs = DEFAULT_RATE_LIMIT_MS,
  ): boolean {
    if (!this.enabled(level)) return false;
    const now = Date.now();
    const last = this.lastByKey.get(key);
    if (last !== undefined && now - last.at < intervalMs) {
      last.suppressed++;
      return false;
    }
    const suppressed = last?.suppressed ?? 0;
    if (this.lastByKey.size > 1000) this.lastByKey.clear(); // keys come from bounded sets; never grow unbounded
    this.lastByKey.set(key, { at: now, suppressed: 0 });
    this.log(level, suppressed > 0 ? `${message} (${suppressed} similar suppressed)` : message, fields);
    return true;
  }

  /** Forgets a rate-limit key so that the next occurrence logs at once. */
  resetRateLimit(key: string): void {
    this.lastByKey.delete(key);
  }
}

function fitsLine(line: string): boolean {
  // a UTF-16 length at most a third of the limit cannot exceed it in UTF-8
  return line.length * 3 <= MAX_LOG_LINE_BYTES || Buffer.byteLength(line) <= MAX_LOG_LINE_BYTES;
}

/** The longest start of `text` of at most `maxBytes` UTF-8 bytes, never cutting a character. */
export function cutBytes(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text);
  if (bytes.length <= maxBytes) return text;
  let end = maxBytes;
  // biome-ignore lint/style/noNonNullAssertion: 0 < end <= maxBytes < bytes.length
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--; // back to a character's first byte
  return bytes.subarray(0, end).toString();
}

function redactFields(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields))
    out[k] = typeof v === 'string' ? redactText(v) : v instanceof Error ? redactText(v.message) : v;
  return out;
}

function jsonSafe(_k: string, v: unknown): unknown {
  return typeof v === 'bigint' ? v.toString() : v;
}

function fmt(v: unknown): string {
  if (typeof v === 'string') return /[\s"=]/.test(v) ? JSON.stringify(v) : v;
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Error) return JSON.stringify(v.message);
  return JSON.stringify(v, jsonSafe) ?? String(v);
}

const loggers = new Map<string, Logger>();
export function getLogger(target: string): Logger {
  let l = loggers.get(target);
  if (l === undefined) {
    l = new Logger(target);
    loggers.set(target, l);
  }
  return l;
}
