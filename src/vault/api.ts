import { CALL_DEADLINE_MS } from '../deadlines.js';
import { BootstrapError } from '../errors.js';
import { Secret } from '../secret.js';
import type { Readable } from 'node:stream';
import type { CallOptions, VaultClient, VaultResponse, VaultStreamResponse } from './client.js';

/** Explicit codes for every state, so each answers distinctly whatever the server's defaults. */
const HEALTH_QUERY: Readonly<Record<string, string>> = Object.freeze({
  standbyok: 'false',
  perfstandbyok: 'false',
  activecode: '200',
  standbycode: '429',
  drsecondarycode: '472',
  performancestandbycode: '473',
  uninitcode: '501',
  sealedcode: '503',
  removedcode: '530',
});

export interface SealStatus {
  type: string;
  initialized: boolean;
  sealed: boolean;
  threshold: number;
  shares: number;
  progress: number;
  /** Identifies the unseal attempt in progress (empty when none). */
  nonce: string;
  /** A seal migration is in progress: a person runs it; nothing here feeds it keys. */
  migration: boolean;
}

export interface InitRequest {
  secret_shares?: number;
  secret_threshold?: number;
  recovery_shares?: number;
  recovery_threshold?: number;
  /** PGP custody: base64 public keys, one per recovery share, each share encrypted to one. */
  recovery_pgp_keys?: string[];
}

export interface InitResult {
  /** Unseal keys (Shamir) or recovery keys (auto-unseal), base64. */
  keys: Secret[];
  rootToken: Secret;
}

export interface TokenInfo {
  accessor: string;
  policies: string[];
  /** Seconds left; 0 for a token that never expires. */
  ttlSeconds: number;
  creationTtlSeconds: number;
}

export interface TokenRole {
  allowed_policies: string[];
  orphan: boolean;
  renewable: boolean;
  token_type: string;
}

export interface AuditDevice {
  type: string;
  options: Record<string, string>;
}

type Signal = Pick<CallOptions, 'signal'>;

/** Typed Vault operations, one function per API call, named by what it does. */
export class VaultApi {
  readonly #client: VaultClient;

  constructor(client: VaultClient) {
    this.#client = client;
  }

  get address(): URL {
    return this.#client.address;
  }

  /** The transport, for the rotation and generate-root calls of rotation.ts. */
  get client(): VaultClient {
    return this.#client;
  }

  /** Calls `listener` whenever an established connection to the server closes (a restart closes them all). */
  onConnectionClosed(listener: () => void): () => void {
    return this.#client.transport.onConnectionClosed(listener);
  }

  /** Established connections closed so far: unchanged between two answers means the server process kept running. */
  get closedConnections(): number {
    return this.#client.transport.closedConnections;
  }

  close(): void {
    this.#client.close();
  }

