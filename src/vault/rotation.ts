import { CALL_DEADLINE_MS } from '../deadlines.js';
import { BootstrapError, ConfigError } from '../errors.js';
import { Secret } from '../secret.js';
import type { KeyType, UnsealKeys } from '../store/records.js';
import type { VaultClient, VaultResponse } from './client.js';
import { SERVER_TRAITS, type KeyRotationPaths, type ServerKind } from './servers.js';

/**
 * Key rotation and root-token generation, for both servers. The paths that differ are named
 * in servers.ts (SERVER_TRAITS.rotation): OpenBao ≥ 2.4 rotates through the authenticated
 * sys/rotate/(root|recovery)/{init,update,verify} (its old sys/rekey* answer 405 "unsupported
 * operation" by default), HashiCorp Vault through the unauthenticated sys/rekey/* and
 * sys/rekey-recovery-key/*, with the same verification flow. sys/generate-root is the same
 * on both (unauthenticated; switched off by default from OpenBao 2.5.3).
 */
export type KeyKind = 'unseal' | 'recovery';

/** The rotation API's name for a stored key type: Shamir keys are rotated as `unseal` keys. */
export function rotationKindOf(keyType: KeyType): KeyKind {
  return keyType === 'shamir' ? 'unseal' : 'recovery';
}

export interface RotationStatus {
  started: boolean;
  nonce: string;
  /** Old key shares submitted so far. */
  progress: number;
  /** How many old key shares complete the rotation. */
  required: number;
  verificationRequired: boolean;
  /** Set once every old share is in and the new keys await verification. */
  verificationNonce: string;
  newShares: number;
  newThreshold: number;
}

export interface VerificationStatus {
  started: boolean;
  nonce: string;
  progress: number;
  threshold: number;
}

export type RotationUpdate =
  | { complete: false; progress: number }
  | { complete: true; keys: Secret[]; fingerprints: string[]; verificationNonce: string };

export interface GenerateRootStatus {
  started: boolean;
  nonce: string;
  progress: number;
  required: number;
}

/** Typed calls of one rotation (rekey) of one key kind on one server. */
export class KeyRotationApi {
  readonly #client: VaultClient;
  readonly #paths: KeyRotationPaths;
  readonly #token: Secret | undefined;

  constructor(client: VaultClient, server: ServerKind, kind: KeyKind, token: Secret) {
    this.#client = client;
    this.#paths = SERVER_TRAITS[server].rotation[kind];
    this.#token = this.#paths.authenticated ? token : undefined;
  }

  get path(): string {
    return this.#paths.init.replace(/\/init$/, '');
  }

