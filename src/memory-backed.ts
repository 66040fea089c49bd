import { statSync, statfsSync } from 'node:fs';
import { ConfigError } from './errors.js';

const TMPFS_MAGIC = 0x01021994;
const RAMFS_MAGIC = 0x858458f6;

/**
 * Keys may sit in a directory only when it is memory-backed (tmpfs, ramfs: an emptyDir with
 * medium: Memory): a disk-backed path would outlive the pod. Used by the spool and the static
 * seal key's directory. Throws ConfigError naming the flag/env.
 */
export function checkMemoryBacked(directory: string, name: string): string {
  let type: number;
  try {
    if (!statSync(directory).isDirectory()) throw new ConfigError(`${name}: ${directory} is not a directory`);
    type = statfsSync(directory).type;
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError(`${name}: cannot use ${directory} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (type !== TMPFS_MAGIC && type !== RAMFS_MAGIC) {
    throw new ConfigError(`${name}: ${directory} is not memory-backed (tmpfs); use an emptyDir with medium: Memory`);
  }
  return directory;
}
