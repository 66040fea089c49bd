// Issue 25, finding 7: a key or token is never written into a secret someone else created ahead
// of us (an empty {prefix}-unseal-keys reads as absent; init would have put the keys in it, under
// that party's access policy or encryption key). Refused, named, retried with the keys held in
// memory and the spool; once the operator deletes it, the same process stores them: none lost.
import { chmod, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  ListSecretVersionIdsCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FileStore } from '../../src/store/file.js';
import { AwsStore } from '../../src/store/aws.js';
import { capturedOutput, cleanEnv, logLines, startCli, type RunningCli } from '../../harness/cli.js';
import { until } from '../../harness/poll.js';
import { startMoto, type Moto } from '../../harness/moto.js';
import { OpenBao } from '../../harness/openbao.js';
import { expectNoSecretIn, secretValuesIn } from '../helpers/secrets.js';

/** A spool on tmpfs (/dev/shm), as the manifests' memory-backed emptyDir: the keys wait there across the refusal. */
async function memorySpool(): Promise<string> {
  const directory = await mkdtemp('/dev/shm/vb-foreign-spool-');
  spools.push(directory);
  return directory;
}
const spools: string[] = [];

/** The distinct error codes of the store writes the run retried. */
function refusals(stdout: string): string[] {
  return [
    ...new Set(
      logLines(stdout)
        .filter((line) => line.event === 'store-retry')
        .map((line) => String((line.error as { code?: string }).code)),
    ),
  ];
}

const running: RunningCli[] = [];

async function stop(cli: RunningCli): Promise<void> {
  cli.child.kill('SIGTERM');
  expect((await cli.result).code).toBe(0);
}

describe('a key is never written into a secret someone else created', () => {
  const servers: OpenBao[] = [];
  let moto: Moto;

  beforeAll(async () => {
    moto = await startMoto();
  });
  afterEach(async () => {
    for (const cli of running.splice(0)) if (cli.child.exitCode === null) cli.child.kill('SIGKILL');
    await Promise.all(servers.splice(0).map((server) => server.stop()));
  });
  afterAll(async () => {
    await moto?.stop();
    await Promise.all(spools.map((directory) => rm(directory, { recursive: true, force: true })));
  });

  it('file store: an empty vault-unseal-keys directory made by someone else (mode 0755) is refused, named, nothing written; removed, the keys land', async () => {
    const server = await OpenBao.start();
    servers.push(server);
    const work = await mkdtemp(join(tmpdir(), 'vb-foreign-'));
    const storeDirectory = join(work, 'store');
    await mkdir(join(storeDirectory, 'vault-unseal-keys'), { recursive: true });
    await chmod(join(storeDirectory, 'vault-unseal-keys'), 0o755);
    const sidecar = startCli([
      'run',
      '--store',
      'file',
      '--file-dir',
      storeDirectory,
      '--spool-dir',
      await memorySpool(),
      '--vault-addr',
      server.address,
    ]);
    running.push(sidecar);
    // Initialized, the keys held (memory and spool) and the write refused, named, retried.
    await sidecar.waitFor('vault-unseal-keys: the secret exists but holds no version: someone else created it', 60_000);
    expect(await readdir(join(storeDirectory, 'vault-unseal-keys'))).toEqual([]);
    expect(refusals(sidecar.output())).toEqual(['STORE_DENIED']);

    // The operator removes it; the same process stores the keys it kept.
    await rm(join(storeDirectory, 'vault-unseal-keys'), { recursive: true });
    const store = new FileStore(storeDirectory);
    await until(
      'the keys stored and the CI token issued',
      async () => (await store.readLatest('vault-provisioner-token').catch(() => undefined)) ?? undefined,
      60_000,
      200,
    );
    expect(JSON.parse(await store.readLatest('vault-unseal-keys'))).toMatchObject({
      type: 'shamir',
      keysBase64: expect.any(Array),
    });
    await stop(sidecar);
    expectNoSecretIn(capturedOutput, await secretValuesIn(store));
  });

  it('aws store (moto): an empty vault-unseal-keys created ahead is refused, named, never written into; deleted, the keys land', async () => {
    const server = await OpenBao.start();
    servers.push(server);
    const env = cleanEnv({ ...moto.env, HOME: await mkdtemp(join(tmpdir(), 'vb-home-')), VB_STORE_PREFIX: 'foreign' });
    Object.assign(process.env, moto.env);
    const client = new SecretsManagerClient({ region: 'us-east-1' });
    try {
      // Someone with CreateSecret under the prefix, no value, their own tags (and, in AWS, their resource policy or KMS key).
      await client.send(
        new CreateSecretCommand({ Name: 'foreign-unseal-keys', Tags: [{ Key: 'owner', Value: 'someone-else' }] }),
      );
      const sidecar = startCli(
        ['run', '--store', 'aws', '--spool-dir', await memorySpool(), '--vault-addr', server.address],
        env,
      );
      running.push(sidecar);
      await sidecar.waitFor(
        'foreign-unseal-keys: the secret exists but holds no version: someone else created it',
        60_000,
      );
      expect(
        (await client.send(new ListSecretVersionIdsCommand({ SecretId: 'foreign-unseal-keys' }))).Versions ?? [],
      ).toEqual([]);
      expect(refusals(sidecar.output())).toEqual(['STORE_DENIED']);

      await client.send(new DeleteSecretCommand({ SecretId: 'foreign-unseal-keys', ForceDeleteWithoutRecovery: true }));
      const store = new AwsStore({ region: 'us-east-1' });
      await until(
        'the keys stored and the CI token issued',
        async () => (await store.readLatest('foreign-provisioner-token').catch(() => undefined)) ?? undefined,
        60_000,
        200,
      );
      expect(JSON.parse(await store.readLatest('foreign-unseal-keys'))).toMatchObject({
        type: 'shamir',
        keysBase64: expect.any(Array),
      });
      await stop(sidecar);
      expectNoSecretIn(capturedOutput, await secretValuesIn(store, 'foreign'));
      await store.close();
    } finally {
      client.destroy();
    }
  });
});
