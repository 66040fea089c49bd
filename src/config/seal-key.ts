import { ConfigError } from '../errors.js';
import type { Command } from './options.js';
import type { OptionReader } from './read.js';
import type { SealKeyOptions } from './settings.js';
import { checkSpoolDirectory } from './spool.js';

/**
 * --seal-key-dir (required by seal-key, refused elsewhere) and --seal-key-uid, checked before any
 * network call. The directory must be memory-backed, as the spool's: the keys never touch a disk.
 */
export function parseSealKey(read: OptionReader, command: Command): SealKeyOptions | undefined {
  const directory = read.text('seal-key-dir');
  const uid = read.text('seal-key-uid');
  if (command !== 'seal-key') {
    const stray = [directory, uid].find((each) => each.value !== undefined);
    if (stray) throw new ConfigError(`${stray.name}: only valid with the seal-key command`);
    return undefined;
  }
  if (directory.value === undefined)
    throw new ConfigError(
      `${directory.name}: required by seal-key (a memory-backed directory shared with the server container)`,
    );
  let owner: number | undefined;
  if (uid.value !== undefined) {
    if (!/^\d{1,10}$/.test(uid.value) || Number(uid.value) > 2 ** 31 - 1)
      throw new ConfigError(`${uid.name}: expected a numeric user id, got ${JSON.stringify(uid.value)}`);
    owner = Number(uid.value);
  }
  return Object.freeze({ directory: checkSpoolDirectory(directory.value, directory.name), uid: owner });
}
