import { BootstrapError, StoreNotFoundError } from '../errors.js';
import { Secret } from '../secret.js';
import { secretNames, type SecretNames, type SecretStore } from './types.js';

export type KeyType = 'shamir' | 'recovery';

/**
 * The key type a seal calls for: Shamir unseal keys, or recovery keys for an auto-unseal seal
 * (every other seal type). The one place a seal type becomes a key type.
 */
export function keyTypeFor(sealType: string | undefined): KeyType {
  return sealType === undefined || sealType === 'shamir' ? 'shamir' : 'recovery';
}

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
  /** The cluster these keys open, recorded once it is first seen unsealed: the split-brain check. */
  clusterId?: string;
  /** A seal migration (Shamir → auto-unseal) made these former unseal keys the recovery keys: when it started. */
  migratedAt?: string;
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

/** An operator's emergency seal (vault-bootstrap seal / resume); each change is a new version. */
export interface SealIntent {
  active: boolean;
  by: string;
  at: string;
  reason: string;
}

/** --self-init: the cluster the sidecar first saw, the split-brain check where no keys record exists. */
export interface SelfInitCluster {
  clusterId: string;
  firstSeenAt: string;
  /** The seal that unsealed it (static, awskms, …). */
  sealType: string;
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

/** The sidecar's own token ({prefix}-management-token): the provisioner token's shape, a periodic token. */
export type ManagementToken = ProvisionerToken;

/**
 * A record as observed: absent, valid, or invalid — with the problem (never the value), how
 * many versions the secret has, and the newest earlier version that is a valid record, which
 * is reported and never used by itself.
 */
export type StoredRecord<T> =
  | { kind: 'absent' }
  | { kind: 'valid'; value: T }
  | { kind: 'invalid'; name: string; problem: string; versions: number; earlierValidVersion: number | undefined };

/** Both clouds cap a secret value at 64 KiB; anything larger was not written by us. */
const MAX_RECORD_BYTES = 64 * 1024;

export interface InitClaim {
  holder: string;
  claimedAt: string;
  clusterHint: string;
}

/** The newest readable claim generation (0: none), and its record. */
export interface ClaimSeen {
  generation: number;
  record: StoredRecord<InitClaim>;
}

/** The secret of one claim generation; generation 1 keeps the name earlier releases used. */
export function claimName(firstName: string, generation: number): string {
  return generation <= 1 ? firstName : `${firstName}-g${generation}`;
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
    return valueOf(await this.inspectUnsealKeys());
  }

  async inspectUnsealKeys(): Promise<StoredRecord<UnsealKeys>> {
    const latest = await this.#inspect(this.names.unsealKeys, decodeUnsealKeys);
    if (latest.kind !== 'valid' || latest.value.status !== 'pending') return latest;
    const active = (await this.readUnsealKeyVersions()).active;
    // Only pending versions (not written by this program): the newest is all there is.
    return active === undefined ? latest : { kind: 'valid', value: active.record };
  }

  /**
   * Every version of the unseal keys, split into the active one (the newest that is not
   * pending) and the pending ones that may have replaced it: pending versions newer than the
   * first appearance of the active key set, with other keys, newest first. A copy of the
   * active keys written after a pending version (the cluster id being recorded) does not
   * hide that pending version.
   */
  async readUnsealKeyVersions(): Promise<UnsealKeyVersions> {
    const texts = await this.store.readAllVersions(this.names.unsealKeys);
    const records = texts.map((text, index) => {
      try {
        return decodeUnsealKeys(text);
      } catch (error) {
        if (!(error instanceof RecordProblem)) throw error;
        if (index === texts.length - 1) throw new BootstrapError('STORE_CORRUPT', `${this.names.unsealKeys}: the latest version (${texts.length}) is not a valid record: ${error.message}`);
        return undefined; // an invalid earlier version is skipped
      }
    });
    const activeIndex = records.findLastIndex((record) => record !== undefined && record.status !== 'pending');
    const active = activeIndex === -1 ? undefined : records[activeIndex]!;
    const firstOfActive = active === undefined ? -1 : records.findIndex((record) => record !== undefined && sameKeys(record, active));
    const pending: UnsealKeyVersions['pending'] = [];
    for (let index = records.length - 1; index > firstOfActive; index -= 1) {
      const record = records[index];
      if (record?.status === 'pending' && !(active && sameKeys(record, active))) pending.push({ record, version: index + 1 });
    }
    return { active: active && { record: active, version: activeIndex + 1 }, pending, count: texts.length };
  }

