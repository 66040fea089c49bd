import { connect, createServer, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './child-server.js';

/**
 * The network faults an operator's bad day brings between two processes:
 * - `refuse`: nothing listens (connection refused), and open connections are reset;
 * - `black-hole`: connections are accepted, nothing is forwarded either way, nothing closes;
 * - `latency`: every chunk, both ways, arrives `latencyMs` late;
 * - `reset`: requests go through, and each answer is cut in the middle by a TCP reset;
 * - `trickle`: answers arrive a few bytes at a time (`trickleBytes` every `trickleEveryMs`).
 */
export type Fault = 'none' | 'refuse' | 'black-hole' | 'latency' | 'reset' | 'trickle';
export const FAULTS: readonly Exclude<Fault, 'none'>[] = ['refuse', 'black-hole', 'latency', 'reset', 'trickle'];

export interface FaultProxyOptions {
  latencyMs?: number;
  trickleBytes?: number;
  trickleEveryMs?: number;
}

interface Trigger {
  pattern: RegExp;
  action: () => void;
}

/** One proxied connection: a client socket, its upstream socket, and each direction's ordered delivery. */
interface Pair {
  client: Socket;
  upstream: Socket;
  toUpstream: Promise<void>;
  toClient: Promise<void>;
  /** The upstream closed while black-holed: the client learns it when the fault lifts. */
  upstreamGone: boolean;
}

/**
 * A loopback TCP proxy that injects network faults, switched at any instant (`set`) or at the
 * instant a request matching a pattern passes through (`when`, checked before that request is
 * forwarded). Byte-level, so it sits in front of anything: Vault, moto, a KMS. Like the
 * recording proxy, it closes a client's connection when the server's closes, so a server
 * restart behind it reads as a restart.
 */
export class FaultProxy {
  readonly #target: { host: string; port: number };
  readonly #options: Required<FaultProxyOptions>;
  readonly #pairs = new Set<Pair>();
  readonly #triggers: Trigger[] = [];
  #server: Server | undefined;
  #port = 0;
  #fault: Fault = 'none';

  private constructor(target: { host: string; port: number }, options: FaultProxyOptions) {
    this.#target = target;
    this.#options = {
      latencyMs: options.latencyMs ?? 1_500,
      trickleBytes: options.trickleBytes ?? 16,
      trickleEveryMs: options.trickleEveryMs ?? 250,
    };
  }

  /** `target` is a URL (http://127.0.0.1:8200) or host:port. */
  static async start(target: string, options: FaultProxyOptions = {}): Promise<FaultProxy> {
    const url = new URL(target.includes('://') ? target : `tcp://${target}`);
    const proxy = new FaultProxy({ host: url.hostname, port: Number(url.port) }, options);
    // A port from below the ephemeral range (child-server.ts): lifting `refuse` listens on it again,
    // and an outgoing connection must not have taken it meanwhile.
    await proxy.#listen(await freePort());
    return proxy;
  }

  get address(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  get fault(): Fault {
    return this.#fault;
  }

  /** Switches the fault now. Lifting `refuse` listens again on the same port. */
  async set(fault: Fault): Promise<void> {
    const before = this.#fault;
    this.#fault = fault;
    if (fault === 'refuse' && before !== 'refuse') {
      for (const pair of this.#pairs) this.#reset(pair);
      await this.#close();
    }
    if (fault !== 'refuse' && before === 'refuse') await this.#listen(this.#port);
    if (before === 'black-hole' && fault !== 'black-hole') {
      for (const pair of this.#pairs) if (pair.upstreamGone) pair.client.destroy();
    }
  }

  /** Runs `action` once, at the instant a client sends bytes matching `pattern`, before they are forwarded. */
  when(pattern: RegExp, action: () => void): void {
    this.#triggers.push({ pattern, action });
  }

  async stop(): Promise<void> {
    this.#triggers.length = 0;
    for (const pair of this.#pairs) this.#reset(pair);
    await this.#close();
  }

  async #listen(port: number): Promise<void> {
    const server = createServer((client) => this.#accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.#server = server;
    this.#port = (server.address() as { port: number }).port;
  }

  async #close(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  #accept(client: Socket): void {
    if (this.#fault === 'refuse') return void client.resetAndDestroy();
    const upstream = connect(this.#target.port, this.#target.host);
    const pair: Pair = {
      client,
      upstream,
      toUpstream: Promise.resolve(),
      toClient: Promise.resolve(),
      upstreamGone: false,
    };
    this.#pairs.add(pair);
    client.on('data', (chunk: Buffer) => {
      this.#fire(chunk);
      pair.toUpstream = pair.toUpstream.then(() => this.#deliver(pair, chunk, 'up'));
    });
    upstream.on('data', (chunk: Buffer) => {
      pair.toClient = pair.toClient.then(() => this.#deliver(pair, chunk, 'down'));
    });
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => undefined);
    client.on('close', () => {
      upstream.destroy();
      this.#pairs.delete(pair);
    });
    upstream.on('close', () => {
      // While black-holed nothing reaches the client, a close (or a refused upstream) included.
      if (this.#fault === 'black-hole') pair.upstreamGone = true;
      else void pair.toClient.then(() => client.destroy());
    });
  }

  #fire(chunk: Buffer): void {
    const text = chunk.toString('latin1');
    for (const trigger of [...this.#triggers]) {
      if (!trigger.pattern.test(text)) continue;
      this.#triggers.splice(this.#triggers.indexOf(trigger), 1);
      trigger.action();
    }
  }

  /** One chunk, one way, under the fault in force when its turn comes. */
  async #deliver(pair: Pair, chunk: Buffer, direction: 'up' | 'down'): Promise<void> {
    const to = direction === 'up' ? pair.upstream : pair.client;
    switch (this.#fault) {
      case 'none':
        return void (to.destroyed || to.write(chunk));
      case 'refuse':
        return this.#reset(pair);
      case 'black-hole':
        return;
      case 'latency':
        await sleep(this.#options.latencyMs);
        return void (to.destroyed || to.write(chunk));
      case 'reset':
        if (direction === 'up') return void (to.destroyed || to.write(chunk));
        to.write(chunk.subarray(0, Math.max(1, Math.floor(chunk.length / 2))));
        return this.#reset(pair);
      case 'trickle':
        if (direction === 'up') return void (to.destroyed || to.write(chunk));
        for (let offset = 0; offset < chunk.length && !to.destroyed; offset += this.#options.trickleBytes) {
          to.write(chunk.subarray(offset, offset + this.#options.trickleBytes));
          await sleep(this.#options.trickleEveryMs);
        }
        return;
    }
  }

  #reset(pair: Pair): void {
    if (!pair.client.destroyed) pair.client.resetAndDestroy();
    if (!pair.upstream.destroyed) pair.upstream.resetAndDestroy();
  }
}
