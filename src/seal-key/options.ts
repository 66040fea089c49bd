import { ConfigError } from '../errors.js';
import { checkMemoryBacked } from '../memory-backed.js';

/** seal-key's options: where the key files go, and whose they are. */
export interface SealKeyOptions {
  /** Memory-backed directory shared with the server container (checked at start-up). */
  readonly directory: string;
  /** Owner of the files (the server's uid); undefined: this process's uid, which the manifests make the server's. */
  readonly uid: number | undefined;
}

type Setting = { value: string | undefined; name: string };

/** --seal-key-dir (required by seal-key, refused elsewhere) and --seal-key-uid, checked before any network call. */
export function parseSealKeyOptions(command: string, directory: Setting, uid: Setting): SealKeyOptions | undefined {
  if (command !== 'seal-key') {
    const stray = [directory, uid].find((each) => each.value !== undefined);
    if (stray) throw new ConfigError(`${stray.name}: only valid with the seal-key command`);
    return undefined;
  }
  if (directory.value === undefined) throw new ConfigError(`${directory.name}: required by seal-key (a memory-backed directory shared with the server container)`);
  let owner: number | undefined;
  if (uid.value !== undefined) {
    if (!/^\d{1,10}$/.test(uid.value) || Number(uid.value) > 2 ** 31 - 1) throw new ConfigError(`${uid.name}: expected a numeric user id, got ${JSON.stringify(uid.value)}`);
    owner = Number(uid.value);
  }
  return Object.freeze({ directory: checkMemoryBacked(directory.value, directory.name), uid: owner });
}
