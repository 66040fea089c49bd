import { CALL_DEADLINE_MS, type Deadlines } from '../deadlines.js';
import type { AddVersionOptions, SecretStore, VersionInfo } from './types.js';

/** How the log names each store. */
const DEPENDENCY_NAMES: Readonly<Record<string, string>> = Object.freeze({
  aws: 'aws secrets manager',
  gcp: 'gcp secret manager',
  file: 'file store',
});

/**
 * A store whose every operation has a deadline (Deadlines): a wrapper, not a backend, so the
 * bound is the same for each. The backends also give their clients a timeout of their own
 * (the AWS request handler, gax's per-call timeout), so an abandoned request ends too.
 */
export class DeadlineStore implements SecretStore {
  readonly kind: string;
  readonly #store: SecretStore;
  readonly #deadlines: Deadlines;
  readonly #name: string;

  constructor(store: SecretStore, deadlines: Deadlines) {
    this.kind = store.kind;
    this.#store = store;
    this.#deadlines = deadlines;
    this.#name = DEPENDENCY_NAMES[store.kind] ?? `${store.kind} store`;
  }

  verifyAccess(probeName: string): Promise<void> {
    return this.#call('verifyAccess', probeName, () => this.#store.verifyAccess(probeName));
  }

  readLatest(name: string): Promise<string> {
    return this.#call('readLatest', name, () => this.#store.readLatest(name));
  }

  createIfAbsent(name: string, value: string): Promise<void> {
    return this.#call('createIfAbsent', name, () => this.#store.createIfAbsent(name, value));
  }

  addVersion(name: string, value: string, options?: AddVersionOptions): Promise<void> {
    return this.#call('addVersion', name, () => this.#store.addVersion(name, value, options));
  }

  readAllVersions(name: string): Promise<string[]> {
    return this.#call('readAllVersions', name, () => this.#store.readAllVersions(name));
  }

  listVersions(name: string): Promise<VersionInfo[]> {
    return this.#call('listVersions', name, () => this.#store.listVersions(name));
  }

  close(): Promise<void> {
    return this.#store.close();
  }

  #call<T>(operation: string, secret: string, work: () => Promise<T>): Promise<T> {
    return this.#deadlines.call('store', this.#name, `${operation} ${secret}`, CALL_DEADLINE_MS.store, work);
  }
}
