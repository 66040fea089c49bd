import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileStore } from '../../src/store/file.js';
import { capturedOutput, cleanEnv, events, logLines, runCli } from '../../harness/cli.js';
import { MotoKms } from '../../harness/kms.js';
import { startMoto, type Moto } from '../../harness/moto.js';
import { until } from '../../harness/poll.js';
import { memoryDirectory, runSealKey, sealKeyValues, useSealKeyDirectory } from '../../harness/static-seal.js';
import { missingServer, serverRequest, TestServer } from '../helpers/servers.js';
import { expectNoSecretIn, secretValuesIn } from '../helpers/secrets.js';

const missing = missingServer('openbao-2.6');

/**
 * A KMS onto the static seal key from the store (issue 28): OpenBao 2.6.2, the last release with
 * awskms built in (2.7 refuses the stanza without its plugin), moves from awskms to the key
 * `seal-key` stores through migrate-seal. The old stanza stays with `disabled = "true"` for the
 * migration, as OpenBao's seal migration between two auto-unseal seals asks; the recovery keys
 * are submitted with migrate and remain the recovery keys.
 */
describe.skipIf(missing !== undefined)('seal migration awskms → static seal key from the store [openbao 2.6.2]', () => {
  let moto: Moto | undefined;
  let kms: MotoKms | undefined;
  let server: TestServer | undefined;
  const cleanups: Array<() => Promise<void>> = [];
  afterAll(async () => {
    await server?.stop();
    for (const cleanup of cleanups) await cleanup();
    await kms?.faults.stop();
    await moto?.stop();
  });

  it('migrate-seal moves an awskms cluster onto the stored static key; the recovery keys stay; restarts unseal by themselves', async () => {
    moto = await startMoto();
    kms = await MotoKms.start(moto);
    const kmsSeal = await kms.seal();
    server = await TestServer.start({ build: 'openbao-2.6', seal: kmsSeal });
    const home = await mkdtemp(join(tmpdir(), 'vb-kms-static-'));
    const storeArgs = ['--store', 'file', '--file-dir', join(home, 'store'), '--vault-addr', server.address];
    const store = new FileStore(join(home, 'store'));
    const first = await runCli(['run', '--once', ...storeArgs, '--recovery-shares', '3', '--recovery-threshold', '2']);
    expect(first.code, first.stdout).toBe(0);
    const recovery = JSON.parse(await store.readLatest('vault-unseal-keys')) as { type: string; keysBase64: string[] };
    expect(recovery.type).toBe('recovery');

    // The pod gains the static-seal init container; the awskms stanza stays, disabled, for the migration.
    const { directory, remove } = await memoryDirectory('vb-seal-key-kms');
    cleanups.push(remove);
    const pod = { name: 'openbao-0', directory };
    expect((await runSealKey(pod, storeArgs, cleanEnv())).code).toBe(0);
    await server.stop();
    await server.changeSeal({ ...kmsSeal, disabled: true });
    useSealKeyDirectory(server, directory);
    await server.start();
    expect((await serverRequest(server, 'GET', 'sys/seal-status')).body).toMatchObject({
      type: 'static',
      sealed: true,
      migration: true,
    });
    // The sidecar feeds no keys to a migration.
    const held = await runCli(['run', '--once', ...storeArgs]);
    expect(held.code, held.stdout).toBe(1);
    expect(
      logLines(held.stdout)
        .filter((line) => line.event === 'blocked')
        .map((line) => line.blocker),
    ).toEqual(['seal-mismatch']);
    const versionsBefore = (await store.readAllVersions('vault-unseal-keys')).length;

    const migrated = await runCli(['migrate-seal', ...storeArgs]);
    expect(migrated.code, migrated.stdout + migrated.stderr).toBe(0);
    expect(JSON.parse(migrated.stdout.trim())).toMatchObject({
      from: 'auto-unseal',
      to: 'static',
      outcome: 'migrated',
    });
    expect(events(migrated.stderr, 'migration-auto-unseal')).toHaveLength(1);
    // The recovery keys are what they were: nothing for the store to learn.
    expect((await store.readAllVersions('vault-unseal-keys')).length).toBe(versionsBefore);

    // The KMS stanza removed: the static key alone unseals every restart.
    await server.stop();
    await server.changeSeal('shamir');
    expect((await runSealKey(pod, storeArgs, cleanEnv())).code).toBe(0);
    await server.start();
    await until(
      'unsealed by the static seal',
      async () => ((await serverRequest(server!, 'GET', 'sys/health')).status === 200 ? true : undefined),
      30_000,
    );
    expect((await serverRequest(server, 'GET', 'sys/seal-status')).body).toMatchObject({
      type: 'static',
      migration: false,
    });
    const converged = await runCli(['run', '--once', ...storeArgs]);
    expect(converged.code, converged.stdout).toBe(0);
    expect(events(converged.stdout, 'act').map((line) => line.action)).not.toContain('unseal');
    expect(JSON.parse(await store.readLatest('vault-unseal-keys'))).toMatchObject({
      type: 'recovery',
      keysBase64: recovery.keysBase64,
    });
    expectNoSecretIn(capturedOutput, [
      ...sealKeyValues(await store.readAllVersions('vault-seal-key')),
      ...(await secretValuesIn(store)),
    ]);
  }, 120_000);
});
