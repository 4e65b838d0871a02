/**
 * Mock LLM workers, standing in for real ones: each registers `{ns}/{comp}/{ep}` with its own
 * lease and micro-service instance. Without an engine (the seed's mock) it answers stats with
 * random ForwardPassMetrics v3 (slots and blocks out of 100), serves an echo that streams the
 * request back word by word, and publishes a KV hit-rate event every interval under its own
 * worker id. With the simulated engine (`--model`) it serves a model: token requests stream
 * engine output, stats report the engine's state, each admitted request publishes its real
 * hit-rate event, and a model card in etcd tells frontends where the model is. Many run in one
 * process on shared connections (`--workers N`).
 */
import { closeEtcdClient, connectNats, createEtcdClient, type EtcdOptions, type NatsOptions } from '../runtime/connections.ts';
import { DistributedRuntime } from '../runtime/DistributedRuntime.ts';
import { endpointEventSubject, KV_HIT_RATE_EVENT, KV_METRICS_TOPIC } from '../runtime/names.ts';
import { activeLoad, LoadPublisher } from './loadPublisher.ts';
import type { RuntimeInstrumentation } from '../runtime/observer.ts';
import { getLogger } from '../log.ts';
import { errorMessage } from '../errors.ts';
import { encodeModelCard, modelCardKey } from '../runtime/modelCard.ts';
import { type EngineConfig, SimulatedEngine } from './engine/SimulatedEngine.ts';
import { parseEngineRequest } from './engineRequest.ts';

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
  /** Serve this model with the simulated engine instead of the random stats and echo. */
  engine?: { model: string; config: Partial<EngineConfig> } | undefined;
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

/** ForwardPassMetrics v3 of a simulated engine's state. */
export function engineForwardPassMetrics(engine: SimulatedEngine): Record<string, unknown> {
  const s = engine.state();
  return {
    request_active_slots: s.activeSlots,
    request_total_slots: s.totalSlots,
    kv_active_blocks: s.activeBlocks,
    kv_total_blocks: s.totalBlocks,
    num_requests_waiting: s.waiting,
    gpu_cache_usage_perc: s.activeBlocks / s.totalBlocks,
    gpu_prefix_cache_hit_rate: s.prefixHitRate,
    data_parallel_rank: null,
  };
}

export class MockWorkers {
  private timer: NodeJS.Timeout | undefined;
  /** Each worker's engine, by its runtime, when serving a model. */
  readonly engines = new Map<DistributedRuntime, SimulatedEngine>();
  /** Each engine's load publisher. */
  private readonly publishers: LoadPublisher[] = [];

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
    const engines = new Map<DistributedRuntime, SimulatedEngine>();
    const publishers: LoadPublisher[] = [];
    const closeShared = async (): Promise<void> => {
      if (sharedConns !== undefined) {
        await sharedConns.nats.drain().catch(() => undefined);
        closeEtcdClient(sharedConns.etcd);
      }
    };
    try {
      // all at once: the runtime paces the lease grants and registrations of a burst itself
      await Promise.all(
        Array.from({ length: opts.workers }, async (_, i) => {
          const conns = sharedConns ? { shared: sharedConns } : { nats: opts.nats, etcd: opts.etcd };
          const drt = await DistributedRuntime.connect({ ...conns, instrumentation: opts.instrumentation });
          runtimes.push(drt);
          const ep = drt.namespace(opts.namespace).component(opts.component).endpoint(opts.endpoint);
          if (opts.engine !== undefined) {
            const served = await serveModel(drt, opts, opts.engine.model, {
              ...opts.engine.config,
              seed: (opts.engine.config.seed ?? 1) + i,
            });
            engines.set(drt, served.engine);
            publishers.push(served.load);
          } else {
            await ep.serve<{ text?: unknown }>(
              (req) => {
                const text = typeof req?.text === 'string' ? req.text : JSON.stringify(req);
                return (async function* () {
                  for (const word of text.split(/\s+/).filter((w) => w !== '')) yield word;
                })();
              },
              { statsHandler: () => randomForwardPassMetrics(random) },
            );
          }
          log.info(`mock worker ${drt.instanceId} serving ${opts.namespace}/${opts.component}/${opts.endpoint}`);
        }),
      );
    } catch (err) {
      for (const p of publishers) p.close();
      await Promise.all(runtimes.map((r) => r.shutdown()));
      await closeShared();
      throw err;
    }
    const w = new MockWorkers(runtimes, closeShared);
    for (const [drt, engine] of engines) w.engines.set(drt, engine);
    w.publishers.push(...publishers);
    // an engine publishes one event per request it admits; the seed's mock one per interval
    if (opts.engine === undefined) w.timer = setInterval(() => w.publishHitRates(opts.namespace, random), opts.hitRateIntervalMs);
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
    for (const p of this.publishers) p.close();
    await Promise.all(this.runtimes.map((r) => r.shutdown()));
    await this.closeShared();
  }
}

