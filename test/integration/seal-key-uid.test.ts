import { existsSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileStore } from '../../src/store/file.js';
import { capturedOutput, cleanEnv, startCli } from '../../harness/cli.js';
import { memoryDirectory, sealKeyValues } from '../../harness/static-seal.js';
import { expectNoSecretIn } from '../helpers/secrets.js';

const SERVER_UID = 65532;
const root = process.getuid?.() === 0;
const setpriv = ['/usr/bin/setpriv', '/bin/setpriv'].some((path) => existsSync(path));

/**
 * `seal-key --seal-key-uid` (issue 28): the key files are given to the server's uid. Giving a file
 * away needs CAP_CHOWN, so the granted case runs only as root here; the refused case runs as root
 * without CAP_CHOWN (setpriv), which is what an init container without the capability is. Not run
 * here: a server process running as that uid reading the files, a kubelet's fsGroup, and a
 * non-root runner (both cases then skip).
 */
describe.skipIf(!root || !setpriv)('seal-key --seal-key-uid', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const cleanup of cleanups) await cleanup();
  });

  async function setup(): Promise<{ directory: string; args: string[]; store: FileStore }> {
    const { directory, remove } = await memoryDirectory('vb-seal-key-uid');
    cleanups.push(remove);
    const storeDirectory = join(await mkdtemp(join(tmpdir(), 'vb-seal-key-uid-')), 'store');
    return {
      directory,
      args: [
        'seal-key',
        '--store',
        'file',
        '--file-dir',
        storeDirectory,
        '--seal-key-dir',
        directory,
        '--timeout',
        '30s',
      ],
      store: new FileStore(storeDirectory),
    };
  }

  it('with CAP_CHOWN: the key file and the stanza belong to the given uid, 0400, nothing else left in the directory', async () => {
    const { directory, args, store } = await setup();
    const result = await startCli([...args, '--seal-key-uid', String(SERVER_UID)], cleanEnv({ POD_NAME: 'openbao-0' }))
      .result;
    expect(result.code, result.stderr).toBe(0);
    expect((await readdir(directory)).sort()).toEqual(['current.key', 'seal.hcl']);
    for (const name of ['current.key', 'seal.hcl']) {
      const info = await stat(join(directory, name));
      expect(info.uid, name).toBe(SERVER_UID);
      expect(info.mode & 0o777, name).toBe(0o400);
    }
    expectNoSecretIn(capturedOutput, sealKeyValues(await store.readAllVersions('vault-seal-key')));
  });

  it('without CAP_CHOWN: exit 2 with one line naming --seal-key-uid, and no key byte left in the directory', async () => {
    const { directory, args, store } = await setup();
    const result = await startCli(
      [...args, '--seal-key-uid', String(SERVER_UID)],
      cleanEnv({ POD_NAME: 'openbao-0' }),
      [],
      { withoutChown: true },
    ).result;
    expect(result.code, result.stderr).toBe(2);
    const lines = result.stderr.trim().split('\n');
    expect(lines.at(-1)).toContain('--seal-key-uid/VB_SEAL_KEY_UID');
    expect(lines.at(-1)).toContain(`uid ${SERVER_UID}`);
    expect(await readdir(directory)).toEqual([]);
    // The key was stored before any file was written (seal-key's order); the next start with a usable uid writes it.
    expect(await store.readAllVersions('vault-seal-key')).toHaveLength(1);
    const again = await startCli(args, cleanEnv({ POD_NAME: 'openbao-0' }), [], { withoutChown: true }).result;
    expect(again.code, again.stderr).toBe(0);
    expect((await readdir(directory)).sort()).toEqual(['current.key', 'seal.hcl']);
    expectNoSecretIn(capturedOutput, sealKeyValues(await store.readAllVersions('vault-seal-key')));
  });
});
