import { randomBytes } from 'node:crypto';
import { readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BootstrapError, StoreAlreadyExistsError, StoreNotFoundError } from '../errors.js';
import { Secret } from '../secret.js';
import type { SecretStore } from '../store/types.js';

/**
 * A restore from one snapshot, recorded in the store before anything changes on the server
 * (SPEC §12): `{prefix}-restored-{snapshot id}`, created with create-if-absent (one winner
 * among replicas), then a version per stage. Holds no secret.
 */
export interface RestoreRecord {
  snapshot: string;
  keysVersion: number;
  clusterId: string;
  holder: string;
  startedAt: string;
  /** started: the throwaway init may have happened; restored: the server holds the snapshot's data; done: unsealed with the snapshot's keys. */
  stage: 'started' | 'restored' | 'done';
  at: string;
}

export function restoreRecordName(prefix: string, snapshotId: string): string {
  return `${prefix}-restored-${snapshotId}`;
}

export async function readRestoreRecord(store: SecretStore, name: string): Promise<RestoreRecord | undefined> {
  let text: string;
  try {
    text = await store.readLatest(name);
  } catch (error) {
    if (error instanceof StoreNotFoundError) return undefined;
    throw error;
  }
  try {
    const value = JSON.parse(text) as RestoreRecord;
    if (
      typeof value.snapshot !== 'string' ||
      !['started', 'restored', 'done'].includes(value.stage) ||
      !Number.isInteger(value.keysVersion)
    )
      throw new Error('shape');
    return value;
  } catch {
    throw new BootstrapError('STORE_CORRUPT', `${name}: the latest version is not a valid restore record`);
  }
}

/** Creates the record (first restore of this snapshot): false when another process created it first. */
export async function createRestoreRecord(store: SecretStore, name: string, record: RestoreRecord): Promise<boolean> {
  try {
    await store.createIfAbsent(name, JSON.stringify(record));
    return true;
  } catch (error) {
    if (error instanceof StoreAlreadyExistsError) return false;
    throw error;
  }
}

/** A new stage, read back before it counts. */
export async function writeRestoreStage(store: SecretStore, name: string, record: RestoreRecord): Promise<void> {
  const text = JSON.stringify(record);
  await store.addVersion(name, text);
  if ((await store.readLatest(name)) !== text)
    throw new BootstrapError('STORE_MISMATCH', `${name}: the stage read back differs from the one written`);
}

/** The throwaway init's answer: its key shares and root token, only ever in memory and the memory-backed spool. */
export interface Throwaway {
  keys: Secret[];
  rootToken: Secret;
}

const THROWAWAY_FILE = 'restore-throwaway.json';

/** The throwaway key set in the spool (--spool-dir, tmpfs): a restarted restore resumes with it instead of needing a wipe. */
export class ThrowawaySpool {
  readonly #directory: string | undefined;

  constructor(directory: string | undefined) {
    this.#directory = directory;
  }

  async write(throwaway: Throwaway): Promise<void> {
    if (this.#directory === undefined) return;
    const temporary = join(this.#directory, `.${THROWAWAY_FILE}.${randomBytes(6).toString('hex')}`);
    await writeFile(
      temporary,
      JSON.stringify({ keys: throwaway.keys.map((key) => key.reveal()), rootToken: throwaway.rootToken.reveal() }),
      { mode: 0o600, flag: 'wx' },
    );
    await rename(temporary, join(this.#directory, THROWAWAY_FILE));
  }

  async read(): Promise<Throwaway | undefined> {
    if (this.#directory === undefined) return undefined;
    try {
      const value = JSON.parse(await readFile(join(this.#directory, THROWAWAY_FILE), 'utf8')) as {
        keys: string[];
        rootToken: string;
      };
      return { keys: value.keys.map((key) => new Secret(key)), rootToken: new Secret(value.rootToken) };
    } catch {
      return undefined;
    }
  }

  async remove(): Promise<void> {
    if (this.#directory === undefined) return;
    await unlink(join(this.#directory, THROWAWAY_FILE)).catch(() => undefined);
  }
}
