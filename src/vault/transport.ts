import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import type * as Https from 'node:https';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import type { TlsConfig } from '../config/index.js';

/** What node-vault hands its request function (the former request-promise options). */
export interface TransportRequest {
  method: string;
  uri: string;
  headers?: Record<string, string>;
  json?: unknown;
  timeout?: number;
}

export interface TransportResponse {
  statusCode: number;
  body: unknown;
  request: { path: string };
}

const MAX_RESPONSE_BYTES = 1024 * 1024;

/**
 * Node's https (and tls under it) only for an https:// address: loading them costs ~35 ms of
 * start-up on Node 24 and a run against http:// (a server in the same pod on loopback) never uses them.
 */
function loadHttps(): typeof Https {
  return createRequire(import.meta.url)('node:https') as typeof Https;
}

/**
 * HTTP to the one Vault server over Node's own http/https, plugged into node-vault as its
 * request function. Two reasons (README, design decisions): every TLS setting comes from our
 * Config and nothing from the environment, and the keep-alive connection is ours to watch.
 * A server process that exits closes it at once, so its close is the earliest sign of a
 * restart (the loop looks again immediately) — and a seal made in place closes none.
 *
 * One watched connection: a request goes over it when it is free, and requests sent at the
 * same time as it (the reads of a reconcile, the writes of configuring) over other, unwatched
 * connections. Their closes say nothing: Node's agent closes idle ones itself when it keeps too
 * many, and the server closes them after its idle timeout, neither of which is a restart.
 */
export class Transport {
  /** The watched connection: one socket, kept alive. */
  readonly #agent: HttpAgent;
  /** Requests sent while the watched connection is busy. */
  readonly #sideAgent: HttpAgent;
  #watchedBusy = 0;
  readonly #secure: boolean;
  readonly #request: typeof httpRequest;
  readonly #listeners = new Set<() => void>();
  readonly #watched = new WeakSet<Socket>();
  #closedConnections = 0;

  constructor(address: URL, tls: TlsConfig) {
    this.#secure = address.protocol === 'https:';
    const https = this.#secure ? loadHttps() : undefined;
    this.#request = https?.request ?? httpRequest;
    const agent = (options: { maxSockets: number; maxFreeSockets: number }): HttpAgent =>
      https
        ? new https.Agent({
            keepAlive: true,
            scheduling: 'lifo',
            ...options,
            rejectUnauthorized: !tls.skipVerify,
            ...(tls.caCertificates.length > 0 ? { ca: [...tls.caCertificates] } : {}),
            ...(tls.clientCertificate ? { cert: tls.clientCertificate, key: tls.clientKey } : {}),
            ...(tls.serverName ? { servername: tls.serverName } : {}),
          })
        : new HttpAgent({ keepAlive: true, scheduling: 'lifo', ...options });
    // One socket: the agent never has a second to close, so every close of it is news.
    this.#agent = agent({ maxSockets: 1, maxFreeSockets: 1 });
    this.#sideAgent = agent({ maxSockets: 4, maxFreeSockets: 1 });
  }

  /** How many established connections to the server have closed since start. */
  get closedConnections(): number {
    return this.#closedConnections;
  }

  /** Calls `listener` each time an established connection closes; returns the unsubscribe. */
  onConnectionClosed(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** node-vault's `request-promise` option: an object whose `defaults()` gives the request function. */
  forNodeVault(): { defaults: () => (request: TransportRequest) => Promise<TransportResponse> } {
    return { defaults: () => (request) => this.send(request) };
  }

  send(request: TransportRequest): Promise<TransportResponse> {
    const url = new URL(request.uri);
    const payload = request.json === undefined ? undefined : Buffer.from(JSON.stringify(request.json));
    const headers: Record<string, string | number> = { accept: 'application/json', ...request.headers };
    if (payload !== undefined)
      Object.assign(headers, { 'content-type': 'application/json', 'content-length': payload.length });
    const watched = this.#watchedBusy === 0;
    if (watched) this.#watchedBusy += 1;
    return new Promise<TransportResponse>((resolve, reject) => {
      const outgoing: ClientRequest = this.#request(
        url,
        { method: request.method, headers, agent: watched ? this.#agent : this.#sideAgent },
        (response) => {
          readBody(response).then(
            (body) => resolve({ statusCode: response.statusCode ?? 0, body, request: { path: url.pathname } }),
            reject,
          );
        },
      );
      if (watched) {
        outgoing.on('socket', (socket) => this.#watch(socket));
        outgoing.once('close', () => {
          this.#watchedBusy -= 1;
        });
      }
      outgoing.on('error', reject);
      if (request.timeout !== undefined) {
        // The whole exchange, not the idle time between bytes: a server that trickles its answer is cut off too.
        const timer = setTimeout(
          () => outgoing.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })),
          request.timeout,
        );
        outgoing.once('close', () => clearTimeout(timer));
      }
      outgoing.end(payload);
    });
  }

  /**
   * One request whose bodies are streams, not JSON (raft snapshots: hundreds of megabytes, never
   * held in memory). Resolves with the response once its headers arrive; the caller reads or
   * discards it. A connection silent for `idleTimeoutMs` is destroyed (ETIMEDOUT), whatever the
   * whole transfer takes.
   */
  stream(request: {
    method: string;
    uri: string;
    headers: Record<string, string>;
    body?: Readable;
    idleTimeoutMs: number;
  }): Promise<IncomingMessage> {
    const url = new URL(request.uri);
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = {
        ...request.headers,
        ...(request.body ? { 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' } : {}),
      };
      // Off the watched connection: a transfer of minutes must not hold up the loop's passes.
      const outgoing: ClientRequest = this.#request(
        url,
        { method: request.method, headers, agent: this.#sideAgent },
        resolve,
      );
      outgoing.on('error', reject);
      outgoing.setTimeout(request.idleTimeoutMs, () =>
        outgoing.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })),
      );
      if (request.body === undefined) {
        outgoing.end();
        return;
      }
      request.body.on('error', (error) => outgoing.destroy(error));
      request.body.pipe(outgoing);
    });
  }

  /** Ends every connection (shutdown). */
  close(): void {
    this.#agent.destroy();
    this.#sideAgent.destroy();
  }

  #watch(socket: Socket): void {
    if (this.#watched.has(socket)) return;
    this.#watched.add(socket);
    let established = !socket.connecting;
    socket.once(this.#secure ? 'secureConnect' : 'connect', () => {
      established = true;
    });
    socket.once('close', () => {
      // A connection that never opened (refused while the server is down) is no news.
      if (!established) return;
      this.#closedConnections += 1;
      for (const listener of this.#listeners) listener();
    });
  }
}

async function readBody(response: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_RESPONSE_BYTES) {
      response.destroy();
      throw Object.assign(new Error('response too large'), { code: 'ERESPONSETOOLARGE' });
    }
    chunks.push(chunk);
  }
  if (size === 0) return {};
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    return {};
  }
}
