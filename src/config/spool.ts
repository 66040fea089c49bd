import { statfsSync, statSync } from 'node:fs';
import { ConfigError } from '../errors.js';

const TMPFS_MAGIC = 0x01021994;
const RAMFS_MAGIC = 0x858458f6;

/** Keys may wait in the spool only on memory: a disk-backed path would outlive the pod. */
export function checkSpoolDirectory(directory: string, name: string): string {
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
