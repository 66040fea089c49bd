import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import nodeVault from 'node-vault';
import type { TlsConfig } from '../config/index.js';
import { CALL_DEADLINE_MS, Deadlines } from '../deadlines.js';
import { AbortedError, BootstrapError } from '../errors.js';
import type { Secret } from '../secret.js';
import { Transport } from './transport.js';

export interface VaultResponse<Body = Record<string, unknown>> {
  status: number;
  /** Parsed JSON body; an empty object for 204 or a non-JSON body. */
  body: Body;
}

export interface CallOptions {
  token?: Secret;
  body?: unknown;
  query?: Record<string, string>;
  /** Abandons the wait (not the request) on shutdown; left out where secrets are in flight. */
  signal?: AbortSignal;
  /** This call's own deadline (CALL_DEADLINE_MS.vault when absent); the run's end may cut it shorter. */
  timeoutMs?: number;
}

/**
 * The one door to Vault's HTTP API: every call returns its status and body, and only
 * transport failures throw (code VAULT_UNREACHABLE, message without headers or body).
 *
 * It goes through node-vault's generic `request` only (SPEC §8), configured so that
 * nothing is taken from the environment behind our back: token, namespace and path prefix
 * are cleared, its debug output (which prints request bodies, unseal keys included) is
 * silenced, its status-to-exception handling is replaced by returning the status, and its
 * HTTP goes through our Transport, whose TLS settings come from Config alone and whose
 * connection closes tell the loop that the server restarted. Every call has a deadline
 * (Deadlines): past it the request is destroyed and the call fails as VAULT_UNREACHABLE.
 */
export class VaultClient {
  readonly address: URL;
  readonly transport: Transport;
  readonly #client: nodeVault.client;
  readonly #deadlines: Deadlines;
  readonly #requestListeners = new Set<(withToken: boolean) => void>();

  constructor(address: URL, tls: TlsConfig, deadlines: Deadlines = new Deadlines()) {
    this.address = address;
    this.#deadlines = deadlines;
    this.transport = new Transport(address, tls);
    this.#client = nodeVault({
      endpoint: address.origin + address.pathname.replace(/\/$/, ''),
      apiVersion: 'v1',
      debug: () => undefined,
      // No convenience commands (SPEC §8): node-vault then builds none of its ~150 command functions.
      commands: {},
      'request-promise': this.transport.forNodeVault(),
    } as nodeVault.VaultOptions);
    // node-vault reads VAULT_TOKEN, VAULT_NAMESPACE and VAULT_PREFIX itself; we send a token per call only.
    this.#client.token = '';
    Object.assign(this.#client, { namespace: undefined, pathPrefix: '' });
    this.#client.handleVaultResponse = async (response) => response;
  }

  /** Calls `listener` for each request sent, saying whether it carries a token (the cost metric). */
  onRequest(listener: (withToken: boolean) => void): void {
    this.#requestListeners.add(listener);
  }

  close(): void {
    this.transport.close();
  }

  async call<Body = Record<string, unknown>>(
    method: string,
    path: string,
    options: CallOptions = {},
  ): Promise<VaultResponse<Body>> {
    const query = options.query ? `?${new URLSearchParams(options.query).toString()}` : '';
    const send = ({ ms }: { ms: number }) => {
      for (const listener of this.#requestListeners) listener(options.token !== undefined);
      const request = this.#client.request({
        method,
        path: `/${path}${query}`,
        headers: options.token ? { 'X-Vault-Token': options.token.reveal() } : {},
        ...(options.body === undefined ? {} : { json: options.body }),
        timeout: ms,
      }) as Promise<{ statusCode: number; body: unknown }>;
      return abortable(request, options.signal);
    };
    const response = await this.#deadlines
      .call('vault', 'vault', `${method} /v1/${path}`, options.timeoutMs ?? CALL_DEADLINE_MS.vault, send)
      .catch((error: unknown) => {
        throw transportError(method, path, error);
      });
    const body = typeof response.body === 'object' && response.body !== null ? response.body : {};
    return { status: response.statusCode, body: body as Body };
  }

  /**
   * A call whose body (request or response) is a byte stream, not JSON: the raft snapshot and its
   * restore. node-vault buffers and parses every body, so these two go through our Transport
   * directly (docs/design.md, node-vault); headers and errors are handled as call() does.
   */
  async stream(method: string, path: string, options: StreamOptions): Promise<VaultStreamResponse> {
    for (const listener of this.#requestListeners) listener(true);
    const base = this.address.origin + this.address.pathname.replace(/\/$/, '');
    try {
      const response = await abortable(
        this.transport.stream({
          method,
          uri: `${base}/v1/${path}`,
          headers: { 'X-Vault-Token': options.token.reveal() },
          ...(options.body ? { body: options.body } : {}),
          idleTimeoutMs: options.idleTimeoutMs,
        }),
        options.signal,
      );
      return { status: response.statusCode ?? 0, body: response };
    } catch (error) {
      throw transportError(method, path, error);
    }
  }
}

export interface StreamOptions {
  token: Secret;
  /** A request body streamed as it is read (a snapshot to restore). */
  body?: Readable;
  /** The longest silence allowed on the connection (the transfer itself may take as long as it needs). */
  idleTimeoutMs: number;
  signal?: AbortSignal;
}

/** A response whose body is a stream (IncomingMessage): the caller consumes or destroys it. */
export interface VaultStreamResponse {
  status: number;
  body: IncomingMessage;
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.reject(new AbortedError());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new AbortedError());
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** Transport errors may carry the request (headers, token, body): keep only the method, path and error code. */
function transportError(method: string, path: string, error: unknown): BootstrapError {
  if (error instanceof BootstrapError) return error;
  const code =
    typeof error === 'object' && error !== null && 'code' in error
      ? String((error as { code: unknown }).code)
      : 'request failed';
  return new BootstrapError('VAULT_UNREACHABLE', `${method} /v1/${path}: ${code}`);
}
