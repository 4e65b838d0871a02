/**
 * A TCP proxy on loopback whose traffic can be frozen: connections stay open and nothing is
 * refused, but no byte passes either way until it is thawed (a stalled network path or a hung
 * peer, which a killed server does not reproduce: there the client sees a reset at once).
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export class FreezeProxy {
  private server: Server | undefined;
  private readonly pairs = new Set<[Socket, Socket]>();
  private frozen = false;
  port = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    const server = createServer((client) => {
      const upstream = connect({ host: this.targetHost, port: this.targetPort });
      const pair: [Socket, Socket] = [client, upstream];
      this.pairs.add(pair);
      const close = (): void => {
        this.pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      };
      client.on('error', close).on('close', close);
      upstream.on('error', close).on('close', close);
      client.pipe(upstream);
      upstream.pipe(client);
      if (this.frozen) this.pause(pair);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.port = (server.address() as { port: number }).port;
    this.server = server;
    return this;
  }

  private pause([a, b]: [Socket, Socket]): void {
    a.pause();
    b.pause();
  }

  /** No byte passes from now on, in either direction, on open or new connections. */
  freeze(): void {
    this.frozen = true;
    for (const p of this.pairs) this.pause(p);
  }

  thaw(): void {
    this.frozen = false;
    for (const [a, b] of this.pairs) {
      a.resume();
      b.resume();
    }
  }

  async stop(): Promise<void> {
    for (const [a, b] of this.pairs) {
      a.destroy();
      b.destroy();
    }
    const s = this.server;
    this.server = undefined;
    if (s !== undefined) await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}
