/**
 * A TCP proxy between a server and its database, for outage tests: `cut()` destroys every
 * connection through it and refuses new ones (accepted, then reset at once, as a dead link does),
 * until `restore()`.
 *
 *   const proxy = await TcpProxy.start('127.0.0.1', 5432);
 *   const url = viaHost(db.url, '127.0.0.1', proxy.port);
 *   proxy.cut(); ... proxy.restore(); ... await proxy.close();
 */
import net from 'node:net';

export class TcpProxy {
  private readonly pairs = new Set<{ client: net.Socket; upstream: net.Socket }>();
  private isCut = false;
  /** Connections accepted while up, in total: a reconnecting pool shows up here. */
  accepted = 0;

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
  ) {}

  /** Listens on a free port of 127.0.0.1 and forwards to `host:port`. */
  static async start(host: string, port: number): Promise<TcpProxy> {
    let proxy: TcpProxy | undefined;
    const server = net.createServer((client) => proxy!.accept(client, host, port));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    proxy = new TcpProxy(server, (server.address() as net.AddressInfo).port);
    return proxy;
  }

  get cutOff(): boolean {
    return this.isCut;
  }

  /** How many connections are open through the proxy now. */
  get open(): number {
    return this.pairs.size;
  }

  /** Drops every connection (reset, not a clean close) and refuses new ones until `restore()`. */
  cut(): void {
    this.isCut = true;
    for (const { client, upstream } of this.pairs) {
      reset(client);
      reset(upstream);
    }
    this.pairs.clear();
  }

  restore(): void {
    this.isCut = false;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: net.Socket, host: string, port: number): void {
    client.on('error', () => {});
    if (this.isCut) {
      reset(client);
      return;
    }
    this.accepted++;
    const upstream = net.connect({ host, port });
    upstream.on('error', () => {});
    const pair = { client, upstream };
    this.pairs.add(pair);
    const end = () => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.once('close', end);
    upstream.once('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  }
}

/**
 * Resets a connection as a dead link would. A socket whose shutdown has already begun (`pipe()`
 * ends one side when the other ends) is destroyed instead: a reset racing a pending shutdown leaves
 * the native handle open, and Node then spins forever at exit (seen here at 100% CPU after the
 * last test; libp2p/js-libp2p#3597 isolated the same on Node 24).
 */
function reset(socket: net.Socket): void {
  if (socket.writableEnded || socket.destroyed) socket.destroy();
  else socket.resetAndDestroy();
}
