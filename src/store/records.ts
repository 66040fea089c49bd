import { BootstrapError, StoreNotFoundError } from '../errors.js';
import { Secret } from '../secret.js';
import { secretNames, type SecretNames, type SecretStore } from './types.js';

export type KeyType = 'shamir' | 'recovery';

export interface UnsealKeys {
  type: KeyType;
  keys: Secret[];
  threshold: number;
  shares: number;
  initializedAt: string;
  /**
   * Set by a rotation (SPEC §3). `pending`: received from the server, not yet verified; the
   * server may still want the previous keys. A record without a status is active.
   */
  status?: KeyStatus;
  rotatedAt?: string;
  /** The server's nonce of the rotation that produced these keys (pending records). */
  nonce?: string;
  /** PGP custody: each share is encrypted to one custodian's key, in `fingerprints` order. */
  encrypted?: boolean;
  fingerprints?: string[];
}

export type KeyStatus = 'pending' | 'active';

/** The stored versions of the unseal keys that matter to unsealing and rotating. */
export interface UnsealKeyVersions {
  /** The newest version that is not pending, and its 1-based version number. */
  active: { record: UnsealKeys; version: number } | undefined;
  /** Pending versions newer than the active one, newest first. */
  pending: Array<{ record: UnsealKeys; version: number }>;
  /** How many versions the secret holds. */
  count: number;
}

export interface RootToken {
  /** null once revoked: later runs work with the provisioner token. */
  token: Secret | null;
  createdAt: string;
  revokedAt?: string;
  /** A generate-root attempt in progress: stored before any key share is submitted. */
  generation?: RootGeneration;
}

export interface RootGeneration {
  nonce: string;
  otp: Secret;
  startedAt: string;
}

export interface ProvisionerToken {
  token: Secret;
  accessor: string;
  policies: string[];
  expiresAt: string;
}

export interface InitClaim {
  holder: string;
  claimedAt: string;
  clusterHint: string;
}

/**
 * The SPEC §3 records over a SecretStore: JSON in, typed values with Secret fields out.
 * Every write is read back and compared before it counts as stored.
 */
export class Records {
  readonly store: SecretStore;
  readonly names: SecretNames;

  constructor(store: SecretStore, prefix: string) {
    this.store = store;
    this.names = secretNames(prefix);
  }

  /**
   * The keys to unseal with: the latest version unless it is a rotation's pending one, in
   * which case the newest active version before it (the server accepts the pending keys
   * only once the rotation is verified; `readUnsealKeyVersions` gives both to check).
   */
  async readUnsealKeys(): Promise<UnsealKeys | undefined> {
    const record = await this.#read(this.names.unsealKeys);
    if (record === undefined) return undefined;
    const latest = decodeUnsealKeys(record, this.names.unsealKeys);
    if (latest.status !== 'pending') return latest;
    return (await this.readUnsealKeyVersions()).active?.record;
  }

  async readUnsealKeyVersions(): Promise<UnsealKeyVersions> {
    const texts = await this.store.readAllVersions(this.names.unsealKeys);
    const records = texts.map((text) => decodeUnsealKeys(parseRecord(text, this.names.unsealKeys), this.names.unsealKeys));
    const pending: UnsealKeyVersions['pending'] = [];
    for (let index = records.length - 1; index >= 0; index -= 1) {
      const record = records[index]!;
      if (record.status !== 'pending') return { active: { record, version: index + 1 }, pending, count: records.length };
      pending.push({ record, version: index + 1 });
    }
    return { active: undefined, pending, count: records.length };
  }

  async writeUnsealKeys(record: UnsealKeys): Promise<void> {
    await this.#writeVerified(this.names.unsealKeys, encodeUnsealKeys(record));
  }

  /** Whether the latest stored versions are exactly these keys and this root token. */
  async holdsInitSecrets(unsealKeys: UnsealKeys, rootToken: RootToken): Promise<boolean> {
    const latest = (name: string) => this.store.readLatest(name).catch((error: unknown) => {
      if (error instanceof StoreNotFoundError) return undefined;
      throw error;
    });
    return (await latest(this.names.unsealKeys)) === encodeUnsealKeys(unsealKeys) && (await latest(this.names.rootToken)) === encodeRootToken(rootToken);
  }

  async readRootToken(): Promise<RootToken | undefined> {
    const record = await this.#read(this.names.rootToken);
    if (record === undefined) return undefined;
    const token = record.token;
    if (token !== null && typeof token !== 'string') throw corrupt(this.names.rootToken);
    const generation = record.generation as Record<string, unknown> | undefined;
    if (generation !== undefined && (typeof generation?.nonce !== 'string' || typeof generation.otp !== 'string')) throw corrupt(this.names.rootToken);
    return {
      token: token === null ? null : new Secret(token),
      createdAt: String(record.createdAt ?? ''),
      ...(typeof record.revokedAt === 'string' ? { revokedAt: record.revokedAt } : {}),
      ...(generation ? { generation: { nonce: generation.nonce as string, otp: new Secret(generation.otp as string), startedAt: String(generation.startedAt ?? '') } } : {}),
    };
  }

