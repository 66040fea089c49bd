/**
 * The JSON form of each record (SPEC §3): encode to the text a store holds, decode and check
 * it back. A decode failure is a RecordProblem whose text never quotes the value.
 */
import { createHash } from 'node:crypto';
import { BootstrapError } from '../errors.js';
import { Secret } from '../secret.js';
import type { HighestServer } from '../vault/server-version.js';
import {
  SEAL_KEY_BYTES,
  type ProvisionerToken,
  type RootToken,
  type SealIntent,
  type SealKey,
  type SealKeyRollout,
  type SelfInitCluster,
  type StoredRecord,
  type UnsealKeys,
  type InitClaim,
} from './schema.js';

/** Both clouds cap a secret value at 64 KiB; anything larger was not written by us. */
const MAX_RECORD_BYTES = 64 * 1024;

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
    ...(record.highestServer === undefined ? {} : { highestServer: record.highestServer }),
  });
}

export function sameKeys(a: UnsealKeys, b: UnsealKeys): boolean {
  return a.keys.length === b.keys.length && a.keys.every((key, index) => key.equals(b.keys[index]!));
}

/** Why a stored value is not a valid record. The text never quotes the value, which may hold a secret. */
export class RecordProblem extends Error {}

function parseObject(text: string): Record<string, unknown> {
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
  if (type !== 'shamir' && type !== 'recovery')
    throw new RecordProblem('unknown type (expected "shamir" or "recovery")');
  if (!Array.isArray(keysBase64) || keysBase64.length === 0) throw new RecordProblem('no keys in keysBase64');
  if (keysBase64.some((key) => typeof key !== 'string' || !/^[A-Za-z0-9+/]+={0,2}$/.test(key)))
    throw new RecordProblem('a key is not a base64 string');
  if (!Number.isInteger(threshold) || (threshold as number) < 1 || (threshold as number) > keysBase64.length) {
    throw new RecordProblem(`threshold must be a whole number from 1 to the number of keys (${keysBase64.length})`);
  }
  if (!Number.isInteger(shares) || (shares as number) < keysBase64.length)
    throw new RecordProblem('shares must be a whole number, at least the number of keys');
  if (status !== undefined && status !== 'pending' && status !== 'active')
    throw new RecordProblem('status must be "pending" or "active"');
  if (
    fingerprints !== undefined &&
    (!Array.isArray(fingerprints) || fingerprints.some((fingerprint) => typeof fingerprint !== 'string'))
  ) {
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
    ...(record.encrypted === true
      ? { encrypted: true, fingerprints: ((fingerprints as string[] | undefined) ?? []).slice() }
      : {}),
    ...(typeof record.clusterId === 'string' && record.clusterId !== '' ? { clusterId: record.clusterId } : {}),
    ...(typeof record.migratedAt === 'string' ? { migratedAt: record.migratedAt } : {}),
    ...highestServerOf(record.highestServer),
  };
}

/** The downgrade guard's field; a malformed one is refused like any other bad field, never ignored (it would lift the guard). */
function highestServerOf(value: unknown): { highestServer?: HighestServer } {
  if (value === undefined) return {};
  const highest = value as { kind?: unknown; version?: unknown; seenAt?: unknown } | null;
  if (
    (highest?.kind !== 'openbao' && highest?.kind !== 'vault') ||
    typeof highest.version !== 'string' ||
    highest.version === ''
  )
    throw new RecordProblem('highestServer must hold kind ("openbao" or "vault") and version');
  return { highestServer: { kind: highest.kind, version: highest.version, seenAt: String(highest.seenAt ?? '') } };
}

export function decodeSealIntent(text: string): SealIntent {
  const record = parseObject(text);
  if (typeof record.active !== 'boolean') throw new RecordProblem('active must be true or false');
  return {
    active: record.active,
    by: String(record.by ?? ''),
    at: String(record.at ?? ''),
    reason: String(record.reason ?? ''),
  };
}

export function decodeSelfInitCluster(text: string): SelfInitCluster {
  const record = parseObject(text);
  if (typeof record.clusterId !== 'string' || record.clusterId === '')
    throw new RecordProblem('clusterId must be a non-empty string');
  return {
    clusterId: record.clusterId,
    firstSeenAt: String(record.firstSeenAt ?? ''),
    sealType: String(record.sealType ?? ''),
  };
}

export function decodeRootToken(text: string): RootToken {
  const record = parseObject(text);
  const token = record.token;
  if (token !== null && (typeof token !== 'string' || token === ''))
    throw new RecordProblem('token must be a non-empty string or null');
  const generation = record.generation as Record<string, unknown> | undefined;
  if (generation !== undefined && (typeof generation?.nonce !== 'string' || typeof generation.otp !== 'string')) {
    throw new RecordProblem('generation must hold a nonce and a one-time pad');
  }
  return {
    token: token === null ? null : new Secret(token),
    createdAt: String(record.createdAt ?? ''),
    ...(typeof record.revokedAt === 'string' ? { revokedAt: record.revokedAt } : {}),
    ...(typeof record.keepUntil === 'string' ? { keepUntil: record.keepUntil } : {}),
    ...(generation
      ? {
          generation: {
            nonce: generation.nonce as string,
            otp: new Secret(generation.otp as string),
            startedAt: String(generation.startedAt ?? ''),
          },
        }
      : {}),
  };
}

