import { createHash } from 'node:crypto';
import { BootstrapError, StoreNotFoundError } from '../errors.js';
import { Secret } from '../secret.js';
import { parseObject, RecordProblem } from './records.js';
import { secretNames, type SecretStore } from './types.js';

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
export type SealKeyVersion = { version: number; record: SealKey; problem?: undefined } | { version: number; record?: undefined; problem: string };

/**
 * `{prefix}-seal-key-rollout`: which key each node's files held as current at its last start
 * (written by `seal-key`), and the newest key the active node is known to have re-wrapped the
 * stored keys with (written by the sidecar). Ids only, never a key byte.
 */
export interface SealKeyRollout {
  nodes: Record<string, { keyId: string; at: string }>;
  rewrapped?: { keyId: string; at: string; by: string };
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
  if (typeof keyBase64 !== 'string' || !/^[A-Za-z0-9+/]+={0,2}$/.test(keyBase64)) throw new RecordProblem('keyBase64 must be a base64 string');
  const bytes = Buffer.from(keyBase64, 'base64');
  if (bytes.length !== SEAL_KEY_BYTES) throw new RecordProblem(`keyBase64 must decode to ${SEAL_KEY_BYTES} bytes (an AES-256 key), not ${bytes.length}`);
  if (keyId !== keyIdOf(bytes)) throw new RecordProblem('keyId does not match the key (expected the first 16 hex digits of its SHA-256)');
  bytes.fill(0);
  return { keyId, key: new Secret(keyBase64), createdAt: String(record.createdAt ?? '') };
}

function decodeRollout(text: string): SealKeyRollout {
  const record = parseObject(text);
  const nodes: SealKeyRollout['nodes'] = {};
  if (typeof record.nodes !== 'object' || record.nodes === null || Array.isArray(record.nodes)) throw new RecordProblem('nodes must be an object');
  for (const [node, value] of Object.entries(record.nodes as Record<string, unknown>)) {
    const entry = value as { keyId?: unknown; at?: unknown } | null;
    if (typeof entry?.keyId !== 'string') throw new RecordProblem(`nodes.${node}.keyId must be a string`);
    nodes[node] = { keyId: entry.keyId, at: String(entry.at ?? '') };
  }
  const rewrapped = record.rewrapped as { keyId?: unknown; at?: unknown; by?: unknown } | undefined | null;
  if (rewrapped !== undefined && rewrapped !== null && typeof rewrapped.keyId !== 'string') throw new RecordProblem('rewrapped.keyId must be a string');
  return { nodes, ...(rewrapped ? { rewrapped: { keyId: rewrapped.keyId as string, at: String(rewrapped.at ?? ''), by: String(rewrapped.by ?? '') } } : {}) };
}

/** The seal key records over a SecretStore. Every write is read back and compared before it counts. */
export class SealKeyRecords {
  readonly store: SecretStore;
  readonly sealKeyName: string;
  readonly rolloutName: string;

  constructor(store: SecretStore, prefix: string) {
    this.store = store;
    const names = secretNames(prefix);
    this.sealKeyName = names.sealKey;
    this.rolloutName = names.sealKeyRollout;
  }

  /** Every stored version, oldest first, each decoded or with its problem (never its value). */
  async readVersions(): Promise<SealKeyVersion[]> {
    // The latest first: absent is the common first-start answer, and one call gives it on every store.
    try {
      await this.store.readLatest(this.sealKeyName);
    } catch (error) {
      if (error instanceof StoreNotFoundError) return [];
      throw error;
    }
    const texts = await this.store.readAllVersions(this.sealKeyName);
    return texts.map((text, index) => {
      try {
        return { version: index + 1, record: decodeSealKey(text) };
      } catch (error) {
        if (!(error instanceof RecordProblem)) throw error;
        return { version: index + 1, problem: error.message };
      }
    });
  }

  /** The first version, create-if-absent: one winner however many pods race (StoreAlreadyExistsError for the others). */
  async createFirst(record: SealKey): Promise<void> {
    await this.store.createIfAbsent(this.sealKeyName, encodeSealKey(record));
  }

  /** A rotation's new version, read back and compared. */
  async addVersion(record: SealKey): Promise<void> {
    const text = encodeSealKey(record);
    await this.store.addVersion(this.sealKeyName, text);
    if ((await this.store.readLatest(this.sealKeyName)) !== text) {
      throw new BootstrapError('STORE_MISMATCH', `${this.sealKeyName}: the value read back differs from the value written`);
    }
  }

  async readRollout(): Promise<SealKeyRollout> {
    let text: string;
    try {
      text = await this.store.readLatest(this.rolloutName);
    } catch (error) {
      if (error instanceof StoreNotFoundError) return { nodes: {} };
      throw error;
    }
    try {
      return decodeRollout(text);
    } catch (error) {
      if (!(error instanceof RecordProblem)) throw error;
      throw new BootstrapError('STORE_CORRUPT', `${this.rolloutName}: the latest version is not a valid record: ${error.message}`);
    }
  }

  /**
   * Read, change, write, read back: `change` returns the record to write, or undefined when the
   * latest already says what it should. Writers race (every pod's seal-key, the sidecars): a
   * write another one overtook is checked again on the newer record, a few times; an entry lost
   * to a race only delays dropping a previous key, never drops it early.
   */
  async updateRollout(change: (rollout: SealKeyRollout) => SealKeyRollout | undefined): Promise<void> {
    for (let attempt = 1; attempt <= 5; attempt += 1) {
      const next = change(await this.readRollout());
      if (next === undefined) return;
      await this.store.addVersion(this.rolloutName, JSON.stringify(next));
      if (change(await this.readRollout()) === undefined) return;
    }
    throw new BootstrapError('STORE_MISMATCH', `${this.rolloutName}: other writers kept overtaking this one`);
  }
}
