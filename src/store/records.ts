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
}

export interface RootToken {
  /** null once revoked: later runs work with the provisioner token. */
  token: Secret | null;
  createdAt: string;
  revokedAt?: string;
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

  async readUnsealKeys(): Promise<UnsealKeys | undefined> {
    const record = await this.#read(this.names.unsealKeys);
    return record === undefined ? undefined : decodeUnsealKeys(record, this.names.unsealKeys);
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
    return {
      token: token === null ? null : new Secret(token),
      createdAt: String(record.createdAt ?? ''),
      ...(typeof record.revokedAt === 'string' ? { revokedAt: record.revokedAt } : {}),
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
    try {
      const value: unknown = JSON.parse(text);
      if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
    } catch {
      // fall through: the message must not quote the text, which may hold a secret
    }
    throw corrupt(name);
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
  });
}

export function decodeUnsealKeys(record: Record<string, unknown>, name: string): UnsealKeys {
  const { type, keysBase64, threshold, shares } = record;
  if ((type !== 'shamir' && type !== 'recovery') || !Array.isArray(keysBase64) || keysBase64.some((key) => typeof key !== 'string')) {
    throw corrupt(name);
  }
  return {
    type,
    keys: (keysBase64 as string[]).map((key) => new Secret(key)),
    threshold: Number(threshold),
    shares: Number(shares),
    initializedAt: String(record.initializedAt ?? ''),
  };
}

export function encodeRootToken(record: RootToken): string {
  return JSON.stringify({ token: record.token?.reveal() ?? null, createdAt: record.createdAt, ...(record.revokedAt ? { revokedAt: record.revokedAt } : {}) });
}

function corrupt(name: string): BootstrapError {
  return new BootstrapError('STORE_CORRUPT', `${name}: the stored value is not a valid record`);
}
