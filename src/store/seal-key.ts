import { BootstrapError, StoreNotFoundError } from '../errors.js';
import { decodeSealKey, decodeSealKeyRollout, encodeSealKey, RecordProblem } from './codec.js';
import type { SealKey, SealKeyRollout, SealKeyVersion } from './schema.js';
import { secretNames, type SecretStore } from './types.js';

export { decodeSealKey, encodeSealKey, keyIdOf } from './codec.js';
export { SEAL_KEY_BYTES, type SealKey, type SealKeyRollout, type SealKeyVersion } from './schema.js';

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
      throw new BootstrapError(
        'STORE_MISMATCH',
        `${this.sealKeyName}: the value read back differs from the value written`,
      );
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
      return decodeSealKeyRollout(text);
    } catch (error) {
      if (!(error instanceof RecordProblem)) throw error;
      throw new BootstrapError(
        'STORE_CORRUPT',
        `${this.rolloutName}: the latest version is not a valid record: ${error.message}`,
      );
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
