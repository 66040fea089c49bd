import { randomBytes } from 'node:crypto';
import { readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BootstrapError } from '../errors.js';
import { Secret } from '../secret.js';
import {
  unsealKeysFromObject,
  encodeRootToken,
  encodeUnsealKeys,
  type RootToken,
  type UnsealKeys,
} from '../store/records.js';

export interface PendingSecrets {
  unsealKeys: UnsealKeys;
  rootToken: RootToken;
}

const FILE_NAME = 'pending-init.json';

/**
 * Keys that came back from sys/init but are not stored yet wait here, on a memory-backed
 * directory (checked at start-up), so a container restarted after a crash or a shutdown
 * timeout finishes storing them. The file is 0600 and removed once the store holds them.
 */
export class Spool {
  readonly #path: string;
  readonly #directory: string;

  constructor(directory: string) {
    this.#directory = directory;
    this.#path = join(directory, FILE_NAME);
  }

  async write(pending: PendingSecrets): Promise<void> {
    const text = JSON.stringify({
      unsealKeys: JSON.parse(encodeUnsealKeys(pending.unsealKeys)),
      rootToken: JSON.parse(encodeRootToken(pending.rootToken)),
    });
    const temporary = join(this.#directory, `.${FILE_NAME}.${randomBytes(6).toString('hex')}`);
    await writeFile(temporary, text, { mode: 0o600, flag: 'wx' });
    await rename(temporary, this.#path);
  }

  async read(): Promise<PendingSecrets | undefined> {
    let text: string;
    try {
      text = await readFile(this.#path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new BootstrapError(
        'STORE_UNAVAILABLE',
        `spool ${this.#path}: ${(error as NodeJS.ErrnoException).code ?? 'read failed'}`,
      );
    }
    try {
      const parsed = JSON.parse(text) as {
        unsealKeys: Record<string, unknown>;
        rootToken: { token: string; createdAt: string };
      };
      return {
        unsealKeys: unsealKeysFromObject(parsed.unsealKeys),
        rootToken: { token: new Secret(parsed.rootToken.token), createdAt: parsed.rootToken.createdAt },
      };
    } catch {
      throw new BootstrapError('STORE_CORRUPT', `spool ${this.#path}: not a valid record`);
    }
  }

  async remove(): Promise<void> {
    await unlink(this.#path).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
  }
}
