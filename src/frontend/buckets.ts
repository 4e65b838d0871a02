/**
 * The frontend histograms' bucket layouts as Dynamo sets them (lib/llm/src/http/service/metrics.rs):
 * log-spaced from MIN to MAX in COUNT steps, each bound rounded to two significant figures,
 * duplicates dropped, with a 0 bucket first; each layout can be changed by
 * `DYN_METRICS_{NAME}_{MIN,MAX,COUNT}`. Dynamo warns and keeps its defaults on a bad value; here
 * a bad value is a one-line configuration error, as every other setting. Pure.
 */
import { ConfigError } from '../config/schema.ts';

export interface BucketLayout {
  /** The environment variables' stem, e.g. `DYN_METRICS_TTFT`. */
  readonly env: string;
  readonly min: number;
  readonly max: number;
  readonly count: number;
}

/** Dynamo's defaults, by histogram. */
export const FRONTEND_BUCKET_LAYOUTS = {
  requestDuration: { env: 'DYN_METRICS_REQUEST_DURATION', min: 1, max: 512, count: 10 },
  inputSequence: { env: 'DYN_METRICS_INPUT_SEQUENCE', min: 50, max: 128_000, count: 12 },
  outputSequence: { env: 'DYN_METRICS_OUTPUT_SEQUENCE', min: 50, max: 32_000, count: 10 },
  timeToFirstToken: { env: 'DYN_METRICS_TTFT', min: 0.001, max: 480, count: 18 },
  interTokenLatency: { env: 'DYN_METRICS_ITL', min: 0.001, max: 2, count: 13 },
} as const satisfies Record<string, BucketLayout>;

/** The most buckets a layout may ask for (Dynamo's limit). */
export const MAX_BUCKET_COUNT = 512;

/** `value` rounded to `digits` significant figures. */
export function roundToSignificant(value: number, digits: number): number {
  if (value === 0) return 0;
  const magnitude = Math.floor(Math.log10(Math.abs(value)));
  const exponent = digits - 1 - magnitude;
  // by a power of ten that is exact in binary: 10 ** -4 is not 0.0001 in V8, and 13 / it is not 130000
  if (exponent >= 0) return Math.round(value * 10 ** exponent) / 10 ** exponent;
  return Math.round(value / 10 ** -exponent) * 10 ** -exponent;
}

/** `count` bounds: 0, then log-spaced from `min` to `max`, two significant figures, no duplicates. */
export function logBuckets(min: number, max: number, count: number): number[] {
  if (count === 0) return [];
  const out = [0];
  const lo = Math.log(min);
  const hi = Math.log(max);
  for (let i = 1; i < count; i++) {
    const v = roundToSignificant(Math.exp(lo + ((hi - lo) * i) / (count - 1)), 2);
    if (v !== out[out.length - 1]) out.push(v);
  }
  return out;
}

function numberFrom(env: NodeJS.ProcessEnv, name: string, fallback: number, integer: boolean): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const v = Number(raw);
  if (!Number.isFinite(v) || (integer && !Number.isInteger(v)))
    throw new ConfigError(`${name}: ${JSON.stringify(raw)} is not ${integer ? 'a whole number' : 'a number'}`);
  return v;
}

/** The bounds of a layout as the environment sets them. */
export function bucketsFromEnv(layout: BucketLayout, env: NodeJS.ProcessEnv): number[] {
  const min = numberFrom(env, `${layout.env}_MIN`, layout.min, false);
  const max = numberFrom(env, `${layout.env}_MAX`, layout.max, false);
  const count = numberFrom(env, `${layout.env}_COUNT`, layout.count, true);
  if (!(min > 0 && min < max)) throw new ConfigError(`${layout.env}_MIN and _MAX: need 0 < MIN < MAX (got ${min} and ${max})`);
  if (count < 1 || count > MAX_BUCKET_COUNT)
    throw new ConfigError(`${layout.env}_COUNT: ${count} is out of range; use 1..${MAX_BUCKET_COUNT}`);
  return logBuckets(min, max, count);
}
