import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileStore } from '../../src/store/file.js';
import { capturedOutput, cleanEnv, runCli } from '../../harness/cli.js';
import { decryptShare, GPG, makeCustodians, type Custodian } from '../../harness/gpg.js';
import { keyVersions, rotationAccepts, storedRootToken } from '../../harness/keys.js';
import {
  describeEachServer,
  serverRequest as baoRequest,
  TestServer as OpenBao,
  type ServerKind,
} from '../helpers/servers.js';
import { expectNoSecretIn, secretValuesIn } from '../helpers/secrets.js';

const servers: OpenBao[] = [];

async function serverAndStore(kind: ServerKind, seal: 'shamir' | 'auto') {
  const server = await OpenBao.start({ kind, seal });
  servers.push(server);
  const storeDirectory = join(await mkdtemp(join(tmpdir(), 'vb-pgp-')), 'store');
  const args = (command: string, ...extra: string[]) => [
    command,
    ...(command === 'run' ? ['--once'] : []),
    '--store',
    'file',
    '--file-dir',
    storeDirectory,
    '--vault-addr',
    server.address,
    ...extra,
  ];
  return { server, store: new FileStore(storeDirectory), args };
}

describe.skipIf(GPG === undefined)('PGP custody of recovery shares (keys made here with gpg)', () =>
  describeEachServer('PGP custody', (kind) => {
    let home: string;
    let custodians: Custodian[];
    const keyFiles = () => custodians.map((custodian) => custodian.publicKeyFile).join(',');
    /** Each custodian decrypts their own share; the threshold of them authorizes on the server. */
    const decrypted = (shares: string[]) => shares.map((share) => decryptShare(home, share));

    beforeAll(async () => {
      ({ home, custodians } = await makeCustodians(['alice', 'bob', 'carol']));
    });

    afterAll(async () => {
      await Promise.all(servers.splice(0).map((server) => server.stop()));
    });

    it('init: each recovery share encrypted to one custodian; the store holds no usable key; decrypted shares authorize', async () => {
      const { server, store, args } = await serverAndStore(kind, 'auto');
      const result = await runCli(args('run', '--recovery-pgp-keys', keyFiles(), '--recovery-threshold', '2'));
      expect(result.code, result.stdout + result.stderr).toBe(0);
      const [stored] = await keyVersions(store);
      expect(stored).toMatchObject({
        type: 'recovery',
        encrypted: true,
        shares: 3,
        threshold: 2,
        fingerprints: custodians.map((custodian) => custodian.fingerprint),
      });

      const root = await storedRootToken(store);
      expect(await rotationAccepts(server, root, 'recovery', stored!.keysBase64)).toBe(false);
      const plain = decrypted(stored!.keysBase64);
      expect(await rotationAccepts(server, root, 'recovery', plain.slice(0, 2))).toBe(true);
      // The sidecar needs no recovery key: a restart auto-unseals and the next run converges.
      await server.restart();
      expect((await runCli(args('run'))).code).toBe(0);
      expectNoSecretIn(capturedOutput, [...(await secretValuesIn(store)), ...plain]);
    }, 120_000);

    it('rotate-keys --recovery-pgp-keys: plaintext recovery shares become encrypted ones (stored active); the old ones stop working', async () => {
      const { server, store, args } = await serverAndStore(kind, 'auto');
      expect((await runCli(args('run', '--recovery-shares', '3', '--recovery-threshold', '2'))).code).toBe(0);
      const [initial] = await keyVersions(store);
      const rotated = await runCli(args('rotate-keys', '--recovery-pgp-keys', keyFiles(), '--recovery-threshold', '2'));
      expect(rotated.code, rotated.stdout + rotated.stderr).toBe(0);
      const latest = (await keyVersions(store)).at(-1)!;
      expect(latest).toMatchObject({
        status: 'active',
        encrypted: true,
        fingerprints: custodians.map((custodian) => custodian.fingerprint),
      });
      const root = await storedRootToken(store);
      const plain = decrypted(latest.keysBase64);
      expect(await rotationAccepts(server, root, 'recovery', plain.slice(1, 3))).toBe(true);
      expect(await rotationAccepts(server, root, 'recovery', initial!.keysBase64)).toBe(false);
      // Encrypted shares cannot be submitted by the program: a further rotation is refused, exit 2.
      expect((await runCli(args('rotate-keys'))).code).toBe(2);
      expectNoSecretIn(capturedOutput, [...(await secretValuesIn(store)), ...plain]);
    }, 120_000);

    it('refused with exit 2 and nothing initialized: a Shamir seal, a private key, a file that is no key, a count that differs from the shares', async () => {
      const { server, store, args } = await serverAndStore(kind, 'shamir');
      // plan shows the hold run reaches; three replicas racing each stop there, before any claim.
      const planned = await runCli([...args('plan', '--recovery-pgp-keys', keyFiles()), '--json']);
      expect(planned.code, planned.stderr).toBe(0);
      expect(JSON.parse(planned.stdout).action).toEqual({ kind: 'hold', blocker: 'config-rejected', pace: 'slow' });
      const replicas = await Promise.all(
        ['vault-0', 'vault-1', 'vault-2'].map((pod) =>
          runCli(args('run', '--recovery-pgp-keys', keyFiles()), cleanEnv({ POD_NAME: pod })),
        ),
      );
      for (const shamir of replicas) {
        expect(shamir.code, shamir.stdout + shamir.stderr).toBe(2);
        expect(shamir.stderr.trim().split('\n')).toHaveLength(1);
        expect(shamir.stderr).toContain('--recovery-pgp-keys/VB_RECOVERY_PGP_KEYS: the server has a Shamir seal');
      }
      expect((await baoRequest(server, 'GET', 'sys/seal-status')).body.initialized).toBe(false);
      expect(await store.readAllVersions('vault-unseal-keys')).toEqual([]);
      expect(await store.readAllVersions('vault-init-claim')).toEqual([]);

      const notAKey = join(home, 'notes.txt');
      await writeFile(notAKey, 'not a key\n');
      const cases: Array<[string, string]> = [
        [custodians[0]!.secretKeyFile, 'is a private key'],
        [notAKey, 'is not an OpenPGP public key'],
        [`${custodians[0]!.publicKeyFile},${custodians[1]!.publicKeyFile}`, '2 public key(s) for 5 recovery shares'],
      ];
      for (const [files, message] of cases) {
        const extra = files.includes(',') ? ['--recovery-shares', '5'] : [];
        const result = await runCli(args('run', '--recovery-pgp-keys', files, ...extra));
        expect(result.code, files).toBe(2);
        expect(result.stderr.trim().split('\n')).toHaveLength(1);
        expect(result.stderr).toContain('--recovery-pgp-keys');
        expect(result.stderr).toContain(message);
      }
    }, 120_000);
  }),
);
