import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BootstrapError } from '../errors.js';
import type { ObjectInfo, ObjectStore } from './types.js';

const PARTIAL = /^\.partial-/;

/**
 * Snapshots in a local directory (local development; refused under Kubernetes). An object is
 * written under a hidden temporary name, synced, then renamed: a kill midway leaves only a
 * `.partial-*` file, which list() never shows.
 */
export class FileObjectStore implements ObjectStore {
  readonly kind = 'file' as const;
  readonly location: string;
  readonly #directory: string;

  constructor(directory: string, location: string) {
    this.#directory = directory;
    this.location = location;
  }

  async put(
    name: string,
    body: Readable,
    options: { contentType: string; signal?: AbortSignal },
  ): Promise<{ size: number }> {
    await this.#guard('create the directory', () => mkdir(this.#directory, { recursive: true, mode: 0o700 }));
    const temporary = join(this.#directory, `.partial-${randomBytes(6).toString('hex')}-${name}`);
    try {
      await this.#guard(`write ${name}`, () =>
        pipeline(
          body,
          createWriteStream(temporary, { mode: 0o600, flags: 'wx' }),
          options.signal ? { signal: options.signal } : {},
        ),
      );
      const handle = await open(temporary, 'r');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
      await this.#guard(`publish ${name}`, () => rename(temporary, join(this.#directory, name)));
    } catch (error) {
      await unlink(temporary).catch(() => undefined);
      throw error;
    }
    return { size: (await stat(join(this.#directory, name))).size };
  }

  async list(): Promise<ObjectInfo[]> {
    let entries: string[];
    try {
      entries = await readdir(this.#directory);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw failure('list', error);
    }
    const objects: ObjectInfo[] = [];
    for (const name of entries.filter((entry) => !PARTIAL.test(entry)).sort()) {
      const info = await stat(join(this.#directory, name)).catch(() => undefined);
      if (info?.isFile()) objects.push({ name, size: info.size, createdAt: info.mtime.toISOString() });
    }
    return objects;
  }

  async get(name: string): Promise<Readable> {
    const path = join(this.#directory, name);
    try {
      await stat(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT')
        throw new BootstrapError('SNAPSHOT_NOT_FOUND', `${this.location}: ${name} does not exist`);
      throw failure(`read ${name}`, error);
    }
    return createReadStream(path);
  }

  async delete(name: string): Promise<void> {
    await unlink(join(this.#directory, name)).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw failure(`delete ${name}`, error);
    });
  }

  async close(): Promise<void> {}

  async #guard<T>(what: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (error instanceof BootstrapError) throw error;
      if ((error as { name?: string }).name === 'AbortError') throw error;
      throw failure(what, error);
    }
  }
}

function failure(what: string, error: unknown): BootstrapError {
  const code = (error as NodeJS.ErrnoException).code;
  const denied = code === 'EACCES' || code === 'EPERM' || code === 'EROFS';
  return new BootstrapError(
    denied ? 'SNAPSHOT_STORE_DENIED' : 'SNAPSHOT_STORE_UNAVAILABLE',
    `snapshot directory: cannot ${what} (${code ?? 'failed'})`,
  );
}
