/**
 * Real nats-server, etcd, Prometheus and PushGateway for tests: Debian binaries, free loopback
 * ports, temp dirs, readiness checks, stop (and restart) by pid.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanups, freePort, ManagedProcess, tcpAccepts, tempDir, waitUntil } from './process.ts';

export interface Server {
  readonly url: string;
  readonly port: number;
  readonly process: ManagedProcess;
  /** Stops the server (SIGTERM, then SIGKILL). */
  stop(): Promise<void>;
  /** SIGKILLs the server. */
  kill(): Promise<void>;
  /** Starts it again on the same port (and the same data dir, unless `fresh`). */
  restart(opts?: { fresh?: boolean }): Promise<void>;
}

abstract class BaseServer implements Server {
  process!: ManagedProcess;
  abstract readonly url: string;
  abstract readonly port: number;
  protected abstract spawn(fresh: boolean): ManagedProcess;
  protected abstract ready(): Promise<boolean>;
  protected abstract readonly name: string;

  async start(fresh = false): Promise<this> {
    this.process = this.spawn(fresh);
    await waitUntil(
      `${this.name} on port ${this.port}`,
      async () => {
        if (!this.process.running) {
          throw new Error(`${this.name} exited: ${this.process.output().slice(-2000)}`);
        }
        return this.ready();
      },
      20_000,
    );
    return this;
  }

  async stop(): Promise<void> {
    await this.process.stop();
  }

  async kill(): Promise<void> {
    await this.process.kill();
  }

  async restart(opts: { fresh?: boolean } = {}): Promise<void> {
    if (this.process.running) await this.stop();
    await this.start(opts.fresh ?? false);
  }
}

export class NatsServer extends BaseServer {
  protected readonly name = 'nats-server';
  readonly dir = tempDir('dyn-nats-');
  constructor(
    readonly port: number,
    /** Extra nats-server arguments, e.g. `['--auth', 'TOKEN']`. */
    private readonly extraArgs: string[] = [],
  ) {
    super();
  }
  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }
  protected spawn(): ManagedProcess {
    return new ManagedProcess('nats-server', ['-a', '127.0.0.1', '-p', String(this.port), ...this.extraArgs], {
      logFile: join(this.dir, 'nats.log'),
    });
  }
  protected ready(): Promise<boolean> {
    return tcpAccepts(this.port);
  }
}

/** Client TLS for etcd: its certificate and key, and the CA its clients' certificates must chain to. */
export interface EtcdTls {
  cert: string;
  key: string;
  ca: string;
}

export class EtcdServer extends BaseServer {
  protected readonly name = 'etcd';
  readonly dir = tempDir('dyn-etcd-');
  private generation = 0;
  constructor(
    readonly port: number,
    private readonly peerPort: number,
    /** Serve clients over mutual TLS. */
    private readonly tls?: EtcdTls,
  ) {
    super();
  }
  get url(): string {
    return `${this.tls !== undefined ? 'https' : 'http'}://127.0.0.1:${this.port}`;
  }
  protected spawn(fresh: boolean): ManagedProcess {
    if (fresh) this.generation++;
    const client = this.url;
    const peer = `http://127.0.0.1:${this.peerPort}`;
    return new ManagedProcess(
      'etcd',
      [
        '--name',
        'test',
        '--data-dir',
        join(this.dir, `data-${this.generation}`),
        '--listen-client-urls',
        client,
        '--advertise-client-urls',
        client,
        '--listen-peer-urls',
        peer,
        '--initial-advertise-peer-urls',
        peer,
        '--initial-cluster',
        `test=${peer}`,
        '--log-level',
        'warn',
        ...(this.tls !== undefined
          ? ['--cert-file', this.tls.cert, '--key-file', this.tls.key, '--trusted-ca-file', this.tls.ca, '--client-cert-auth']
          : []),
      ],
      { logFile: join(this.dir, 'etcd.log') },
    );
  }
  protected async ready(): Promise<boolean> {
    if (this.tls !== undefined) return tcpAccepts(this.port);
    try {
      const res = await fetch(`${this.url}/health`, { signal: AbortSignal.timeout(1000) });
      const body = (await res.json()) as { health?: string };
      return body.health === 'true';
    } catch {
      return false;
    }
  }
}

/** Attempts at a server on fresh ports when another process took a port between pick and bind. */
export const PORT_CLASH_ATTEMPTS = 5;

/**
 * Starts a server on free ports, again on new ones when it could not bind: `freePort()` releases
 * the port it found, so on a busy machine another process may take it first.
 */
async function onFreePorts<T>(start: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (err) {
      if (attempt >= PORT_CLASH_ATTEMPTS || !/address already in use|bind: /i.test(String((err as Error).message))) throw err;
    }
  }
}

export async function startNats(extraArgs: string[] = []): Promise<NatsServer> {
  return onFreePorts(async () => new NatsServer(await freePort(), extraArgs).start());
}

/**
 * etcd's lease ids carry the low 16 bits of its member id on top, so they are above 2^53 unless
 * those bits are < 32 (1 in 2048 clusters). Tests rely on ids above 2^53, so such a cluster is
 * replaced by one on another peer port (which changes the member id).
 */
async function memberIdBits(url: string): Promise<bigint> {
  const res = await fetch(`${url}/v3/cluster/member/list`, { method: 'POST', body: '{}' });
  const body = (await res.json()) as { header: { member_id: string } };
  return BigInt(body.header.member_id) & 0xffffn;
}

