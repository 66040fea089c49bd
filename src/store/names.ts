import { BootstrapError } from '../errors.js';
import { claimName } from './records.js';
import { secretNames, type AddVersionOptions, type SecretStore, type VersionInfo } from './types.js';

/**
 * The one rule the documented IAM relies on: every secret the program reads, creates or adds a
 * version to is named `${prefix}-…`. The grants are by that prefix (GCP: one
 * `resource.name.startsWith("projects/P/secrets/PREFIX-")` condition; AWS:
 * `arn:…:secret:PREFIX-*`), so a record added later (a claim generation, the self-init cluster,
 * the seal key, a snapshot's record) is covered without an IAM change. A name outside the prefix
 * would answer *denied* on a real cloud, which the program reads as `store-denied`: refused here
 * instead, before any call, as the programming error it is.
 */
export function underPrefix(prefix: string, name: string): boolean {
  return name.startsWith(`${prefix}-`);
}

/**
 * Every name a cluster's records take, from the code's own name functions: each `secretNames`
 * entry, and the claim generations 2 … `generations` (`{prefix}-init-claim-gN`, without bound in
 * principle: a takeover creates the next one). The IAM test evaluates the documented grants
 * against each.
 */
export function recordNames(prefix: string, generations = 3): string[] {
  const names = secretNames(prefix);
  const claims = Array.from({ length: Math.max(0, generations - 1) }, (_, index) =>
    claimName(names.initClaim, index + 2),
  );
  return [...Object.values(names), ...claims];
}

/** A store that refuses, before the call, any name outside `${prefix}-` (see `underPrefix`). */
export class PrefixedStore implements SecretStore {
  readonly kind: string;
  readonly #store: SecretStore;
  readonly #prefix: string;

  constructor(store: SecretStore, prefix: string) {
    this.kind = store.kind;
    this.#store = store;
    this.#prefix = prefix;
  }

  #check(name: string): void {
    if (!underPrefix(this.#prefix, name)) {
      throw new BootstrapError(
        'INTERNAL',
        `secret name ${name} is outside the store prefix "${this.#prefix}-": the documented IAM grants only names under the prefix`,
      );
    }
  }

  async verifyAccess(probeName: string): Promise<void> {
    this.#check(probeName);
    return this.#store.verifyAccess(probeName);
  }

  async readLatest(name: string): Promise<string> {
    this.#check(name);
    return this.#store.readLatest(name);
  }

  async createIfAbsent(name: string, value: string): Promise<void> {
    this.#check(name);
    return this.#store.createIfAbsent(name, value);
  }

  async addVersion(name: string, value: string, options?: AddVersionOptions): Promise<void> {
    this.#check(name);
    return this.#store.addVersion(name, value, options);
  }

  async readAllVersions(name: string): Promise<string[]> {
    this.#check(name);
    return this.#store.readAllVersions(name);
  }

  async listVersions(name: string): Promise<VersionInfo[]> {
    this.#check(name);
    return this.#store.listVersions(name);
  }

  close(): Promise<void> {
    return this.#store.close();
  }
}
