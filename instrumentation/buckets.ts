/**
 * Bucket layouts of `dynamo_component_request_duration_seconds` (docs/metrics.md §1): the seed's
 * (up to 10 s) stays the default; `llm` reaches 600 s, for generations that run for minutes (the
 * bounds Dynamo's runtime uses now); or explicit bounds. Chosen with `DYN_DURATION_BUCKETS` or the
 * `durationBuckets` instrumentation option. Pure.
 */
import { ValueError } from '../src/config/values.ts';

/** The seed's buckets, in seconds. */
export const DEFAULT_DURATION_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** The LLM layout: the seed's, then up to ten minutes. */
export const LLM_DURATION_BUCKETS: readonly number[] = [...DEFAULT_DURATION_BUCKETS, 30, 60, 120, 300, 600];
/** The environment variable that picks a layout. */
export const DURATION_BUCKETS_ENV = 'DYN_DURATION_BUCKETS';
/** The most explicit bounds accepted (each is a series per endpoint). */
export const MAX_DURATION_BOUNDS = 64;

export const DURATION_LAYOUTS: Readonly<Record<string, readonly number[]>> = {
  default: DEFAULT_DURATION_BUCKETS,
  llm: LLM_DURATION_BUCKETS,
};

/**
 * `default`, `llm`, or comma-separated increasing positive finite seconds (at most
 * `MAX_DURATION_BOUNDS`). Throws `ValueError` (one line) otherwise.
 */
export function parseDurationBuckets(v: unknown): readonly number[] {
  if (typeof v !== 'string') throw new ValueError('must be default, llm or comma-separated seconds');
  const s = v.trim();
  const named = DURATION_LAYOUTS[s.toLowerCase()];
  if (named !== undefined) return named;
  const parts = s.split(',').map((p) => p.trim());
  if (parts.length === 0 || parts.length > MAX_DURATION_BOUNDS || parts.some((p) => p === '')) {
    throw new ValueError(`must be default, llm or 1 to ${MAX_DURATION_BOUNDS} comma-separated seconds`);
  }
  const bounds = parts.map((p) => (/^\d+(\.\d+)?(e[+-]?\d+)?$/i.test(p) ? Number(p) : NaN));
  if (bounds.some((b) => !Number.isFinite(b) || b <= 0)) throw new ValueError('bounds must be positive numbers of seconds');
  if (bounds.some((b, i) => i > 0 && b <= (bounds[i - 1] ?? 0))) throw new ValueError('bounds must increase');
  return bounds;
}