  inspectRootToken(): Promise<StoredRecord<RootToken>> {
    return this.#inspect(this.names.rootToken, decodeRootToken);
  }

  inspectProvisionerToken(): Promise<StoredRecord<ProvisionerToken>> {
    return this.#inspect(this.names.provisionerToken, decodeProvisionerToken);
  }

  inspectManagementToken(): Promise<StoredRecord<ManagementToken>> {
    return this.#inspect(this.names.managementToken, decodeProvisionerToken);
  }

  inspectSealIntent(): Promise<StoredRecord<SealIntent>> {
    return this.#inspect(this.names.sealIntent, decodeSealIntent);
  }

  inspectSelfInitCluster(): Promise<StoredRecord<SelfInitCluster>> {
    return this.#inspect(this.names.selfInitCluster, decodeSelfInitCluster);
  }

  async writeSelfInitCluster(cluster: SelfInitCluster): Promise<void> {
    await this.#writeVerified(this.names.selfInitCluster, JSON.stringify(cluster));
  }

  async writeSealIntent(intent: SealIntent): Promise<void> {
    await this.#writeVerified(this.names.sealIntent, JSON.stringify(intent));
  }

  /**
   * The newest init claim (SPEC §4): generation 1 is `{prefix}-init-claim` (the name earlier
   * releases wrote, so their claim is read as generation 1), generation n the secret
   * `{prefix}-init-claim-g{n}`. Generations are read upwards; a generation that reads absent
   * may be one being written (GCP creates a secret and its first version apart) or one whose
   * writer died between the two, so the next one is read too before the search stops.
   */
  async inspectClaims(): Promise<ClaimSeen> {
    let newest: ClaimSeen = { generation: 0, record: { kind: 'absent' } };
    for (let generation = 1; ; generation += 1) {
      const record = await this.#inspect(claimName(this.names.initClaim, generation), decodeClaim);
      if (record.kind !== 'absent') {
        newest = { generation, record };
        continue;
      }
      const next = await this.#inspect(claimName(this.names.initClaim, generation + 1), decodeClaim);
      if (next.kind === 'absent') return newest;
      newest = { generation: generation + 1, record: next };
      generation += 1;
    }
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
    return valueOf(await this.inspectRootToken());
  }

  async writeRootToken(record: RootToken): Promise<void> {
    await this.#writeVerified(this.names.rootToken, encodeRootToken(record));
  }

  async readProvisionerToken(): Promise<ProvisionerToken | undefined> {
    return valueOf(await this.inspectProvisionerToken());
  }

  async writeProvisionerToken(record: ProvisionerToken): Promise<void> {
    await this.#writeVerified(this.names.provisionerToken, encodeToken(record));
  }

  async writeManagementToken(record: ManagementToken): Promise<void> {
    await this.#writeVerified(this.names.managementToken, encodeToken(record));
  }

  /**
   * Create-if-absent of one claim generation: the store picks exactly one winner among
   * replicas creating the same generation; the others get StoreAlreadyExistsError.
   */
  async createClaim(generation: number, claim: InitClaim): Promise<void> {
    await this.store.createIfAbsent(claimName(this.names.initClaim, generation), JSON.stringify(claim));
  }

