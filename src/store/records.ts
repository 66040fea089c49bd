import { BootstrapError, StoreNotFoundError } from '../errors.js';
import {
  decodeClaim,
  decodeProvisionerToken,
  decodeRootToken,
  decodeSealIntent,
  decodeSelfInitCluster,
  decodeUnsealKeys,
  encodeRootToken,
  encodeToken,
  encodeUnsealKeys,
  RecordProblem,
  sameKeys,
  valueOf,
} from './codec.js';
import {
  claimName,
  type ClaimSeen,
  type InitClaim,
  type ManagementTokenRecord,
  type ProvisionerToken,
  type RootToken,
  type SealIntent,
  type SelfInitCluster,
  type StoredRecord,
  type UnsealKeys,
  type UnsealKeyVersions,
} from './schema.js';
import { secretNames, type AddVersionOptions, type SecretNames, type SecretStore } from './types.js';

// The record types and their JSON form, re-exported: most modules import them from here.
export * from './schema.js';
export {
  decodeUnsealKeys,
  describeInvalidRecord,
  encodeRootToken,
  encodeUnsealKeys,
  unsealKeysFromObject,
} from './codec.js';
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
        if (index === texts.length - 1)
          throw new BootstrapError(
            'STORE_CORRUPT',
            `${this.names.unsealKeys}: the latest version (${texts.length}) is not a valid record: ${error.message}`,
          );
        return undefined; // an invalid earlier version is skipped
      }
    });
    const activeIndex = records.findLastIndex((record) => record !== undefined && record.status !== 'pending');
    const active = activeIndex === -1 ? undefined : records[activeIndex]!;
    const firstOfActive =
      active === undefined ? -1 : records.findIndex((record) => record !== undefined && sameKeys(record, active));
    const pending: UnsealKeyVersions['pending'] = [];
    for (let index = records.length - 1; index > firstOfActive; index -= 1) {
      const record = records[index];
      if (record?.status === 'pending' && !(active && sameKeys(record, active)))
        pending.push({ record, version: index + 1 });
    }
    return { active: active && { record: active, version: activeIndex + 1 }, pending, count: texts.length };
  }

  inspectRootToken(): Promise<StoredRecord<RootToken>> {
    return this.#inspect(this.names.rootToken, decodeRootToken);
  }

  inspectProvisionerToken(): Promise<StoredRecord<ProvisionerToken>> {
    return this.#inspect(this.names.provisionerToken, decodeProvisionerToken);
  }

  inspectManagementToken(): Promise<StoredRecord<ManagementTokenRecord>> {
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
    await this.#writeVerified(this.names.unsealKeys, encodeUnsealKeys(record), { holdsSecret: true });
  }

  /** Whether the latest stored versions are exactly these keys and this root token. */
  async holdsInitSecrets(unsealKeys: UnsealKeys, rootToken: RootToken): Promise<boolean> {
    const latest = (name: string) =>
      this.store.readLatest(name).catch((error: unknown) => {
        if (error instanceof StoreNotFoundError) return undefined;
        throw error;
      });
    return (
      (await latest(this.names.unsealKeys)) === encodeUnsealKeys(unsealKeys) &&
      (await latest(this.names.rootToken)) === encodeRootToken(rootToken)
    );
  }

  async readRootToken(): Promise<RootToken | undefined> {
    return valueOf(await this.inspectRootToken());
  }

  async writeRootToken(record: RootToken): Promise<void> {
    await this.#writeVerified(this.names.rootToken, encodeRootToken(record), { holdsSecret: true });
  }

  async readProvisionerToken(): Promise<ProvisionerToken | undefined> {
    return valueOf(await this.inspectProvisionerToken());
  }

  async writeProvisionerToken(record: ProvisionerToken): Promise<void> {
    await this.#writeVerified(this.names.provisionerToken, encodeToken(record), { holdsSecret: true });
  }

  async writeManagementToken(record: ManagementTokenRecord): Promise<void> {
    await this.#writeVerified(this.names.managementToken, encodeToken(record), { holdsSecret: true });
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
      return {
        kind: 'invalid',
        name,
        problem: error.message,
        versions: Math.max(history.length, 1),
        earlierValidVersion,
      };
    }
  }

  async #writeVerified(name: string, text: string, options: AddVersionOptions = {}): Promise<void> {
    await this.store.addVersion(name, text, options);
    const readBack = await this.store.readLatest(name);
    if (readBack !== text) {
      throw new BootstrapError('STORE_MISMATCH', `${name}: the value read back differs from the value written`);
    }
  }
}