  async writeRootToken(record: RootToken): Promise<void> {
    await this.#writeVerified(this.names.rootToken, encodeRootToken(record));
  }

  async readProvisionerToken(): Promise<ProvisionerToken | undefined> {
    const record = await this.#read(this.names.provisionerToken);
    if (record === undefined) return undefined;
    if (typeof record.token !== 'string' || typeof record.accessor !== 'string') throw corrupt(this.names.provisionerToken);
    return {
      token: new Secret(record.token),
      accessor: record.accessor,
      policies: Array.isArray(record.policies) ? record.policies.map(String) : [],
      expiresAt: String(record.expiresAt ?? ''),
    };
  }

  async writeProvisionerToken(record: ProvisionerToken): Promise<void> {
    const text = JSON.stringify({ token: record.token.reveal(), accessor: record.accessor, policies: record.policies, expiresAt: record.expiresAt });
    await this.#writeVerified(this.names.provisionerToken, text);
  }

  async readClaim(): Promise<InitClaim | undefined> {
    const record = await this.#read(this.names.initClaim);
    if (record === undefined) return undefined;
    return { holder: String(record.holder ?? ''), claimedAt: String(record.claimedAt ?? ''), clusterHint: String(record.clusterHint ?? '') };
  }

  /** Create-if-absent: throws StoreAlreadyExistsError when someone holds or held the claim. */
  async createClaim(claim: InitClaim): Promise<void> {
    await this.store.createIfAbsent(this.names.initClaim, JSON.stringify(claim));
  }

  /** Takes a claim over (stale, or re-initialization): a new version on top of the old. */
  async replaceClaim(claim: InitClaim): Promise<void> {
    await this.store.addVersion(this.names.initClaim, JSON.stringify(claim));
  }

  async #read(name: string): Promise<Record<string, unknown> | undefined> {
    let text: string;
    try {
      text = await this.store.readLatest(name);
    } catch (error) {
      if (error instanceof StoreNotFoundError) return undefined;
      throw error;
    }
    return parseRecord(text, name);
  }

  async #writeVerified(name: string, text: string): Promise<void> {
    await this.store.addVersion(name, text);
    const readBack = await this.store.readLatest(name);
    if (readBack !== text) {
      throw new BootstrapError('STORE_MISMATCH', `${name}: the value read back differs from the value written`);
    }
  }
}

export function encodeUnsealKeys(record: UnsealKeys): string {
  return JSON.stringify({
    type: record.type,
    keysBase64: record.keys.map((key) => key.reveal()),
    threshold: record.threshold,
    shares: record.shares,
    initializedAt: record.initializedAt,
    // Rotation and PGP fields only when set, so an init record reads exactly as before.
    ...(record.status ? { status: record.status } : {}),
    ...(record.rotatedAt ? { rotatedAt: record.rotatedAt } : {}),
    ...(record.nonce ? { nonce: record.nonce } : {}),
    ...(record.encrypted ? { encrypted: true, fingerprints: record.fingerprints ?? [] } : {}),
  });
}

export function decodeUnsealKeys(record: Record<string, unknown>, name: string): UnsealKeys {
  const { type, keysBase64, threshold, shares, status, fingerprints } = record;
  if ((type !== 'shamir' && type !== 'recovery') || !Array.isArray(keysBase64) || keysBase64.some((key) => typeof key !== 'string')) {
    throw corrupt(name);
  }
  if ((status !== undefined && status !== 'pending' && status !== 'active') || (fingerprints !== undefined && !Array.isArray(fingerprints))) throw corrupt(name);
  return {
    type,
    keys: (keysBase64 as string[]).map((key) => new Secret(key)),
    threshold: Number(threshold),
    shares: Number(shares),
    initializedAt: String(record.initializedAt ?? ''),
    ...(status ? { status } : {}),
    ...(typeof record.rotatedAt === 'string' ? { rotatedAt: record.rotatedAt } : {}),
    ...(typeof record.nonce === 'string' ? { nonce: record.nonce } : {}),
    ...(record.encrypted === true ? { encrypted: true, fingerprints: (fingerprints as unknown[] | undefined ?? []).map(String) } : {}),
  };
}

export function encodeRootToken(record: RootToken): string {
  return JSON.stringify({
    token: record.token?.reveal() ?? null,
    createdAt: record.createdAt,
    ...(record.revokedAt ? { revokedAt: record.revokedAt } : {}),
    ...(record.generation ? { generation: { nonce: record.generation.nonce, otp: record.generation.otp.reveal(), startedAt: record.generation.startedAt } } : {}),
  });
}

function parseRecord(text: string, name: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // fall through: the message must not quote the text, which may hold a secret
  }
  throw corrupt(name);
}

function corrupt(name: string): BootstrapError {
  return new BootstrapError('STORE_CORRUPT', `${name}: the stored value is not a valid record`);
}