  /** Status code of sys/health; VAULT_UNREACHABLE is thrown when there is no answer (within `timeoutMs`, by default the health deadline). */
  async health(
    options: Signal & Pick<CallOptions, 'timeoutMs'> = {},
  ): Promise<
    VaultResponse<{ initialized?: boolean; sealed?: boolean; standby?: boolean; version?: string; cluster_id?: string }>
  > {
    return this.#client.call('GET', 'sys/health', {
      query: { ...HEALTH_QUERY },
      timeoutMs: CALL_DEADLINE_MS.vaultHealth,
      ...options,
    });
  }

  async sealStatus(options: Signal = {}): Promise<SealStatus> {
    const body = expectOk(await this.#client.call('GET', 'sys/seal-status', options), 'read seal status');
    return {
      type: String(body.type ?? 'unknown'),
      initialized: body.initialized === true,
      sealed: body.sealed === true,
      threshold: Number(body.t ?? 0),
      shares: Number(body.n ?? 0),
      progress: Number(body.progress ?? 0),
      nonce: typeof body.nonce === 'string' ? body.nonce : '',
      migration: body.migration === true,
    };
  }

  /** PUT sys/init. Not abortable: once sent, its answer holds the only copy of the keys. */
  async initialize(request: InitRequest): Promise<InitResult> {
    const response = await this.#client.call<Record<string, unknown>>('PUT', 'sys/init', {
      body: request,
      timeoutMs: CALL_DEADLINE_MS.vaultKeyGeneration,
    });
    const body = expectOk(response, 'initialize');
    const recovery = Array.isArray(body.recovery_keys_base64) && body.recovery_keys_base64.length > 0;
    const keys = (recovery ? body.recovery_keys_base64 : body.keys_base64) as unknown;
    if (!Array.isArray(keys) || keys.length === 0 || typeof body.root_token !== 'string') {
      throw new BootstrapError('VAULT_REQUEST_FAILED', 'initialize: the answer holds no keys or no root token');
    }
    return { keys: keys.map((key) => new Secret(String(key))), rootToken: new Secret(body.root_token) };
  }

  /**
   * Submits one unseal key share; returns whether the server is still sealed. A 400 means the
   * server refused the share (not base64, or the shares do not open this barrier): KEYS_REJECTED.
   */
  async unseal(
    key: Secret,
    options: Signal = {},
    how: { migrate?: boolean } = {},
  ): Promise<{ sealed: boolean; progress: number }> {
    // migrate=true: the share also authorizes a seal migration in progress (migrate-seal only).
    const response = await this.#client.call('PUT', 'sys/unseal', {
      body: { key: key.reveal(), ...(how.migrate ? { migrate: true } : {}) },
      ...options,
    });
    if (response.status === 400) {
      throw new BootstrapError(
        'KEYS_REJECTED',
        `unseal: the server refused the stored shares: ${firstError(response.body)}`,
        { statusCode: 400 },
      );
    }
    const body = expectOk(response, 'unseal');
    return { sealed: body.sealed === true, progress: Number(body.progress ?? 0) };
  }

  /** PUT sys/unseal {"reset":true}: the server drops the unseal shares it holds. */
  async resetUnseal(options: Signal = {}): Promise<void> {
    expectOk(
      await this.#client.call('PUT', 'sys/unseal', { body: { reset: true }, ...options }),
      'reset unseal progress',
    );
  }

  /** The policy's text, or undefined when the server has no such policy. */
  async readPolicy(name: string, token: Secret, options: Signal = {}): Promise<string | undefined> {
    const response = await this.#client.call<{ data?: { policy?: string } }>('GET', `sys/policies/acl/${name}`, {
      token,
      ...options,
    });
    if (response.status === 404) return undefined;
    return String(expectOk(response, `read policy ${name}`).data?.policy ?? '');
  }

  async writePolicy(name: string, text: string, token: Secret, options: Signal = {}): Promise<void> {
    const response = await this.#client.call('PUT', `sys/policies/acl/${name}`, {
      token,
      body: { policy: text },
      ...options,
    });
    if (response.status === 400) {
      throw new BootstrapError(
        'POLICY_REJECTED',
        `policy ${name}: rejected by the server: ${firstError(response.body)}`,
        { statusCode: 400 },
      );
    }
    expectOk(response, `write policy ${name}`);
  }

  async readTokenRole(name: string, token: Secret, options: Signal = {}): Promise<TokenRole | undefined> {
    const response = await this.#client.call<{ data?: TokenRole }>('GET', `auth/token/roles/${name}`, {
      token,
      ...options,
    });
    if (response.status === 404) return undefined;
    return expectOk(response, `read token role ${name}`).data;
  }

  async writeTokenRole(
    name: string,
    role: Record<string, unknown>,
    token: Secret,
    options: Signal = {},
  ): Promise<void> {
    expectOk(
      await this.#client.call('POST', `auth/token/roles/${name}`, { token, body: role, ...options }),
      `write token role ${name}`,
    );
  }

  /** Creates a token through a role. Not abortable: the answer is a secret that must be stored. */
  async createTokenWithRole(
    role: string,
    ttlSeconds: number,
    displayName: string,
    token: Secret,
  ): Promise<{ token: Secret; accessor: string; policies: string[] }> {
    const response = await this.#client.call<{
      auth?: { client_token?: string; accessor?: string; policies?: string[] };
    }>('POST', `auth/token/create/${role}`, {
      token,
      body: { ttl: `${ttlSeconds}s`, display_name: displayName, no_parent: true },
    });
    const auth = expectOk(response, `create token with role ${role}`).auth;
    if (typeof auth?.client_token !== 'string' || typeof auth.accessor !== 'string') {
      throw new BootstrapError('VAULT_REQUEST_FAILED', `create token with role ${role}: the answer holds no token`);
    }
    return { token: new Secret(auth.client_token), accessor: auth.accessor, policies: auth.policies ?? [] };
  }

  /**
   * Logs in through an auth mount (`auth/{mount}/login`) with the fields the method takes. A
   * 400/403 is the server's refusal (role, binding, TokenReview, secret ID), given back in its
   * words; the secret sent is never part of it.
   */
  async login(
    mount: string,
    fields: Record<string, string>,
    secret: { field: string; value: Secret },
    options: Signal = {},
  ): Promise<
    { kind: 'token'; token: Secret; policies: string[]; ttlSeconds: number } | { kind: 'rejected'; problem: string }
  > {
    const response = await this.#client.call<{
      auth?: { client_token?: string; policies?: string[]; lease_duration?: number };
    }>('POST', `auth/${mount}/login`, {
      body: { ...fields, [secret.field]: secret.value.reveal() },
      ...options,
    });
    if (response.status === 400 || response.status === 403 || response.status === 404) {
      return {
        kind: 'rejected',
        problem: `auth/${mount}/login: HTTP ${response.status}: ${firstError(response.body)}`,
      };
    }
    const auth = expectOk(response, `log in through auth/${mount}`).auth;
    if (typeof auth?.client_token !== 'string')
      throw new BootstrapError('VAULT_REQUEST_FAILED', `log in through auth/${mount}: the answer holds no token`);
    return {
      kind: 'token',
      token: new Secret(auth.client_token),
      policies: auth.policies ?? [],
      ttlSeconds: Number(auth.lease_duration ?? 0),
    };
  }

  /** Enabled audit devices by path (`stdout/`): their type and options. Needs sudo on sys/audit. */
  async readAuditDevices(token: Secret, options: Signal = {}): Promise<Map<string, AuditDevice>> {
    const body = expectOk(
      await this.#client.call<Record<string, unknown>>('GET', 'sys/audit', { token, ...options }),
      'read audit devices',
    );
    // Vault answers the devices both at the top level and under `data`; `data` alone is enough.
    const devices = (typeof body.data === 'object' && body.data !== null ? body.data : body) as Record<string, unknown>;
    const found = new Map<string, AuditDevice>();
    for (const [path, value] of Object.entries(devices)) {
      if (!path.endsWith('/') || typeof value !== 'object' || value === null) continue;
      const device = value as { type?: unknown; options?: Record<string, unknown> | null };
      found.set(path, {
        type: String(device.type ?? ''),
        options: Object.fromEntries(Object.entries(device.options ?? {}).map(([key, option]) => [key, String(option)])),
      });
    }
    return found;
  }

  async enableAuditDevice(path: string, device: AuditDevice, token: Secret, options: Signal = {}): Promise<void> {
    expectOk(
      await this.#client.call('PUT', `sys/audit/${path}`, { token, body: device, ...options }),
      `enable audit device ${path}`,
    );
  }

  async disableAuditDevice(path: string, token: Secret, options: Signal = {}): Promise<void> {
    expectOk(
      await this.#client.call('DELETE', `sys/audit/${path}`, { token, ...options }),
      `disable audit device ${path}`,
    );
  }

  /** Looks a token up with itself; undefined when the server no longer accepts it. */
  async lookupSelf(token: Secret, options: Signal = {}): Promise<TokenInfo | undefined> {
    const response = await this.#client.call<{ data?: Record<string, unknown> }>('GET', 'auth/token/lookup-self', {
      token,
      ...options,
    });
    if (response.status === 403 || response.status === 401) return undefined;
    const data = expectOk(response, 'look up token').data ?? {};
    return {
      accessor: String(data.accessor ?? ''),
      policies: Array.isArray(data.policies) ? data.policies.map(String) : [],
      ttlSeconds: Number(data.ttl ?? 0),
      creationTtlSeconds: Number(data.creation_ttl ?? 0),
    };
  }

  async revokeAccessor(accessor: string, token: Secret, options: Signal = {}): Promise<void> {
    const response = await this.#client.call('POST', 'auth/token/revoke-accessor', {
      token,
      body: { accessor },
      ...options,
    });
    // 400 "invalid accessor": already revoked or expired, which is the goal.
    if (response.status === 400) return;
    expectOk(response, 'revoke token by accessor');
  }

  async revokeSelf(token: Secret): Promise<void> {
    const response = await this.#client.call('POST', 'auth/token/revoke-self', { token });
    if (response.status === 403) return;
    expectOk(response, 'revoke token');
  }

  /**
   * The API addresses of the cluster's nodes the active node knows (itself and every standby
   * that reports to it), from sys/ha-status; a sealed node is not among them.
   */
  async clusterNodes(token: Secret, options: Signal = {}): Promise<Array<{ apiAddress: string; active: boolean }>> {
    const response = await this.#client.call<{ data?: { nodes?: unknown }; nodes?: unknown }>('GET', 'sys/ha-status', {
      token,
      ...options,
    });
    const body = expectOk(response, 'read HA status');
    const nodes = body.data?.nodes ?? body.nodes;
    if (!Array.isArray(nodes)) return [];
    return nodes
      .filter(
        (node): node is { api_address: string; active_node?: unknown } =>
          typeof node?.api_address === 'string' && node.api_address !== '',
      )
      .map((node) => ({ apiAddress: node.api_address, active: node.active_node === true }));
  }

  /**
   * The active node's API address as this node knows it (GET sys/leader, unauthenticated), or
   * undefined when it names none (no HA, sealed, or no leader known yet).
   */
  async leaderAddress(options: Signal = {}): Promise<string | undefined> {
    const response = await this.#client.call<{ leader_address?: unknown }>('GET', 'sys/leader', options);
    if (response.status < 200 || response.status >= 300) return undefined;
    const address = response.body.leader_address;
    return typeof address === 'string' && address !== '' ? address : undefined;
  }

  /**
   * sys/leader as this node sees it: the active node's API address (undefined when it names none)
   * and whether that is this node (`is_self`, which OpenBao leaves out when false).
   */
  async leader(options: Signal = {}): Promise<{ address: string | undefined; isSelf: boolean }> {
    const response = await this.#client.call<{ leader_address?: unknown; is_self?: unknown }>(
      'GET',
      'sys/leader',
      options,
    );
    if (response.status < 200 || response.status >= 300) return { address: undefined, isSelf: false };
    const address = response.body.leader_address;
    return {
      address: typeof address === 'string' && address !== '' ? address : undefined,
      isSelf: response.body.is_self === true,
    };
  }

  /**
   * Each raft server as autopilot sees it (sys/storage/raft/autopilot/state): its node id and
   * whether it may be elected (`leader` or `voter`, and healthy). A restarted node rejoins as a
   * non-voter until its stabilization time has passed. Undefined when the storage is not raft.
   */
  async raftVoters(
    token: Secret,
    options: Signal = {},
  ): Promise<Array<{ id: string; electable: boolean }> | undefined> {
    const response = await this.#client.call<{ data?: { servers?: Record<string, unknown> } }>(
      'GET',
      'sys/storage/raft/autopilot/state',
      { token, ...options },
    );
    if (response.status === 404 || response.status === 400) return undefined;
    const servers = expectOk(response, 'read the raft autopilot state').data?.servers ?? {};
    return Object.entries(servers).map(([id, value]) => {
      const server = value as { status?: unknown; healthy?: unknown };
      return { id, electable: server.healthy === true && (server.status === 'leader' || server.status === 'voter') };
    });
  }

  /** Gives up the active role (sys/step-down): another unsealed node takes over. */
  async stepDown(token: Secret, options: Signal = {}): Promise<void> {
    const response = await this.#client.call('PUT', 'sys/step-down', { token, ...options });
    expectOk(response, 'step down');
  }

  /** How many servers the raft configuration holds (voters or not); undefined when storage is not raft. */
  async raftServerCount(token: Secret, options: Signal = {}): Promise<number | undefined> {
    const response = await this.#client.call<{ data?: { config?: { servers?: unknown } } }>(
      'GET',
      'sys/storage/raft/configuration',
      { token, ...options },
    );
    if (response.status < 200 || response.status >= 300) return undefined;
    const servers = response.body.data?.config?.servers;
    return Array.isArray(servers) ? servers.length : undefined;
  }

  /** Seals this node (the emergency brake); needs a token with sudo on sys/seal (the root token). */
  async seal(token: Secret, options: Signal = {}): Promise<void> {
    expectOk(await this.#client.call('PUT', 'sys/seal', { token, ...options }), 'seal');
  }

  /**
   * GET sys/storage/raft/snapshot: the raft snapshot as a stream (the caller consumes it). A
   * non-2xx answer is read (it is JSON) and thrown. A 200 with an empty body is what a standby
   * answers: the caller's verification refuses it.
   */
  async readSnapshot(token: Secret, options: Signal = {}): Promise<Readable> {
    const response = await this.#client.stream('GET', 'sys/storage/raft/snapshot', {
      token,
      idleTimeoutMs: SNAPSHOT_IDLE_TIMEOUT_MS,
      ...options,
    });
    if (response.status === 200) return response.body;
    throw await streamFailure(response, 'read raft snapshot');
  }

  /** POST sys/storage/raft/snapshot-force: replaces this cluster's data with the snapshot streamed from `body`. */
  async forceRestoreSnapshot(token: Secret, body: Readable, options: Signal = {}): Promise<void> {
    const response = await this.#client.stream('POST', 'sys/storage/raft/snapshot-force', {
      token,
      body,
      idleTimeoutMs: SNAPSHOT_IDLE_TIMEOUT_MS,
      ...options,
    });
    if (response.status >= 200 && response.status < 300) {
      response.body.resume();
      return;
    }
    throw await streamFailure(response, 'force-restore raft snapshot');
  }

  /** Asks the server to join a raft cluster through the given leader address. */
  async joinRaft(leaderAddress: string, options: Signal = {}): Promise<boolean> {
    const response = await this.#client.call<{ joined?: boolean }>('POST', 'sys/storage/raft/join', {
      body: { leader_api_addr: leaderAddress },
      ...options,
    });
    return expectOk(response, 'join raft cluster').joined === true;
  }
}

