/** Hostile input for the bad-input tests: the corpus kept in the repo and a seeded generator. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { dynamoEndpoint } from './dynamoStats.ts';
import { seededRandom } from '../../src/random.ts';

export interface Corpus {
  /** `accepts`: worker ids (hex) that must come out; `rejected`: the reasons that must be counted, in order. */
  stats_replies: { case: string; body: string; accepts?: string[]; rejected: string[] }[];
  events: { case: string; body?: string; body_hex?: string; reason: string | null }[];
}
export const CORPUS = JSON.parse(
  readFileSync(join(import.meta.dirname, '..', 'reliability', 'corpus', 'bad_input.json'), 'utf8'),
) as Corpus;
export const SERVICE = 'dynamo_my_component';
export const ENDPOINT = 'my_endpoint';
export const enc = new TextEncoder();

/** A small deterministic PRNG (mulberry32), so that a failing case can be replayed from its seed. */
export const rng = seededRandom;
export const SEED = Number(process.env.FUZZ_SEED ?? 20261122);

export const endpointJson = dynamoEndpoint;
export const goodData = (kv: number): string =>
  `{"request_active_slots":1,"request_total_slots":10,"kv_active_blocks":${kv},"kv_total_blocks":100}`;
export const subjectOf = (id: bigint): string => `${SERVICE}.${ENDPOINT}-${id.toString(16)}`;

/** One garbage endpoint: a mutation of a good one. */
export function garbageEndpoint(r: () => number, id: bigint): string {
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)]!;
  const badValues = [
    '"7"',
    '-1',
    'NaN',
    'Infinity',
    '1e308',
    '1e999',
    'null',
    'true',
    '[]',
    '{}',
    '123456789012345678901234567890',
    '0.5',
    '-0.0001',
  ];
  switch (Math.floor(r() * 8)) {
    case 0:
      return endpointJson(subjectOf(id), goodData(7).replace('"kv_active_blocks":7', `"kv_active_blocks":${pick(badValues)}`));
    case 1:
      return endpointJson(subjectOf(id), pick(['null', '"x"', '[1]', '{}', '{"kv_active_blocks":1}', '{"worker_stats":1,"kv_stats":2}']));
    case 2:
      return endpointJson(
        `${SERVICE}.${ENDPOINT}-${pick(['', 'zz', 'G1', '-1', '1ffffffffffffffff', '8000000000000000', 'ABCD'])}`,
        goodData(7),
      );
    case 3:
      return endpointJson(`${SERVICE}.other-${id.toString(16)}`, goodData(7)); // another endpoint: ignored
    case 4:
      return `{"subject":${pick(['5', 'null', '[]', '{}'])},"data":${goodData(7)}}`;
    case 5:
      return pick(['1', '"endpoint"', 'null', '[]', 'false']);
    case 6:
      return endpointJson(subjectOf(id), goodData(7).replace('"kv_total_blocks":100', `"kv_total_blocks":${pick(badValues)}`));
    default:
      return endpointJson(subjectOf(id), `{"engine_load_metrics":${pick(['null', '5', '{"worker_stats":{},"kv_stats":{}}'])}}`);
  }
}