  async #inspect<T>(name: string, decode: (text: string) => T): Promise<StoredRecord<T>> {
    let text: string;
    try {
      text = await this.store.readLatest(name);
    } catch (error) {
      if (error instanceof StoreNotFoundError) return { kind: 'absent' };
      throw error;
    }
    try {
      return { kind: 'valid', value: decode(text) };
    } catch (error) {
      if (!(error instanceof RecordProblem)) throw error;
      // Rare and worth the reads: which version is bad, and is an earlier one intact?
      const history = await this.store.readAllVersions(name);
      let earlierValidVersion: number | undefined;
      for (let index = history.length - 2; index >= 0 && earlierValidVersion === undefined; index -= 1) {
        try {
          decode(history[index]!);
          earlierValidVersion = index + 1;
        } catch {
          // keep looking further back
        }
      }
      return { kind: 'invalid', name, problem: error.message, versions: Math.max(history.length, 1), earlierValidVersion };
    }
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
    ...(record.clusterId === undefined ? {} : { clusterId: record.clusterId }),
    ...(record.migratedAt === undefined ? {} : { migratedAt: record.migratedAt }),
  });
}

function sameKeys(a: UnsealKeys, b: UnsealKeys): boolean {
  return a.keys.length === b.keys.length && a.keys.every((key, index) => key.equals(b.keys[index]!));
}

/** Why a stored value is not a valid record. The text never quotes the value, which may hold a secret. */
export class RecordProblem extends Error {}

