import type { Readable } from 'node:stream';
import { CALL_DEADLINE_MS, type Deadlines } from '../deadlines.js';
import type { ObjectInfo, ObjectStore } from './types.js';

/**
 * An object store whose every call has a deadline (Deadlines), as DeadlineStore is for the
 * secret store: a listing, opening an object or a delete within CALL_DEADLINE_MS.snapshotStore;
 * an upload within CALL_DEADLINE_MS.snapshotTransfer, its body aborted when that is up. A call
 * that reaches it fails as SNAPSHOT_STORE_UNAVAILABLE (transient), naming the operation.
 */
export class DeadlineObjectStore implements ObjectStore {
  readonly kind: ObjectStore['kind'];
  readonly location: string;
  readonly #objects: ObjectStore;
  readonly #deadlines: Deadlines;

  constructor(objects: ObjectStore, deadlines: Deadlines) {
    this.kind = objects.kind;
    this.location = objects.location;
    this.#objects = objects;
    this.#deadlines = deadlines;
  }

  put(name: string, body: Readable, options: { contentType: string; signal?: AbortSignal }): Promise<{ size: number }> {
    return this.#deadlines.call(
      'snapshots',
      this.location,
      `upload ${name}`,
      CALL_DEADLINE_MS.snapshotTransfer,
      ({ signal }) => {
        const onDeadline = () => body.destroy();
        signal.addEventListener('abort', onDeadline, { once: true });
        const signals = options.signal === undefined ? signal : AbortSignal.any([signal, options.signal]);
        return this.#objects
          .put(name, body, { ...options, signal: signals })
          .finally(() => signal.removeEventListener('abort', onDeadline));
      },
    );
  }

  list(): Promise<ObjectInfo[]> {
    return this.#call('list', () => this.#objects.list());
  }

  get(name: string): Promise<Readable> {
    return this.#call(`read ${name}`, () => this.#objects.get(name));
  }

  delete(name: string): Promise<void> {
    return this.#call(`delete ${name}`, () => this.#objects.delete(name));
  }

  close(): Promise<void> {
    return this.#objects.close();
  }

  #call<T>(operation: string, work: () => Promise<T>): Promise<T> {
    return this.#deadlines.call('snapshots', this.location, operation, CALL_DEADLINE_MS.snapshotStore, work);
  }
}