/** A snapshot transfer may take minutes; a connection silent this long is dead. */
const SNAPSHOT_IDLE_TIMEOUT_MS = 60_000;

async function streamFailure(response: VaultStreamResponse, what: string): Promise<BootstrapError> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response.body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > 64 * 1024) break;
    chunks.push(chunk);
  }
  response.body.destroy();
  let parsed: unknown = {};
  try {
    parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    // not JSON: no error text
  }
  return new BootstrapError('VAULT_REQUEST_FAILED', `${what}: HTTP ${response.status}: ${firstError(parsed)}`, {
    statusCode: response.status,
  });
}

function expectOk<Body>(response: VaultResponse<Body>, what: string): Body {
  if (response.status >= 200 && response.status < 300) return response.body;
  throw new BootstrapError('VAULT_REQUEST_FAILED', `${what}: HTTP ${response.status}: ${firstError(response.body)}`, {
    statusCode: response.status,
  });
}

/** Vault's error text names paths and reasons, never a submitted value; cut it short all the same. */
function firstError(body: unknown): string {
  const errors = (body as { errors?: unknown })?.errors;
  const first = Array.isArray(errors) && errors.length > 0 ? String(errors[0]) : 'no error text';
  return first.replace(/\s+/g, ' ').slice(0, 200);
}
