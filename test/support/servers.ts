/**
 * Real nats-server, etcd, Prometheus and PushGateway for tests: Debian binaries, free loopback
 * ports, temp dirs, readiness checks, stop (and restart) by pid.
 */
import { join } from 'node:path';
import { ManagedProcess, freePort, tcpAccepts, tempDir, waitUntil } from './process.ts';

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
    await waitUntil(`${this.name} on port ${this.port}`, async () => {
      if (!this.process.running) {
        throw new Error(`${this.name} exited: ${this.process.output().slice(-2000)}`);
      }
      return this.ready();
    }, 20_000);
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
  constructor(readonly port: number) {
    super();
  }
  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }
  protected spawn(): ManagedProcess {
    return new ManagedProcess('nats-server', ['-a', '127.0.0.1', '-p', String(this.port)], {
      logFile: join(this.dir, 'nats.log'),
    });
  }
  protected ready(): Promise<boolean> {
    return tcpAccepts(this.port);
  }
}

export class EtcdServer extends BaseServer {
  protected readonly name = 'etcd';
  readonly dir = tempDir('dyn-etcd-');
  private generation = 0;
  constructor(
    readonly port: number,
    private readonly peerPort: number,
  ) {
    super();
  }
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }
  protected spawn(fresh: boolean): ManagedProcess {
    if (fresh) this.generation++;
    const client = this.url;
    const peer = `http://127.0.0.1:${this.peerPort}`;
    return new ManagedProcess('etcd', [
      '--name', 'test',
      '--data-dir', join(this.dir, `data-${this.generation}`),
      '--listen-client-urls', client,
      '--advertise-client-urls', client,
      '--listen-peer-urls', peer,
      '--initial-advertise-peer-urls', peer,
      '--initial-cluster', `test=${peer}`,
      '--log-level', 'warn',
    ], { logFile: join(this.dir, 'etcd.log') });
  }
  protected async ready(): Promise<boolean> {
    try {
      const res = await fetch(`${this.url}/health`, { signal: AbortSignal.timeout(1000) });
      const body = (await res.json()) as { health?: string };
      return body.health === 'true';
    } catch {
      return false;
    }
  }
}

export async function startNats(): Promise<NatsServer> {
  return new NatsServer(await freePort()).start();
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

export async function startEtcd(): Promise<EtcdServer> {
  for (let attempt = 0; ; attempt++) {
    const server = await new EtcdServer(await freePort(), await freePort()).start();
    if ((await memberIdBits(server.url)) >= 32n || attempt >= 5) return server;
    await server.stop();
  }
}

/** NATS and etcd together, the pair every runtime test needs. */
export async function startCluster(): Promise<{ nats: NatsServer; etcd: EtcdServer; stop(): Promise<void> }> {
  const [nats, etcd] = await Promise.all([startNats(), startEtcd()]);
  return {
    nats,
    etcd,
    async stop() {
      await Promise.all([nats.stop(), etcd.stop()]);
    },
  };
}
