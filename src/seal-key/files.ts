import { randomBytes } from 'node:crypto';
import { chown, open, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '../errors.js';
import type { SealKey } from '../store/seal-key.js';

const CURRENT_KEY_FILE = 'current.key';
const PREVIOUS_KEY_FILE = 'previous.key';
/** The seal stanza, for the server's second -config: ids and file paths, no key byte. */
const SEAL_CONFIG_FILE = 'seal.hcl';

/**
 * The `seal "static"` stanza OpenBao reads (keys by file://, ids inline). OpenBao takes a key
 * file of exactly 44 characters as standard base64 (32 bytes), which is what the files hold.
 */
export function sealStanza(directory: string, current: SealKey, previous: SealKey | undefined): string {
  return [
    'seal "static" {',
    `  current_key_id = "${current.keyId}"`,
    `  current_key    = "file://${join(directory, CURRENT_KEY_FILE)}"`,
    ...(previous
      ? [
          `  previous_key_id = "${previous.keyId}"`,
          `  previous_key    = "file://${join(directory, PREVIOUS_KEY_FILE)}"`,
        ]
      : []),
    '}',
    '',
  ].join('\n');
}

/**
 * Writes the key file(s) and the stanza into the (memory-backed) directory: each file 0400,
 * owned by `uid` when given (else by this process), written under a temporary name and renamed
 * into place, keys first and the stanza last; a previous key no longer needed is removed.
 */
export async function writeSealKeyFiles(
  directory: string,
  current: SealKey,
  previous: SealKey | undefined,
  uid: number | undefined,
): Promise<void> {
  await writeFileAtomically(directory, CURRENT_KEY_FILE, current.key.reveal(), uid);
  if (previous) await writeFileAtomically(directory, PREVIOUS_KEY_FILE, previous.key.reveal(), uid);
  await writeFileAtomically(directory, SEAL_CONFIG_FILE, sealStanza(directory, current, previous), uid);
  if (!previous) {
    await unlink(join(directory, PREVIOUS_KEY_FILE)).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
  }
}

async function writeFileAtomically(
  directory: string,
  name: string,
  text: string,
  uid: number | undefined,
): Promise<void> {
  const temporary = join(directory, `.${name}.${randomBytes(6).toString('hex')}`);
  const handle = await open(temporary, 'wx', 0o400);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  if (uid !== undefined && uid !== process.getuid?.()) {
    try {
      await chown(temporary, uid, -1);
    } catch (error) {
      // No key byte is left behind in the shared directory, whatever the reason.
      await unlink(temporary).catch(() => undefined);
      if ((error as NodeJS.ErrnoException).code !== 'EPERM') throw error;
      throw new ConfigError(
        `--seal-key-uid/VB_SEAL_KEY_UID: this process may not give its files to uid ${uid} (chown refused: it lacks CAP_CHOWN); run the init container as uid ${uid} and leave the option unset (as the overlays do), or grant it CAP_CHOWN`,
      );
    }
  }
  await rename(temporary, join(directory, name));
}
