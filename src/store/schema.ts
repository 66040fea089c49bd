/**
 * The records of SPEC §3 as typed values (Secret fields, never plain text): what the store
 * holds, and what observe() reports of it. Their JSON form is codec.ts; reading and writing
 * them is records.ts.
 */
import type { KeyType } from '../seal.js';
import type { Secret } from '../secret.js';
import type { HighestServer } from '../vault/server-version.js';

export type { KeyType } from '../seal.js';

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
  /** The highest server release seen active on the cluster these keys open: the downgrade guard (vault/server-version.ts). */
  highestServer?: HighestServer;
}

type KeyStatus = 'pending' | 'active';

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
  /**
   * generate-root without --revoke-after: a person asked for a usable root token, so a sidecar
   * with --root-token revoke leaves it alone until this instant (ISO), then revokes it.
   */
  keepUntil?: string;
}

interface RootGeneration {
  nonce: string;
  otp: Secret;
  startedAt: string;
}

export interface ProvisionerToken {
  token: Secret;
  accessor: string;
  policies: string[];
  expiresAt: string;
  /** The token this one replaced, left valid for CI jobs holding it (--provisioner-overlap) and revoked by the sidecar at revokeAt. */
  previous?: { accessor: string; revokeAt: string };
}

/** The sidecar's own token ({prefix}-management-token): the provisioner token's shape, a periodic token. */
export type ManagementTokenRecord = ProvisionerToken;

/**
 * A record as observed: absent, valid, or invalid — with the problem (never the value), how
 * many versions the secret has, and the newest earlier version that is a valid record, which
 * is reported and never used by itself.
 */
export type StoredRecord<T> =
  | { kind: 'absent' }
  | { kind: 'valid'; value: T }
  | { kind: 'invalid'; name: string; problem: string; versions: number; earlierValidVersion: number | undefined };

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

/** OpenBao's static seal takes an AES-256-GCM key: exactly 32 bytes. */
export const SEAL_KEY_BYTES = 32;

/**
 * One version of `{prefix}-seal-key` (SPEC §13): the cluster's static seal key. Each rotation
 * adds a version; earlier versions stay in the store's history.
 */
export interface SealKey {
  /** Derived from the key (keyIdOf): OpenBao requires the id to change whenever the key does. */
  keyId: string;
  key: Secret;
  createdAt: string;
}

/** A stored version as read: its 1-based number, and the record or why it is not one. */
export type SealKeyVersion =
  { version: number; record: SealKey; problem?: undefined } | { version: number; record?: undefined; problem: string };

/**
 * `{prefix}-seal-key-rollout`: which key each node's files held as current at its last start
 * (written by `seal-key`), and the newest key the active node is known to have re-wrapped the
 * stored keys with (written by the sidecar). Ids only, never a key byte.
 */
export interface SealKeyRollout {
  nodes: Record<string, { keyId: string; at: string }>;
  rewrapped?: { keyId: string; at: string; by: string };
}
