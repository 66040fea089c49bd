import { Storage, type File } from '@google-cloud/storage';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BootstrapError } from '../errors.js';
import type { ObjectInfo, ObjectStore } from './types.js';

/**
 * Snapshots in Cloud Storage (`gs://bucket/prefix`), through resumable uploads: the object
 * exists only once the upload is finalized, so a failed or killed upload leaves nothing visible.
 * The client honours STORAGE_EMULATOR_HOST (fake-gcs-server in the tests) and finds its
 * credentials itself (Workload Identity in the cluster).
 */
export class GcsObjectStore implements ObjectStore {
  readonly kind = 'gcs' as const;
  readonly location: string;
  readonly #storage: Storage;
  readonly #bucket: string;
  readonly #prefix: string;
  readonly #kmsKey: string | undefined;

  constructor(
    options: { bucket: string; prefix: string; location: string; kmsKey: string | undefined },
    env: Readonly<Record<string, string | undefined>> = process.env,
  ) {
    this.location = options.location;
    this.#bucket = options.bucket;
    this.#prefix = options.prefix;
    this.#kmsKey = options.kmsKey;
    const emulator = emulatorOrigin(env.STORAGE_EMULATOR_HOST);
    this.#storage = new Storage({
      retryOptions: { autoRetry: true, maxRetries: 3, totalTimeout: 120 },
      ...(emulator === undefined ? {} : { apiEndpoint: emulator }),
    });
    // The client takes STORAGE_EMULATOR_HOST verbatim as the JSON API's base (no /storage/v1), where
    // emulators (fake-gcs-server) and Google's other clients put it under /storage/v1: give it that.
    if (emulator !== undefined) Object.assign(this.#storage, { baseUrl: `${emulator}/storage/v1` });
  }

  async put(
    name: string,
    body: Readable,
    options: { contentType: string; signal?: AbortSignal },
  ): Promise<{ size: number }> {
    const file = this.#file(name);
    const upload = file.createWriteStream({
      resumable: true,
      contentType: options.contentType,
      // crc32c over the bytes sent, checked against what the server stored: a mismatch fails the upload.
      validation: 'crc32c',
      ...(this.#kmsKey === undefined ? {} : { kmsKeyName: this.#kmsKey }),
    });
    try {
      await pipeline(body, upload, options.signal ? { signal: options.signal } : {});
    } catch (error) {
      if (error instanceof BootstrapError) throw error;
      if ((error as { name?: string }).name === 'AbortError') throw error;
      throw this.#failure(`upload ${name}`, error);
    }
    try {
      const [metadata] = await file.getMetadata();
      return { size: Number(metadata.size ?? 0) };
    } catch (error) {
      throw this.#failure(`check ${name}`, error);
    }
  }

  async list(): Promise<ObjectInfo[]> {
    const prefix = this.#prefix === '' ? '' : `${this.#prefix}/`;
    let files: File[];
    try {
      [files] = await this.#storage.bucket(this.#bucket).getFiles({ prefix, autoPaginate: true });
    } catch (error) {
      throw this.#failure('list', error);
    }
    return files
      .map((file) => ({
        name: file.name.slice(prefix.length),
        size: Number(file.metadata.size ?? 0),
        createdAt: file.metadata.timeCreated,
      }))
      .filter((object) => object.name !== '' && !object.name.includes('/'))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  async get(name: string): Promise<Readable> {
    const file = this.#file(name);
    try {
      const [exists] = await file.exists();
      if (!exists) throw new BootstrapError('SNAPSHOT_NOT_FOUND', `${this.location}: ${name} does not exist`);
    } catch (error) {
      throw this.#failure(`read ${name}`, error);
    }
    return file.createReadStream({ validation: false });
  }

  async delete(name: string): Promise<void> {
    try {
      await this.#file(name).delete({ ignoreNotFound: true });
    } catch (error) {
      throw this.#failure(`delete ${name}`, error);
    }
  }

  async close(): Promise<void> {}

  #file(name: string): File {
    return this.#storage.bucket(this.#bucket).file(this.#prefix === '' ? name : `${this.#prefix}/${name}`);
  }

  /** Only the HTTP status leaves this file: the client's messages may carry request details. */
  #failure(what: string, error: unknown): BootstrapError {
    if (error instanceof BootstrapError) return error;
    const status = (error as { code?: unknown }).code;
    const denied = status === 401 || status === 403 || status === 404;
    const reason =
      typeof status === 'number' ? `HTTP ${status}` : typeof status === 'string' ? status : 'request failed';
    return new BootstrapError(
      denied ? 'SNAPSHOT_STORE_DENIED' : 'SNAPSHOT_STORE_UNAVAILABLE',
      `${this.location}: cannot ${what}: ${reason}`,
    );
  }
}

/** STORAGE_EMULATOR_HOST (`host:port` or `http://host:port`) → its origin; undefined when unset. */
function emulatorOrigin(value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  return new URL(/^https?:\/\//.test(value) ? value : `http://${value}`).origin;
}
