import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { chmod, link, mkdir, open, readdir, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError, StoreAlreadyExistsError, StoreNotFoundError } from '../errors.js';
import { foreignSecretError, storeError, type SdkFailure } from './errors.js';
import { MANAGED_LABELS, type AddVersionOptions, type SecretStore, type VersionInfo } from './types.js';

const VERSION_DIGITS = 6;

/**
 * Local development store: one directory per secret, one 0600 file per version
 * (000001, 000002, …). A version is written to a temporary file and published with
 * link(2), which fails if the target exists, so readers never see half a value and two
 * writers can never both create version 1.
 */
export class FileStore implements SecretStore {
  readonly kind = 'file';
  readonly #directory: string;

  constructor(directory: string) {
    this.#directory = directory;
  }

  async verifyAccess(_probeName: string): Promise<void> {
    try {
      await mkdir(this.#directory, { recursive: true, mode: 0o700 });
      await chmod(this.#directory, 0o700);
      const probe = join(this.#directory, `.probe-${randomBytes(6).toString('hex')}`);
      await writeFile(probe, '', { mode: 0o600 });
      await unlink(probe);
    } catch (error) {
      throw new ConfigError(
        `--file-dir/VB_FILE_DIR: ${this.#directory} is not a writable directory (${errnoOf(error)})`,
      );
    }
  }

  async readLatest(name: string): Promise<string> {
    const versions = await this.#versionFiles(name);
    const latest = versions.at(-1);
    if (latest === undefined) throw new StoreNotFoundError(name);
    return this.#read(name, latest);
  }

  async createIfAbsent(name: string, value: string): Promise<void> {
    await this.#ensureSecretDirectory(name);
    const published = await this.#publish(name, versionFileName(1), value);
    if (!published) throw new StoreAlreadyExistsError(name);
  }

  async addVersion(name: string, value: string, options: AddVersionOptions = {}): Promise<void> {
    if (options.holdsSecret) await this.#refuseForeign(name);
    await this.#ensureSecretDirectory(name);
    for (;;) {
      const versions = await this.#versionFiles(name);
      const next = versions.length === 0 ? 1 : Number(versions.at(-1)) + 1;
      if (await this.#publish(name, versionFileName(next), value)) return;
    }
  }

  async listVersions(name: string): Promise<VersionInfo[]> {
    const versions = await this.#versionFiles(name);
    return Promise.all(
      versions.map(async (version) => ({
        createdAt: (await guard(name, () => stat(join(this.#directory, name, version)))).mtime.toISOString(),
      })),
    );
  }

  async readAllVersions(name: string): Promise<string[]> {
    const versions = await this.#versionFiles(name);
    return Promise.all(versions.map((version) => this.#read(name, version)));
  }

  async close(): Promise<void> {}

  /**
   * A secret directory without any version that this user did not make as it makes them (owned
   * by it, mode 0700): someone else's, never written into.
   */
  async #refuseForeign(name: string): Promise<void> {
    if ((await this.#versionFiles(name)).length > 0) return;
    const info = await guard(name, async () => {
      try {
        return await stat(join(this.#directory, name));
      } catch (error) {
        if (errnoOf(error) === 'ENOENT') return undefined;
        throw error;
      }
    });
    if (info === undefined) return;
    const owner = process.getuid?.();
    if ((owner !== undefined && info.uid !== owner) || (info.mode & 0o077) !== 0 || !info.isDirectory())
      throw foreignSecretError(this.kind, name);
  }

  async #ensureSecretDirectory(name: string): Promise<void> {
    const directory = join(this.#directory, name);
    await guard(name, () => mkdir(directory, { recursive: true, mode: 0o700 }));
    const labels = join(directory, 'labels.json');
    await guard(name, () => writeFile(labels, JSON.stringify(MANAGED_LABELS), { mode: 0o600 }));
  }

  /** Writes a temporary file, then links it into place; false when the version already exists. */
  async #publish(name: string, versionFile: string, value: string): Promise<boolean> {
    const directory = join(this.#directory, name);
    const temporary = join(directory, `.tmp-${randomBytes(8).toString('hex')}`);
    return guard(name, async () => {
      const handle = await open(temporary, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
      try {
        await handle.writeFile(value, 'utf8');
        await handle.sync();
      } finally {
        await handle.close();
      }
      try {
        await link(temporary, join(directory, versionFile));
        return true;
      } catch (error) {
        if (errnoOf(error) === 'EEXIST') return false;
        throw error;
      } finally {
        await unlink(temporary).catch(() => undefined);
      }
    });
  }

  async #versionFiles(name: string): Promise<string[]> {
    const directory = join(this.#directory, name);
    const entries = await guard(name, async () => {
      try {
        return await readdir(directory);
      } catch (error) {
        if (errnoOf(error) === 'ENOENT') return [];
        throw error;
      }
    });
    return entries.filter((entry) => /^\d+$/.test(entry)).sort();
  }

  async #read(name: string, versionFile: string): Promise<string> {
    return guard(name, () => readFile(join(this.#directory, name, versionFile), 'utf8'));
  }
}

function versionFileName(version: number): string {
  return String(version).padStart(VERSION_DIGITS, '0');
}

function errnoOf(error: unknown): string {
  return typeof error === 'object' && error !== null && 'code' in error
    ? String((error as { code: unknown }).code)
    : 'unknown error';
}

/** File system errors become store errors naming the secret and the errno, nothing else. */
async function guard<T>(name: string, operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    throw storeError('file', 'access', name, error, classify);
  }
}

function classify(error: unknown): SdkFailure {
  const code = errnoOf(error);
  return { transient: code !== 'EACCES' && code !== 'EPERM' && code !== 'EROFS', reason: code };
}