  async status(): Promise<RotationStatus> {
    return decodeStatus(dataOf(expectOk(await this.#call('GET', 'init'), 'read rotation status')));
  }

  /** Starts a rotation; `pgpKeys` (base64 public keys) encrypt each new share to one custodian. */
  async start(request: {
    shares: number;
    threshold: number;
    requireVerification: boolean;
    pgpKeys?: string[];
  }): Promise<RotationStatus> {
    const body = {
      secret_shares: request.shares,
      secret_threshold: request.threshold,
      require_verification: request.requireVerification,
      ...(request.pgpKeys ? { pgp_keys: request.pgpKeys } : {}),
    };
    return decodeStatus(dataOf(expectOk(await this.#call('POST', 'init', body), 'start rotation')));
  }

  async cancel(): Promise<void> {
    expectOk(await this.#call('DELETE', 'init'), 'cancel rotation');
  }

  /**
   * Submits one current key share. Not abortable: the answer that completes the rotation
   * is the only copy of the new keys. A wrong set of shares answers 400 at the threshold
   * (KEYS_REJECTED); the server then resets the progress and keeps the rotation.
   */
  async update(key: Secret, nonce: string): Promise<RotationUpdate> {
    const response = await this.#call('POST', 'update', { key: key.reveal(), nonce });
    if (response.status === 400) throw rejected('rotation update', response);
    const data = dataOf(expectOk(response, 'submit key share to rotation'));
    if (data.complete !== true) return { complete: false, progress: Number(data.progress ?? 0) };
    const keys = data.keys_base64;
    if (!Array.isArray(keys) || keys.length === 0)
      throw new BootstrapError('ROTATION_FAILED', 'rotation update: the answer holds no new keys');
    return {
      complete: true,
      keys: keys.map((key) => new Secret(String(key))),
      fingerprints: Array.isArray(data.pgp_fingerprints) ? data.pgp_fingerprints.map(String) : [],
      verificationNonce: String(data.verification_nonce ?? ''),
    };
  }

  async verificationStatus(): Promise<VerificationStatus> {
    const response = await this.#call('GET', 'verify');
    if (response.status === 400 || response.status === 404)
      return { started: false, nonce: '', progress: 0, threshold: 0 };
    const data = dataOf(expectOk(response, 'read verification status'));
    return {
      started: data.started === true || Boolean(data.nonce),
      nonce: String(data.nonce ?? ''),
      progress: Number(data.progress ?? 0),
      threshold: Number(data.t ?? 0),
    };
  }

  /**
   * Submits one new key share to the verification; complete once the threshold is in, and
   * only then does the server switch to the new keys. A failed verification answers 400
   * and the server starts it anew under a new nonce.
   */
  async verify(key: Secret, nonce: string): Promise<{ complete: boolean; progress: number }> {
    const response = await this.#call('POST', 'verify', { key: key.reveal(), nonce });
    if (response.status === 400) throw rejected('rotation verification', response);
    const data = dataOf(expectOk(response, 'submit key share to verification'));
    return { complete: data.complete === true, progress: Number(data.progress ?? 0) };
  }

  async #call(method: string, step: 'init' | 'update' | 'verify', body?: unknown): Promise<VaultResponse> {
    return this.#client.call(method, this.#paths[step], {
      ...(this.#token ? { token: this.#token } : {}),
      ...(body === undefined ? {} : { body }),
      timeoutMs: CALL_DEADLINE_MS.vaultKeyGeneration,
    });
  }
}

/**
 * Whether the server takes these keys: a trial rotation (verification required, so nothing
 * changes) that completes only when they combine to the server's key; then cancelled.
 */
export async function serverAccepts(rotation: KeyRotationApi, candidate: Pick<UnsealKeys, 'keys'>): Promise<boolean> {
  const trial = await rotation.start({ shares: 1, threshold: 1, requireVerification: true });
  try {
    for (const key of candidate.keys) {
      if ((await rotation.update(key, trial.nonce)).complete) return true;
    }
    return false;
  } catch (error) {
    if (error instanceof BootstrapError && error.code === 'KEYS_REJECTED') return false;
    throw error;
  } finally {
    await rotation.cancel();
  }
}

/**
 * The OTP flow of generate-root. Unauthenticated: `sys/generate-root/*` (Vault; OpenBao only with
 * the listener's disable_unauthed_generate_root_endpoints = false, off by default from 2.5.3).
 * Authenticated (OpenBao >= 2.6): `sys/generate-root-token/*` with a token whose policy grants
 * it, the answers under `data`.
 */
export class GenerateRootApi {
  readonly #client: VaultClient;
  readonly #token: Secret | undefined;

  constructor(client: VaultClient, token?: Secret) {
    this.#client = client;
    this.#token = token;
  }

  /** The endpoint prefix in use, for the log. */
  get path(): string {
    return this.#token === undefined ? 'sys/generate-root' : 'sys/generate-root-token';
  }

  async status(): Promise<GenerateRootStatus> {
    return decodeGenerateRoot(await this.#call('GET', 'attempt', undefined, 'read generate-root status'));
  }

  /** Starts an attempt; the server makes the one-time pad and shows it only in this answer. */
  async start(): Promise<{ nonce: string; otp: Secret }> {
    const body = await this.#call('PUT', 'attempt', {}, 'start generate-root');
    if (typeof body.nonce !== 'string' || typeof body.otp !== 'string' || body.otp === '') {
      throw new BootstrapError(
        'GENERATE_ROOT_FAILED',
        'start generate-root: the answer holds no nonce or one-time pad',
      );
    }
    return { nonce: body.nonce, otp: new Secret(body.otp) };
  }

  async cancel(): Promise<void> {
    await this.#call('DELETE', 'attempt', undefined, 'cancel generate-root');
  }

  /** Submits one key share; the answer completing the attempt holds the encoded token. Not abortable. */
  async update(
    key: Secret,
    nonce: string,
  ): Promise<{ complete: false; progress: number } | { complete: true; encodedToken: Secret }> {
    const response = await this.#client.call('PUT', `${this.path}/update`, {
      ...this.#auth(),
      body: { key: key.reveal(), nonce },
      timeoutMs: CALL_DEADLINE_MS.vaultKeyGeneration,
    });
    if (response.status === 400) throw rejected('generate-root update', response);
    const body = this.#fields(expectGenerateRoot(response, 'submit key share to generate-root'));
    if (body.complete !== true) return { complete: false, progress: Number(body.progress ?? 0) };
    const encoded = body.encoded_token || body.encoded_root_token;
    if (typeof encoded !== 'string' || encoded === '')
      throw new BootstrapError('GENERATE_ROOT_FAILED', 'generate-root: the answer holds no encoded token');
    return { complete: true, encodedToken: new Secret(encoded) };
  }

  async #call(method: string, step: 'attempt', body: unknown, what: string): Promise<Record<string, unknown>> {
    const response = await this.#client.call(method, `${this.path}/${step}`, {
      ...this.#auth(),
      ...(body === undefined ? {} : { body }),
    });
    return this.#fields(expectGenerateRoot(response, what));
  }

  #auth(): { token?: Secret } {
    return this.#token === undefined ? {} : { token: this.#token };
  }