export function encodeToken(record: ProvisionerToken): string {
  return JSON.stringify({
    token: record.token.reveal(),
    accessor: record.accessor,
    policies: record.policies,
    expiresAt: record.expiresAt,
    ...(record.previous ? { previous: record.previous } : {}),
  });
}

export function decodeProvisionerToken(text: string): ProvisionerToken {
  const record = parseObject(text);
  if (typeof record.token !== 'string' || record.token === '')
    throw new RecordProblem('token must be a non-empty string');
  if (typeof record.accessor !== 'string') throw new RecordProblem('accessor must be a string');
  return {
    token: new Secret(record.token),
    accessor: record.accessor,
    policies: Array.isArray(record.policies) ? record.policies.map(String) : [],
    expiresAt: String(record.expiresAt ?? ''),
    ...(isPrevious(record.previous)
      ? { previous: { accessor: record.previous.accessor, revokeAt: record.previous.revokeAt } }
      : {}),
  };
}

function isPrevious(value: unknown): value is { accessor: string; revokeAt: string } {
  const previous = value as { accessor?: unknown; revokeAt?: unknown } | undefined;
  return (
    typeof previous?.accessor === 'string' &&
    typeof previous.revokeAt === 'string' &&
    !Number.isNaN(Date.parse(previous.revokeAt))
  );
}

export function decodeClaim(text: string): InitClaim {
  const record = parseObject(text);
  return {
    holder: String(record.holder ?? ''),
    claimedAt: String(record.claimedAt ?? ''),
    clusterHint: String(record.clusterHint ?? ''),
  };
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
    ...(record.keepUntil ? { keepUntil: record.keepUntil } : {}),
    ...(record.generation
      ? {
          generation: {
            nonce: record.generation.nonce,
            otp: record.generation.otp.reveal(),
            startedAt: record.generation.startedAt,
          },
        }
      : {}),
  });
}

/**
 * The key id: the first 16 hex digits (64 bits) of SHA-256 over the 32 key bytes. It changes
 * whenever the key does, as OpenBao requires, and names the key in logs and config without
 * revealing anything usable about it.
 */
export function keyIdOf(keyBytes: Buffer): string {
  return createHash('sha256').update(keyBytes).digest('hex').slice(0, 16);
}

export function encodeSealKey(record: SealKey): string {
  return JSON.stringify({ keyId: record.keyId, keyBase64: record.key.reveal(), createdAt: record.createdAt });
}

export function decodeSealKey(text: string): SealKey {
  const record = parseObject(text);
  const { keyId, keyBase64 } = record;
  if (typeof keyBase64 !== 'string' || !/^[A-Za-z0-9+/]+={0,2}$/.test(keyBase64))
    throw new RecordProblem('keyBase64 must be a base64 string');
  const bytes = Buffer.from(keyBase64, 'base64');
  if (bytes.length !== SEAL_KEY_BYTES)
    throw new RecordProblem(`keyBase64 must decode to ${SEAL_KEY_BYTES} bytes (an AES-256 key), not ${bytes.length}`);
  if (keyId !== keyIdOf(bytes))
    throw new RecordProblem('keyId does not match the key (expected the first 16 hex digits of its SHA-256)');
  bytes.fill(0);
  return { keyId, key: new Secret(keyBase64), createdAt: String(record.createdAt ?? '') };
}

export function decodeSealKeyRollout(text: string): SealKeyRollout {
  const record = parseObject(text);
  const nodes: SealKeyRollout['nodes'] = {};
  if (typeof record.nodes !== 'object' || record.nodes === null || Array.isArray(record.nodes))
    throw new RecordProblem('nodes must be an object');
  for (const [node, value] of Object.entries(record.nodes as Record<string, unknown>)) {
    const entry = value as { keyId?: unknown; at?: unknown } | null;
    if (typeof entry?.keyId !== 'string') throw new RecordProblem(`nodes.${node}.keyId must be a string`);
    nodes[node] = { keyId: entry.keyId, at: String(entry.at ?? '') };
  }
  const rewrapped = record.rewrapped as { keyId?: unknown; at?: unknown; by?: unknown } | undefined | null;
  if (rewrapped !== undefined && rewrapped !== null && typeof rewrapped.keyId !== 'string')
    throw new RecordProblem('rewrapped.keyId must be a string');
  return {
    nodes,
    ...(rewrapped
      ? {
          rewrapped: {
            keyId: rewrapped.keyId as string,
            at: String(rewrapped.at ?? ''),
            by: String(rewrapped.by ?? ''),
          },
        }
      : {}),
  };
}
