/**
 * Publishes KV hit-rate events for the aggregator bench from its own process (so that sending
 * costs the aggregator nothing): `publish-events.ts NATS_URL IDS_FILE COUNT`. Worker i of the ids
 * file gets events of `isl_blocks = i % 100 + 1`, `overlap_blocks = i % 50`, in round robin, in
 * batches of 10,000 with a flush after each. Prints `started` before the first and
 * `sent N in S s` at the end.
 */
import { readFileSync } from 'node:fs';
import { connect } from '@nats-io/transport-node';

const [url, idsFile, countArg, rateArg] = process.argv.slice(2);
/** Events per second to offer (0: as fast as NATS takes them). */
const rate = Number(rateArg ?? 0);
const ids = readFileSync(idsFile!, 'utf8').trim().split('\n');
const count = Number(countArg);
const enc = new TextEncoder();
const bodies = ids.map((id, i) => enc.encode(`{"worker_id":${id},"isl_blocks":${(i % 100) + 1},"overlap_blocks":${i % 50}}`));
const nc = await connect({ servers: url! });
console.log('started');
const t0 = performance.now();
for (let sent = 0; sent < count; ) {
  const n = Math.min(10_000, count - sent);
  for (let j = 0; j < n; j++) nc.publish('namespace.dynamo.kv-hit-rate', bodies[(sent + j) % bodies.length]!);
  sent += n;
  await nc.flush();
  if (rate > 0) {
    const due = t0 + (sent / rate) * 1000;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
}
console.log(`sent ${count} in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
await nc.drain();
