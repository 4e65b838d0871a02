/**
 * A worker that costs next to nothing per token, for measuring what the frontend adds
 * (bench/frontend.bench.ts, part B): it serves `MODEL` on dynamo/backend/generate, and each
 * request streams `max_tokens` chunks at `TOKENS_PER_SECOND`, from a random phase within the first
 * gap so that concurrent streams do not tick together. Each chunk's text is the wall-clock time it
 * left (milliseconds, `performance.timeOrigin + performance.now()`), which the client reads back.
 *
 *   node --import tsx bench/stamped-worker.ts MODEL TOKENS_PER_SECOND
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { DistributedRuntime } from '../src/runtime/index.ts';
import { encodeModelCard, modelCardKey } from '../src/runtime/modelCard.ts';

const [model = 'bench-model', tpsArg = '20'] = process.argv.slice(2);
const gapMs = 1000 / Number(tpsArg);
const IDENTITY = { namespace: 'dynamo', component: 'backend', endpoint: 'generate' };
/** Large enough that the frontend never thinks the worker full. */
const CAPACITY = 100_000;

function stamp(): string {
  return (performance.timeOrigin + performance.now()).toFixed(3);
}

async function* tokens(maxTokens: number, signal: AbortSignal): AsyncGenerator<unknown> {
  let due = performance.now() + Math.random() * gapMs;
  for (let i = 1; i <= maxTokens && !signal.aborted; i++) {
    await sleep(Math.max(0, due - performance.now()));
    due += gapMs;
    const last = i === maxTokens;
    yield last ? { token_ids: [7], text: stamp(), finish_reason: 'length' } : { token_ids: [7], text: stamp() };
  }
}

const drt = await DistributedRuntime.connect();
await drt
  .namespace(IDENTITY.namespace)
  .component(IDENTITY.component)
  .endpoint(IDENTITY.endpoint)
  .serve((req: { stop_conditions?: { max_tokens?: number } }, ctx) => tokens(req.stop_conditions?.max_tokens ?? 16, ctx.signal));
await drt.etcd
  .put(modelCardKey(IDENTITY.namespace, IDENTITY.component, IDENTITY.endpoint, drt.instanceId))
  .value(
    encodeModelCard({
      ...IDENTITY,
      instanceId: drt.instanceId,
      card: {
        displayName: model,
        contextLength: CAPACITY,
        kvCacheBlockSize: 16,
        migrationLimit: 0,
        totalKvBlocks: CAPACITY,
        maxNumSeqs: CAPACITY,
        maxNumBatchedTokens: CAPACITY,
      },
    }),
  )
  .lease(drt.lease.idString);
process.stdout.write('stamped worker ready\n');
for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => void drt.shutdown().then(() => process.exit(0)));