export async function startEtcd(opts: { tls?: EtcdTls } = {}): Promise<EtcdServer> {
  for (let attempt = 0; ; attempt++) {
    const server = await onFreePorts(async () => new EtcdServer(await freePort(), await freePort(), opts.tls).start());
    if (opts.tls !== undefined) return server; // its ids are not what such a test is about
    if ((await memberIdBits(server.url)) >= 32n || attempt >= 5) return server;
    await server.stop();
  }
}

/** NATS and etcd together, the pair every runtime test needs. */
export interface Cluster {
  nats: NatsServer;
  etcd: EtcdServer;
  stop(): Promise<void>;
}

/**
 * A test's own nats-server and etcd, stopped when the test ends, and the `defer` that registers
 * the test's other clean-ups (they run first, last registered first). The set-up most tests begin with.
 */
export async function testCluster(t: {
  after(fn: () => Promise<void> | void): void;
}): Promise<{ cluster: Cluster; defer: (fn: () => unknown) => void }> {
  const defer = cleanups(t);
  const cluster = await startCluster();
  defer(() => cluster.stop());
  return { cluster, defer };
}

export async function startCluster(): Promise<Cluster> {
  const [nats, etcd] = await Promise.all([startNats(), startEtcd()]);
  return {
    nats,
    etcd,
    async stop() {
      await Promise.all([nats.stop(), etcd.stop()]);
    },
  };
}

async function httpOk(url: string, alsoOk: number[] = []): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
    await res.body?.cancel();
    return res.ok || alsoOk.includes(res.status);
  } catch {
    return false;
  }
}

export class PushGatewayServer extends BaseServer {
  protected readonly name = 'prometheus-pushgateway';
  readonly dir = tempDir('dyn-pgw-');
  constructor(
    readonly port: number,
    private readonly extraArgs: string[] = [],
  ) {
    super();
  }
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }
  protected spawn(): ManagedProcess {
    // Debian's build persists to /var/lib/prometheus by default: keep each test's state to itself.
    return new ManagedProcess(
      'prometheus-pushgateway',
      [
        `--web.listen-address=127.0.0.1:${this.port}`,
        `--persistence.file=${join(this.dir, 'pushgateway.data')}`,
        '--log.level=warn',
        ...this.extraArgs,
      ],
      {
        logFile: join(this.dir, 'pushgateway.log'),
      },
    );
  }
  protected ready(): Promise<boolean> {
    // behind basic auth (--web.config.file) a live gateway answers 401
    return httpOk(`${this.url}/-/ready`, [401]);
  }
}

export async function startPushGateway(extraArgs: string[] = []): Promise<PushGatewayServer> {
  return onFreePorts(async () => new PushGatewayServer(await freePort(), extraArgs).start());
}

export interface ScrapeTarget {
  job: string;
  /** host:port */
  target: string;
  honorLabels?: boolean;
  path?: string;
}

export class PrometheusServer extends BaseServer {
  protected readonly name = 'prometheus';
  readonly dir = tempDir('dyn-prom-');
  constructor(
    readonly port: number,
    private readonly targets: ScrapeTarget[],
    private readonly scrapeInterval = '1s',
    /** A ready-made config file instead of one generated from `targets`. */
    private readonly configFile?: string,
  ) {
    super();
  }
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }
  protected spawn(): ManagedProcess {
    if (this.configFile !== undefined) return this.launch(this.configFile);
    const config = [
      'global:',
      `  scrape_interval: ${this.scrapeInterval}`,
      `  evaluation_interval: ${this.scrapeInterval}`,
      'scrape_configs:',
      ...this.targets.flatMap((t) => [
        `  - job_name: ${JSON.stringify(t.job)}`,
        `    honor_labels: ${t.honorLabels ?? false}`,
        `    metrics_path: ${JSON.stringify(t.path ?? '/metrics')}`,
        '    static_configs:',
        `      - targets: [${JSON.stringify(t.target)}]`,
      ]),
    ].join('\n');
    const configFile = join(this.dir, 'prometheus.yml');
    writeFileSync(configFile, `${config}\n`);
    return this.launch(configFile);
  }

  private launch(configFile: string): ManagedProcess {
    return new ManagedProcess(
      'prometheus',
      [
        `--config.file=${configFile}`,
        `--storage.tsdb.path=${join(this.dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${this.port}`,
        '--log.level=warn',
      ],
      { logFile: join(this.dir, 'prometheus.log'), cwd: this.dir },
    );
  }
  protected ready(): Promise<boolean> {
    return httpOk(`${this.url}/-/ready`);
  }

  /** Runs an instant PromQL query; returns the result vector. */
  async query(promql: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
    const res = await fetch(`${this.url}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = (await res.json()) as {
      status: string;
      error?: string;
      data: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
    };
    if (body.status !== 'success') throw new Error(`query ${promql} failed: ${body.error}`);
    return body.data.result;
  }

  /** Health of each scrape target, by job. */
  async targetHealth(): Promise<Record<string, string>> {
    const res = await fetch(`${this.url}/api/v1/targets`);
    const body = (await res.json()) as { data: { activeTargets: { labels: { job: string }; health: string }[] } };
    return Object.fromEntries(body.data.activeTargets.map((t) => [t.labels.job, t.health]));
  }
}

export async function startPrometheus(targets: ScrapeTarget[], scrapeInterval = '1s', port?: number): Promise<PrometheusServer> {
  if (port !== undefined) return new PrometheusServer(port, targets, scrapeInterval).start();
  return onFreePorts(async () => new PrometheusServer(await freePort(), targets, scrapeInterval).start());
}