export function parseObject(text: string): Record<string, unknown> {
  if (Buffer.byteLength(text) > MAX_RECORD_BYTES) throw new RecordProblem(`larger than ${MAX_RECORD_BYTES / 1024} KiB`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new RecordProblem('not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new RecordProblem('not a JSON object');
  return value as Record<string, unknown>;
}

export function decodeUnsealKeys(text: string): UnsealKeys {
  return unsealKeysFromObject(parseObject(text));
}

export function unsealKeysFromObject(record: Record<string, unknown>): UnsealKeys {
  const { type, keysBase64, threshold, shares, status, fingerprints } = record;
  if (type !== 'shamir' && type !== 'recovery') throw new RecordProblem('unknown type (expected "shamir" or "recovery")');
  if (!Array.isArray(keysBase64) || keysBase64.length === 0) throw new RecordProblem('no keys in keysBase64');
  if (keysBase64.some((key) => typeof key !== 'string' || !/^[A-Za-z0-9+/]+={0,2}$/.test(key))) throw new RecordProblem('a key is not a base64 string');
  if (!Number.isInteger(threshold) || (threshold as number) < 1 || (threshold as number) > keysBase64.length) {
    throw new RecordProblem(`threshold must be a whole number from 1 to the number of keys (${keysBase64.length})`);
  }
  if (!Number.isInteger(shares) || (shares as number) < keysBase64.length) throw new RecordProblem('shares must be a whole number, at least the number of keys');
  if (status !== undefined && status !== 'pending' && status !== 'active') throw new RecordProblem('status must be "pending" or "active"');
  if (fingerprints !== undefined && (!Array.isArray(fingerprints) || fingerprints.some((fingerprint) => typeof fingerprint !== 'string'))) {
    throw new RecordProblem('fingerprints must be a list of strings');
  }
  return {
    type,
    keys: (keysBase64 as string[]).map((key) => new Secret(key)),
    threshold: threshold as number,
    shares: shares as number,
    initializedAt: String(record.initializedAt ?? ''),
    ...(status ? { status } : {}),
    ...(typeof record.rotatedAt === 'string' ? { rotatedAt: record.rotatedAt } : {}),
    ...(typeof record.nonce === 'string' ? { nonce: record.nonce } : {}),
    ...(record.encrypted === true ? { encrypted: true, fingerprints: ((fingerprints as string[] | undefined) ?? []).slice() } : {}),
    ...(typeof record.clusterId === 'string' && record.clusterId !== '' ? { clusterId: record.clusterId } : {}),
    ...(typeof record.migratedAt === 'string' ? { migratedAt: record.migratedAt } : {}),
  };
}

function decodeSealIntent(text: string): SealIntent {
  const record = parseObject(text);
  if (typeof record.active !== 'boolean') throw new RecordProblem('active must be true or false');
  return { active: record.active, by: String(record.by ?? ''), at: String(record.at ?? ''), reason: String(record.reason ?? '') };
}

function decodeSelfInitCluster(text: string): SelfInitCluster {
  const record = parseObject(text);
  if (typeof record.clusterId !== 'string' || record.clusterId === '') throw new RecordProblem('clusterId must be a non-empty string');
  return { clusterId: record.clusterId, firstSeenAt: String(record.firstSeenAt ?? ''), sealType: String(record.sealType ?? '') };
}

function decodeRootToken(text: string): RootToken {
  const record = parseObject(text);
  const token = record.token;
  if (token !== null && (typeof token !== 'string' || token === '')) throw new RecordProblem('token must be a non-empty string or null');
  const generation = record.generation as Record<string, unknown> | undefined;
  if (generation !== undefined && (typeof generation?.nonce !== 'string' || typeof generation.otp !== 'string')) {
    throw new RecordProblem('generation must hold a nonce and a one-time pad');
  }
  return {
    token: token === null ? null : new Secret(token),
    createdAt: String(record.createdAt ?? ''),
    ...(typeof record.revokedAt === 'string' ? { revokedAt: record.revokedAt } : {}),
    ...(generation ? { generation: { nonce: generation.nonce as string, otp: new Secret(generation.otp as string), startedAt: String(generation.startedAt ?? '') } } : {}),
  };
}

function encodeToken(record: ProvisionerToken): string {
  return JSON.stringify({ token: record.token.reveal(), accessor: record.accessor, policies: record.policies, expiresAt: record.expiresAt });
}

function decodeProvisionerToken(text: string): ProvisionerToken {
  const record = parseObject(text);
  if (typeof record.token !== 'string' || record.token === '') throw new RecordProblem('token must be a non-empty string');
  if (typeof record.accessor !== 'string') throw new RecordProblem('accessor must be a string');
  return {
    token: new Secret(record.token),
    accessor: record.accessor,
    policies: Array.isArray(record.policies) ? record.policies.map(String) : [],
    expiresAt: String(record.expiresAt ?? ''),
  };
}

function decodeClaim(text: string): InitClaim {
  const record = parseObject(text);
  return { holder: String(record.holder ?? ''), claimedAt: String(record.claimedAt ?? ''), clusterHint: String(record.clusterHint ?? '') };
}

/** The value of a valid record, undefined when absent; an invalid one throws STORE_CORRUPT naming the version. */
export function valueOf<T>(stored: StoredRecord<T>): T | undefined {
  if (stored.kind === 'absent') return undefined;
  if (stored.kind === 'valid') return stored.value;
  throw new BootstrapError('STORE_CORRUPT', describeInvalidRecord(stored));
}

export function describeInvalidRecord(stored: Extract<StoredRecord<unknown>, { kind: 'invalid' }>): string {
  const earlier =
    stored.earlierValidVersion === undefined
      ? 'no earlier version is a valid record'
      : `version ${stored.earlierValidVersion} is a valid record (not used by itself: add it again as the latest version to restore it)`;
  return `${stored.name}: the latest version (${stored.versions}) is not a valid record: ${stored.problem}; ${earlier}`;
}

export function encodeRootToken(record: RootToken): string {
  return JSON.stringify({
    token: record.token?.reveal() ?? null,
    createdAt: record.createdAt,
    ...(record.revokedAt ? { revokedAt: record.revokedAt } : {}),
    ...(record.generation ? { generation: { nonce: record.generation.nonce, otp: record.generation.otp.reveal(), startedAt: record.generation.startedAt } } : {}),
  });
}
