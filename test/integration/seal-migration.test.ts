import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { FileStore } from '../../src/store/file.js';
import { capturedOutput, cleanEnv, logLines, runCli, startCli } from '../../harness/cli.js';
import { CRASH_HOOK, keyVersions } from '../../harness/keys.js';
import { MotoKms } from '../../harness/kms.js';
import { startMoto, type Moto } from '../../harness/moto.js';
import { RecordingProxy } from '../../harness/recording-proxy.js';
import { describeEachKmsServer, serverRequest, TestServer } from '../helpers/servers.js';
import { expectNoSecretIn, secretValuesIn } from '../helpers/secrets.js';

/**
 * Shamir → awskms: a cluster the sidecar initialized with Shamir gets the awskms seal stanza and
 * restarts (sys/seal-status says `migration: true`). The migration is run by `migrate-seal`, or by
 * a person with the stored keys and `migrate`; either way the sidecar then converges by itself
 * (the keys recorded as recovery keys, no unseal, no init), and the guard still stops keys the
 * server does not take.
 */
describeEachKmsServer('seal migration Shamir → awskms', (build) => {
  let moto: Moto;
  let kms: MotoKms;
  const servers: TestServer[] = [];
  const proxies: RecordingProxy[] = [];
  const stores: FileStore[] = [];

  /** A Shamir node bootstrapped by the sidecar into its own file store, behind a recording proxy. */
  async function bootstrappedShamirNode(
    ...extra: string[]
  ): Promise<{ server: TestServer; proxy: RecordingProxy; storeArgs: string[]; store: FileStore }> {
    const server = await TestServer.start({ build });
    servers.push(server);
    const proxy = await RecordingProxy.start(server.address);
    proxies.push(proxy);
    const directory = join(await mkdtemp(join(tmpdir(), 'vb-migration-')), 'store');
    const storeArgs = ['--store', 'file', '--file-dir', directory, '--vault-addr', proxy.address];
    const first = await runCli([
      'run',
      '--once',
      ...storeArgs,
      '--secret-shares',
      '3',
      '--secret-threshold',
      '2',
      ...extra,
    ]);
    expect(first.code, first.stdout).toBe(0);
    const store = new FileStore(directory);
    stores.push(store);
    expect((await keyVersions(store)).at(-1)).toMatchObject({ type: 'shamir' });
    return { server, proxy, storeArgs, store };
  }

  /** The awskms stanza added and the server restarted: sealed, migration in progress. */
  async function addKmsSeal(server: TestServer): Promise<void> {
    await server.stop();
    await server.changeSeal(await kms.seal());
    await server.start();
    const status = (await serverRequest(server, 'GET', 'sys/seal-status')).body;
    expect(status).toMatchObject({ sealed: true, migration: true });
  }

  const blockers = (output: string) =>
    logLines(output)
      .filter((line) => line.event === 'blocked')
      .map((line) => line.blocker);
  const calls = (proxy: RecordingProxy) => ({
    unseal: proxy.paths('PUT', 'sys/unseal').length,
    init: proxy.paths('PUT', 'sys/init').length,
  });

  beforeAll(async () => {
    moto = await startMoto();
    kms = await MotoKms.start(moto);
  });

  afterAll(async () => {
    await Promise.all(proxies.map((proxy) => proxy.stop()));
    await Promise.all(servers.map((server) => server.stop()));
    await moto?.stop();
  });

  it('migrate-seal: the sidecar holds at seal-mismatch and submits nothing; the command migrates and records the keys as recovery keys', async () => {
    const { server, proxy, storeArgs, store } = await bootstrappedShamirNode();
    const shamir = (await keyVersions(store)).at(-1)!;
    // Before the new seal stanza: bad input, one line, nothing changed.
    const early = await runCli(['migrate-seal', ...storeArgs]);
    expect(early.code).toBe(2);
    expect(
      early.stderr
        .trim()
        .split('\n')
        .filter((line) => line.startsWith('vault-bootstrap: ')),
    ).toHaveLength(1);
    expect((await keyVersions(store)).at(-1)).toEqual(shamir);
    await addKmsSeal(server);
    const before = calls(proxy);

    const held = await runCli(['run', '--once', ...storeArgs]);
    expect(held.code, held.stdout).toBe(1);
    expect(blockers(held.stdout)).toEqual(['seal-mismatch']);
    expect(calls(proxy)).toEqual(before);

    const migrated = await runCli(['migrate-seal', ...storeArgs]);
    expect(migrated.code, `${migrated.stdout}${migrated.stderr}\nserver:\n${server.output()}`).toBe(0);
    expect(JSON.parse(migrated.stdout.trim())).toMatchObject({ from: 'shamir', to: 'awskms', alreadyMigrated: false });
    const versions = await keyVersions(store);
    // First the intent (pending), then the confirmed recovery keys: the same key bytes throughout.
    expect(versions.at(-2)).toMatchObject({ type: 'recovery', status: 'pending' });
    expect(versions.at(-1)).toMatchObject({ type: 'recovery', status: 'active' });
    expect(versions.at(-1)!.keysBase64).toEqual(shamir.keysBase64);
    expect((await serverRequest(server, 'GET', 'sys/seal-status')).body).toMatchObject({
      type: 'awskms',
      sealed: false,
      migration: false,
    });

    // From now on the KMS unseals it: a restart needs no key, and the sidecar submits none.
    await server.restart();
    await expect
      .poll(async () => (await serverRequest(server, 'GET', 'sys/health')).status, { timeout: 30_000 })
      .toBe(200);
    const afterMigration = calls(proxy);
    const converged = await runCli(['run', '--once', ...storeArgs]);
    expect(converged.code, converged.stdout).toBe(0);
    expect(calls(proxy)).toEqual(afterMigration);
  });

  it('migrate-seal with the root token revoked (the shipped VB_ROOT_TOKEN=revoke): the management token confirms the keys', async () => {
    const { server, storeArgs, store } = await bootstrappedShamirNode('--root-token', 'revoke');
    expect(JSON.parse(await store.readLatest('vault-root-token'))).toMatchObject({ token: null });
    await addKmsSeal(server);
    const migrated = await runCli(['migrate-seal', ...storeArgs]);
    expect(migrated.code, migrated.stdout + migrated.stderr).toBe(0);
    expect((await keyVersions(store)).at(-1)).toMatchObject({ type: 'recovery', status: 'active' });
    expect((await serverRequest(server, 'GET', 'sys/seal-status')).body).toMatchObject({
      type: 'awskms',
      sealed: false,
      migration: false,
    });
  });

  it('a migration made by a person (unseal with migrate and the stored keys): the sidecar records the keys as recovery keys by itself', async () => {
    const { server, proxy, storeArgs, store } = await bootstrappedShamirNode();
    const shamir = (await keyVersions(store)).at(-1)!;
    await addKmsSeal(server);
    for (const key of shamir.keysBase64.slice(0, shamir.threshold))
      await serverRequest(server, 'PUT', 'sys/unseal', undefined, { key, migrate: true });
    await expect
      .poll(async () => (await serverRequest(server, 'GET', 'sys/health')).status, { timeout: 30_000 })
      .toBe(200);
    const before = calls(proxy);

    const converged = await runCli(['run', '--once', ...storeArgs]);
    expect(converged.code, converged.stdout).toBe(0);
    expect(logLines(converged.stdout).some((line) => line.event === 'migrated-keys-recorded')).toBe(true);
    expect((await keyVersions(store)).at(-1)).toMatchObject({ type: 'recovery', keysBase64: shamir.keysBase64 });
    expect(calls(proxy)).toEqual(before);
  });

  it('the guard still stops what a migration does not explain: Shamir keys the server does not take', async () => {
    const { server, storeArgs, store } = await bootstrappedShamirNode();
    const shamir = (await keyVersions(store)).at(-1)!;
    await addKmsSeal(server);
    for (const key of shamir.keysBase64.slice(0, shamir.threshold))
      await serverRequest(server, 'PUT', 'sys/unseal', undefined, { key, migrate: true });
    await expect
      .poll(async () => (await serverRequest(server, 'GET', 'sys/health')).status, { timeout: 30_000 })
      .toBe(200);
    // The store now holds another cluster's Shamir keys (the first test's node), with this cluster's id and root token.
    const stranger = (await keyVersions(stores[0]!)).find((version) => version.type === 'shamir')!;
    await store.addVersion('vault-unseal-keys', JSON.stringify({ ...shamir, keysBase64: stranger.keysBase64 }));

    const held = await runCli(['run', '--once', ...storeArgs]);
    expect(held.code, held.stdout).toBe(1);
    expect(blockers(held.stdout)).toEqual(['seal-mismatch']);
    expect(logLines(held.stdout).some((line) => line.event === 'migrated-keys-refused')).toBe(true);
    expect((await keyVersions(store)).at(-1)).toMatchObject({ type: 'shamir' });
  });

  it.each(['migration-recorded', 'migration-unsealed', 'migration-recorded-recovery'])(
    'migrate-seal killed at %s: a re-run finishes, the keys end as the active recovery version',
    async (checkpointName) => {
      const { server, storeArgs, store } = await bootstrappedShamirNode();
      const shamir = (await keyVersions(store)).at(-1)!;
      await addKmsSeal(server);
      const killed = await startCli(['migrate-seal', ...storeArgs], cleanEnv({ VB_TEST_CRASH_AT: checkpointName }), [
        '--import',
        CRASH_HOOK,
      ]).result;
      expect(killed.signal).toBe('SIGKILL');

      const rerun = await runCli(['migrate-seal', ...storeArgs]);
      expect(rerun.code, rerun.stdout + rerun.stderr).toBe(0);
      expect((await keyVersions(store)).at(-1)).toMatchObject({
        type: 'recovery',
        status: 'active',
        keysBase64: shamir.keysBase64,
      });
      await server.restart();
      await expect
        .poll(async () => (await serverRequest(server, 'GET', 'sys/health')).status, { timeout: 30_000 })
        .toBe(200);
    },
  );

  it('no key or token value appears in any output', async () => {
    const secrets = (await Promise.all(stores.map((store) => secretValuesIn(store)))).flat();
    expectNoSecretIn(capturedOutput, secrets);
  });
});
