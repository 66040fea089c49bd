import type { AddVersionOptions, SecretStore, VersionInfo } from './types.js';

/**
 * A store that reports each operation before making it (the cost metric of SPEC §9): a wrapper,
 * not a backend. `verifyAccess` counts as the read it is.
 */
export class CountingStore implements SecretStore {
  readonly kind: string;
  readonly #store: SecretStore;
  readonly #count: (operation: string) => void;

  constructor(store: SecretStore, count: (operation: string) => void) {
    this.kind = store.kind;
    this.#store = store;
    this.#count = count;
  }

  verifyAccess(probeName: string): Promise<void> {
    this.#count('verifyAccess');
    return this.#store.verifyAccess(probeName);
  }

  readLatest(name: string): Promise<string> {
    this.#count('readLatest');
    return this.#store.readLatest(name);
  }

  createIfAbsent(name: string, value: string): Promise<void> {
    this.#count('createIfAbsent');
    return this.#store.createIfAbsent(name, value);
  }

  addVersion(name: string, value: string, options?: AddVersionOptions): Promise<void> {
    this.#count('addVersion');
    return this.#store.addVersion(name, value, options);
  }

  readAllVersions(name: string): Promise<string[]> {
    this.#count('readAllVersions');
    return this.#store.readAllVersions(name);
  }

  listVersions(name: string): Promise<VersionInfo[]> {
    this.#count('listVersions');
    return this.#store.listVersions(name);
  }

  close(): Promise<void> {
    return this.#store.close();
  }
}
