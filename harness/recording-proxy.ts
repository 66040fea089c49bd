import { Agent, createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface RecordedRequest {
  method: string;
  path: string;
  /** Top-level field names of a JSON body (never the values: they may be keys). */
  bodyFields: string[];
  /** It carried a Vault token (X-Vault-Token): the server writes it to its audit log. */
  token: boolean;
  /** The AWS API operation (X-Amz-Target, e.g. `secretsmanager.GetSecretValue`) when there is one. */
  operation: string | undefined;
}

/** An answer the proxy has received from the server and keeps from the client until released. */
export interface HeldAnswer {
  /** Resolves once the server has answered the request (the client is still waiting). */
  answered: Promise<void>;
  release(): void;
}

/**
 * A loopback HTTP proxy in front of a real server that records each request's method,
 * path, body field names, whether it carried a Vault token and its AWS operation, so a test
 * can show which calls the program made (sys/init and sys/unseal happen while sealed, before
 * any audit device runs) and count what it costs (in front of moto: the store calls). It can also hold the
 * server's answer to one request, so a test acts at a known point of a call in flight.
 *
 * Each client connection has its own connection to the server, and closes when that one closes.
 * A server that restarts behind the proxy then closes the client's connections as it would
 * without a proxy: the sidecar reads a close as the sign of a restart, and an unchanged count
 * as a seal made in place.
 */
export class RecordingProxy {
  readonly requests: RecordedRequest[] = [];
  readonly #server: Server;
  #port = 0;
  readonly #holds: Array<{ method: string; path: string; answered: () => void; released: Promise<void> }> = [];

  private constructor(target: URL) {
    const upstreamOf = new WeakMap<Socket, Agent>();
    const watched = new WeakSet<Socket>();
    this.#server = createServer((incoming, outgoing) => {
      const chunks: Buffer[] = [];
      incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
      incoming.on('end', () => {
        const body = Buffer.concat(chunks);
        let bodyFields: string[];
        try {
          bodyFields = body.length > 0 ? Object.keys(JSON.parse(body.toString('utf8')) as object).sort() : [];
        } catch {
          bodyFields = ['<not json>'];
        }
        const amzTarget = incoming.headers['x-amz-target'];
        this.requests.push({
          method: incoming.method ?? '',
          path: (incoming.url ?? '').split('?')[0]!,
          bodyFields,
          token: incoming.headers['x-vault-token'] !== undefined,
          operation: typeof amzTarget === 'string' ? amzTarget : undefined,
        });
        const client = incoming.socket;
        const forward = httpRequest(
          {
            host: target.hostname,
            port: target.port,
            method: incoming.method,
            path: incoming.url,
            headers: { ...incoming.headers, host: target.host },
            agent: upstreamOf.get(client),
          },
          (answer) => {
            const path = (incoming.url ?? '').split('?')[0]!;
            const hold = this.#holds.findIndex(
              (candidate) => candidate.method === incoming.method && `/v1/${candidate.path}` === path,
            );
            const deliver = () => {
              outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
              answer.pipe(outgoing);
            };
            if (hold === -1) return deliver();
            const held = this.#holds.splice(hold, 1)[0]!;
            answer.pause();
            held.answered();
            void held.released.then(deliver);
          },
        );
        forward.on('socket', (upstream) => {
          if (watched.has(upstream)) return;
          watched.add(upstream);
          upstream.once('close', () => client.destroy());
        });
        forward.on('error', () => outgoing.destroy());
        forward.end(body);
      });
    });
    this.#server.on('connection', (client: Socket) => {
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      upstreamOf.set(client, agent);
      client.once('close', () => agent.destroy());
    });
  }

  static async start(target: string): Promise<RecordingProxy> {
    const proxy = new RecordingProxy(new URL(target));
    await new Promise<void>((resolve) => proxy.#server.listen(0, '127.0.0.1', resolve));
    proxy.#port = (proxy.#server.address() as AddressInfo).port;
    return proxy;
  }

  get address(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  /** Holds the server's answer to the next `method path` request until release(). */
  holdAnswer(method: string, path: string): HeldAnswer {
    let answered!: () => void;
    let release!: () => void;
    const answeredPromise = new Promise<void>((resolve) => (answered = resolve));
    const released = new Promise<void>((resolve) => (release = resolve));
    this.#holds.push({ method, path, answered, released });
    return { answered: answeredPromise, release };
  }

  paths(method: string, path: string): RecordedRequest[] {
    return this.requests.filter((request) => request.method === method && request.path === `/v1/${path}`);
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
