import { mkdtemp, readdir, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileStore } from '../../src/store/file.js';
import { capturedOutput, logLines, runCli } from '../../harness/cli.js';
import { baoRequest, OpenBao } from '../../harness/openbao.js';
import { expectNoSecretIn, secretValuesIn } from '../helpers/secrets.js';

const VALID = {
  type: 'shamir',
  keysBase64: ['a2V5MQ=='],
  threshold: 1,
  shares: 1,
  initializedAt: '2026-11-01T00:00:00Z',
};

const BAD_RECORDS: Array<[string, string, string]> = [
  ['garbage', 'not json at all {', 'not JSON'],
  ['an empty key list', JSON.stringify({ ...VALID, keysBase64: [] }), 'no keys in keysBase64'],
  ['threshold 0', JSON.stringify({ ...VALID, threshold: 0 }), 'threshold must be a whole number'],
  ['an unknown type', JSON.stringify({ ...VALID, type: 'quantum' }), 'unknown type'],
  ['a 5 MB value', JSON.stringify({ ...VALID, padding: 'x'.repeat(5 * 1024 * 1024) }), 'larger than 64 KiB'],
];

/** Removes the newest version of a file-store secret: the bad one each case added. */
async function dropLatestVersion(storeDirectory: string, name: string): Promise<void> {
  const versions = (await readdir(join(storeDirectory, name))).filter((entry) => /^\d+$/.test(entry)).sort();
  await unlink(join(storeDirectory, name, versions.at(-1)!));
}

describe('a bad record in the store: named with its version, never used, never a reason to init', () => {
  let server: OpenBao;
  let fresh: OpenBao;
  let storeDirectory: string;
  let store: FileStore;

  beforeAll(async () => {
    [server, fresh] = await Promise.all([OpenBao.start(), OpenBao.start()]);
    storeDirectory = join(await mkdtemp(join(tmpdir(), 'vb-bad-records-')), 'store');
    store = new FileStore(storeDirectory);
    const converged = await runCli([
      'run',
      '--once',
      '--store',
      'file',
      '--file-dir',
      storeDirectory,
      '--vault-addr',
      server.address,
    ]);
    expect(converged.code, converged.stdout).toBe(0);
    await server.restart();
  });

  afterAll(async () => {
    await Promise.all([server?.stop(), fresh?.stop()]);
  });

  it.each(BAD_RECORDS)(
    '%s as the newest keys version: run --once exits 1 at once, naming the version and the intact earlier one',
    async (_name, value, problem) => {
      const versionsBefore = (await store.readAllVersions('vault-unseal-keys')).length;
      await store.addVersion('vault-unseal-keys', value);
      try {
        // A sealed server: nothing may be unsealed with an invalid record, nothing initialized.
        const result = await runCli([
          'run',
          '--once',
          '--timeout',
          '5m',
          '--store',
          'file',
          '--file-dir',
          storeDirectory,
          '--vault-addr',
          server.address,
        ]);
        expect(result.code).toBe(1);
        const [said] = logLines(result.stdout).filter((line) => line.event === 'blocked');
        expect(said).toMatchObject({ blocker: 'store-record-invalid' });
        expect(String(said!.reason)).toContain(
          `vault-unseal-keys: the latest version (${versionsBefore + 1}) is not a valid record: ${problem}`,
        );
        expect(String(said!.reason)).toContain(`version ${versionsBefore} is a valid record`);
        expect((await baoRequest(server, 'GET', 'sys/seal-status')).body.sealed).toBe(true);

        // An uninitialized server facing the same record is not initialized because of it.
        const uninitialized = await runCli([
          'run',
          '--once',
          '--timeout',
          '5m',
          '--store',
          'file',
          '--file-dir',
          storeDirectory,
          '--vault-addr',
          fresh.address,
        ]);
        expect(uninitialized.code).toBe(1);
        expect((await baoRequest(fresh, 'GET', 'sys/health')).status).toBe(501);
        expect(await store.readAllVersions('vault-init-claim')).toHaveLength(1);
      } finally {
        await dropLatestVersion(storeDirectory, 'vault-unseal-keys');
      }
    },
  );

  it('with the bad version gone, the intact record unseals as before; no value in any output', async () => {
    const result = await runCli([
      'run',
      '--once',
      '--store',
      'file',
      '--file-dir',
      storeDirectory,
      '--vault-addr',
      server.address,
    ]);
    expect(result.code, result.stdout).toBe(0);
    expect((await baoRequest(server, 'GET', 'sys/seal-status')).body.sealed).toBe(false);
    expectNoSecretIn(capturedOutput, await secretValuesIn(store));
  });
});
