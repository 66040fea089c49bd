import { connect, createServer, type Server, type Socket } from 'node:net';
import { freePort } from './child-server.js';

/**
 * What the proxy does to a connection: `pass` forwards it, `refuse` leaves the port closed (the
 * client gets connection refused), `blackhole` accepts it and never answers (a firewall that
 * drops, a service hung).
 */
export type FaultMode = 'pass' | 'refuse' | 'blackhole';

/**
 * A TCP proxy on a fixed loopback port in front of a service (the KMS of an awskms seal), whose
 * faults a test switches on and off. Switching closes every open connection, so a client's
 * kept-alive connection meets the new mode at once, as it would a real outage.
 */
export class FaultProxy {
  readonly port: number;
  readonly #target: { host: string; port: number };
  readonly #sockets = new Set<Socket>();
  #server: Server | undefined;
  #mode: FaultMode = 'pass';

  private constructor(port: number, target: URL) {
    this.port = port;
    this.#target = { host: target.hostname, port: Number(target.port) };
  }

  static async start(target: string): Promise<FaultProxy> {
    const proxy = new FaultProxy(await freePort(), new URL(target));
    await proxy.#listen();
    return proxy;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get mode(): FaultMode {
    return this.#mode;
  }

  async set(mode: FaultMode): Promise<void> {
    this.#mode = mode;
    this.#dropConnections();
    if (mode === 'refuse') await this.#close();
    else if (this.#server === undefined) await this.#listen();
  }

  async stop(): Promise<void> {
    this.#dropConnections();
    await this.#close();
  }

  #listen(): Promise<void> {
    const server = createServer((client) => this.#accept(client));
    this.#server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
  }

  #accept(client: Socket): void {
    this.#track(client);
    if (this.#mode === 'blackhole') {
      client.on('data', () => {});
      return;
    }
    const upstream = connect(this.#target.port, this.#target.host);
    this.#track(upstream);
    client.pipe(upstream).pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  }

  #track(socket: Socket): void {
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
  }

  #dropConnections(): void {
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
  }

  async #close(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