  #fields(body: Record<string, unknown>): Record<string, unknown> {
    if (this.#token === undefined) return body;
    const data = body.data;
    return typeof data === 'object' && data !== null ? (data as Record<string, unknown>) : {};
  }
}

/** The token is the encoded token (base64) XOR the one-time pad (its characters' bytes). */
export function decodeGeneratedRootToken(encodedToken: Secret, otp: Secret): Secret {
  const encoded = Buffer.from(encodedToken.reveal(), 'base64');
  const pad = Buffer.from(otp.reveal(), 'utf8');
  if (encoded.length !== pad.length)
    throw new BootstrapError(
      'GENERATE_ROOT_FAILED',
      'generate-root: the encoded token and the one-time pad differ in length',
    );
  const token = Buffer.alloc(encoded.length);
  for (let index = 0; index < encoded.length; index += 1) token[index] = encoded[index]! ^ pad[index]!;
  return new Secret(token.toString('utf8'));
}

export const GENERATE_ROOT_DISABLED =
  'the server refuses the unauthenticated sys/generate-root endpoints (the default from OpenBao 2.5.3) and no valid management token is stored for its ' +
  'authenticated sys/generate-root-token endpoints (OpenBao >= 2.6); break-glass: set disable_unauthed_generate_root_endpoints = false in the listener ' +
  'stanza of the server configuration, restart it, run generate-root, then remove the setting again';

function expectGenerateRoot(response: VaultResponse, what: string): Record<string, unknown> {
  // 405 "unsupported operation": OpenBao's listener has the endpoints switched off.
  if (response.status === 405) throw new ConfigError(GENERATE_ROOT_DISABLED);
  return expectOk(response, what);
}

function decodeGenerateRoot(body: Record<string, unknown>): GenerateRootStatus {
  return {
    started: body.started === true,
    nonce: String(body.nonce ?? ''),
    progress: Number(body.progress ?? 0),
    required: Number(body.required ?? 0),
  };
}

function decodeStatus(data: Record<string, unknown>): RotationStatus {
  return {
    started: data.started === true,
    nonce: String(data.nonce ?? ''),
    progress: Number(data.progress ?? 0),
    required: Number(data.required ?? 0),
    verificationRequired: data.verification_required === true,
    verificationNonce: String(data.verification_nonce ?? ''),
    newShares: Number(data.n ?? 0),
    newThreshold: Number(data.t ?? 0),
  };
}

/** OpenBao wraps the answer in `data`; Vault's sys/rekey answers at the top level. */
function dataOf(body: Record<string, unknown>): Record<string, unknown> {
  return typeof body.data === 'object' && body.data !== null ? (body.data as Record<string, unknown>) : body;
}

function expectOk(response: VaultResponse, what: string): Record<string, unknown> {
  if (response.status >= 200 && response.status < 300) return response.body;
  throw new BootstrapError('VAULT_REQUEST_FAILED', `${what}: HTTP ${response.status}: ${firstError(response.body)}`, {
    statusCode: response.status,
  });
}

function rejected(what: string, response: VaultResponse): BootstrapError {
  return new BootstrapError(
    'KEYS_REJECTED',
    `${what}: the server rejected the key shares: ${firstError(response.body)}`,
    { statusCode: 400 },
  );
}

/** Server error text names reasons and nonces, never a submitted key; cut short all the same. */
function firstError(body: unknown): string {
  const errors = (body as { errors?: unknown })?.errors;
  const first = Array.isArray(errors) && errors.length > 0 ? String(errors[0]) : 'no error text';
  return first.replace(/\s+/g, ' ').slice(0, 200);
}
