/**
 * Mock LLM workers, standing in for real ones: each registers `{ns}/{comp}/{ep}` with its own
 * lease and micro-service instance, answers stats with random ForwardPassMetrics v3 (slots and
 * blocks out of 100), serves an echo that streams the request back word by word, and publishes a
 * KV hit-rate event every interval under its own worker id. Many run in one process on shared
 * connections (`--workers N`).
 */
import { closeEtcdClient, connectNats, createEtcdClient, type EtcdOptions, type NatsOptions } from '../runtime/connections.ts';
import { DistributedRuntime } from '../runtime/DistributedRuntime.ts';
import { KV_HIT_RATE_EVENT } from '../runtime/names.ts';
import type { RuntimeInstrumentation } from '../runtime/observer.ts';
import { getLogger } from '../log.ts';
import { errorMessage } from '../errors.ts';

export const MOCK_CAPACITY = 100;

const log = getLogger('mock_worker');

export interface MockWorkerOptions {
  namespace: string;
  component: string;
  endpoint: string;
  workers: number;
  hitRateIntervalMs: number;
  nats: NatsOptions;
  etcd: EtcdOptions;
  /** What the workers report to (automatic metrics, status server). @default none */
  instrumentation?: RuntimeInstrumentation;
  /** Deterministic numbers for tests. @default Math.random */
  random?: () => number;
}

function randInt(random: () => number, max: number): number {
  return Math.floor(random() * (max + 1));
}

/** ForwardPassMetrics v3 with random load out of 100. */
export function randomForwardPassMetrics(random: () => number = Math.random): Record<string, unknown> {
  const kvActive = randInt(random, MOCK_CAPACITY);
  return {
    request_active_slots: randInt(random, MOCK_CAPACITY),
    request_total_slots: MOCK_CAPACITY,
    kv_active_blocks: kvActive,
    kv_total_blocks: MOCK_CAPACITY,
    num_requests_waiting: randInt(random, 10),
    gpu_cache_usage_perc: kvActive / MOCK_CAPACITY,
    gpu_prefix_cache_hit_rate: random(),
    data_parallel_rank: null,
  };
}

export class MockWorkers {
  private timer: NodeJS.Timeout | undefined;

  private constructor(
    readonly runtimes: DistributedRuntime[],
    private readonly closeShared: () => Promise<void>,
  ) {}

  get ids(): bigint[] {
    return this.runtimes.map((r) => r.instanceId);
  }

  static async start(opts: MockWorkerOptions): Promise<MockWorkers> {
    const random = opts.random ?? Math.random;
    const shared = opts.workers > 1;
    let sharedConns: { nats: Awaited<ReturnType<typeof connectNats>>; etcd: ReturnType<typeof createEtcdClient> } | undefined;
    if (shared) {
      const nats = await connectNats(opts.nats);
      sharedConns = { nats, etcd: createEtcdClient(opts.etcd) };
    }
    const runtimes: DistributedRuntime[] = [];
    const closeShared = async (): Promise<void> => {
      if (sharedConns !== undefined) {
        await sharedConns.nats.drain().catch(() => undefined);
        closeEtcdClient(sharedConns.etcd);
      }
    };
    try {
      // all at once: the runtime paces the lease grants and registrations of a burst itself
      await Promise.all(
        Array.from({ length: opts.workers }, async () => {
          const conns = sharedConns ? { shared: sharedConns } : { nats: opts.nats, etcd: opts.etcd };
          const drt = await DistributedRuntime.connect({ ...conns, instrumentation: opts.instrumentation });
          runtimes.push(drt);
          const ep = drt.namespace(opts.namespace).component(opts.component).endpoint(opts.endpoint);
          await ep.serve<{ text?: unknown }>(
            (req) => {
              const text = typeof req?.text === 'string' ? req.text : JSON.stringify(req);
              return (async function* () {
                for (const word of text.split(/\s+/).filter((w) => w !== '')) yield word;
              })();
            },
            { statsHandler: () => randomForwardPassMetrics(random) },
          );
          log.info(`mock worker ${drt.instanceId} serving ${opts.namespace}/${opts.component}/${opts.endpoint}`);
        }),
      );
    } catch (err) {
      await Promise.all(runtimes.map((r) => r.shutdown()));
      await closeShared();
      throw err;
    }
    const w = new MockWorkers(runtimes, closeShared);
    w.timer = setInterval(() => w.publishHitRates(opts.namespace, random), opts.hitRateIntervalMs);
    return w;
  }

  /** One KV hit-rate event per worker, under its own id. */
  publishHitRates(namespace: string, random: () => number = Math.random): void {
    for (const drt of this.runtimes) {
      const isl = randInt(random, MOCK_CAPACITY);
      const overlap = randInt(random, isl);
      try {
        drt.namespace(namespace).publish(KV_HIT_RATE_EVENT, { worker_id: drt.instanceId, isl_blocks: isl, overlap_blocks: overlap });
      } catch (err) {
        log.rateLimited('warn', 'publish', 'cannot publish a hit-rate event', { error: errorMessage(err) });
      }
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all(this.runtimes.map((r) => r.shutdown()));
    await this.closeShared();
  }
}