/**
 * Serves `model` on the options' endpoint with a simulated engine: token requests stream engine
 * output, stats are the engine's state, each admitted request publishes its hit-rate event, the
 * load is published as `ActiveLoad` events when it changes (loadPublisher.ts), and the model card
 * is put under the worker's lease (again whenever the lease is replaced).
 */
async function serveModel(
  drt: DistributedRuntime,
  opts: MockWorkerOptions,
  model: string,
  config: Partial<EngineConfig>,
): Promise<{ engine: SimulatedEngine; load: LoadPublisher }> {
  const ns = drt.namespace(opts.namespace);
  const loadSubject = endpointEventSubject(opts.namespace, opts.component, opts.endpoint, KV_METRICS_TOPIC);
  const load = new LoadPublisher(() => {
    try {
      drt.publish(loadSubject, activeLoad(drt.instanceId, engine.state()));
    } catch (err) {
      log.rateLimited('warn', 'publish', 'cannot publish a load event', { error: errorMessage(err) });
    }
  });
  const engine = new SimulatedEngine(config, {
    onLoadChange: () => load.changed(),
    onAdmit: (e) => {
      try {
        ns.publish(KV_HIT_RATE_EVENT, { worker_id: drt.instanceId, isl_blocks: e.islBlocks, overlap_blocks: e.overlapBlocks });
      } catch (err) {
        log.rateLimited('warn', 'publish', 'cannot publish a hit-rate event', { error: errorMessage(err) });
      }
    },
  });
  try {
    await ns
      .component(opts.component)
      .endpoint(opts.endpoint)
      .serve(
        (req, ctx) => {
          const r = parseEngineRequest(req);
          return engine.generate({ tokenIds: r.tokenIds, maxTokens: r.maxTokens, signal: ctx.signal });
        },
        { statsHandler: () => engineForwardPassMetrics(engine) },
      );
    await putModelCard(drt, opts, model, engine.config);
  } catch (err) {
    load.close(); // the caller gets no publisher to close
    throw err;
  }
  drt.on('leaseChanged', () => {
    putModelCard(drt, opts, model, engine.config).catch((err: unknown) =>
      log.rateLimited('warn', 'model-card', 'cannot put the model card under the new lease', { error: errorMessage(err) }),
    );
  });
  return { engine, load };
}

/** Puts the worker's model card under its lease (Dynamo's `DiscoveryInstance::Model`). */
async function putModelCard(drt: DistributedRuntime, opts: MockWorkerOptions, model: string, c: EngineConfig): Promise<void> {
  const id = drt.instanceId;
  const value = encodeModelCard({
    namespace: opts.namespace,
    component: opts.component,
    endpoint: opts.endpoint,
    instanceId: id,
    card: {
      displayName: model,
      contextLength: c.contextLength,
      kvCacheBlockSize: c.blockSize,
      migrationLimit: 0,
      totalKvBlocks: c.kvBlocks,
      maxNumSeqs: c.slots,
      maxNumBatchedTokens: c.contextLength,
    },
  });
  await drt.etcd
    .put(modelCardKey(opts.namespace, opts.component, opts.endpoint, id))
    .value(value)
    .lease(drt.lease.idString);
}
