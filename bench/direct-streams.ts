/**
 * A client of the simulated workers that bypasses the frontend: `concurrency` token streams at
 * once through the runtime client, printing the inter-token gaps it saw (p50/p90/p99, seconds)
 * as JSON. The baseline the frontend's added latency is measured against (bench/frontend.bench.ts).
 *
 *   node --import tsx bench/direct-streams.ts CONCURRENCY REQUESTS OUTPUT_TOKENS
 */
import { DistributedRuntime } from '../src/runtime/index.ts';
import { summarize } from '../src/loadgen/stats.ts';

const [concurrency = 1000, requests = 1000, osl = 100] = process.argv.slice(2).map(Number);
const drt = await DistributedRuntime.connect();
const client = await drt.namespace('dynamo').component('backend').endpoint('generate').client();
await client.waitForInstances(1);
const gaps: number[] = [];
let next = 0;
let tokens = 0;
await Promise.all(
  Array.from({ length: concurrency }, async (_, w) => {
    while (next < requests) {
      const i = next++;
      let last = 0;
      let n = 0;
      for await (const _chunk of client.roundRobin({ token_ids: [w, i, 1, 2, 3], stop_conditions: { max_tokens: osl } })) {
        const now = performance.now();
        if (n > 0) gaps.push((now - last) / 1000);
        last = now;
        n++;
      }
      tokens += n;
    }
  }),
);
const s = summarize(gaps);
process.stdout.write(`${JSON.stringify({ tokens, itl: s })}\n`);
await drt.shutdown();
