import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AwsStore } from '../../src/store/aws.js';
import { capturedOutput, cleanEnv, runCli, startCli, type RunningCli } from '../../harness/cli.js';
import { rotationAccepts, type StoredKeys } from '../../harness/keys.js';
import { decryptShare, GPG, makeCustodians } from '../../harness/gpg.js';
import { MotoKms } from '../../harness/kms.js';
import { startMoto, type Moto } from '../../harness/moto.js';
import { RecordingProxy } from '../../harness/recording-proxy.js';
import { describeEachKmsServer, missingServer, serverRequest, TestServer } from '../helpers/servers.js';
import { expectNoSecretIn, secretValuesIn } from '../helpers/secrets.js';

/**
 * The production seal end to end: a 3-node raft cluster whose seal is awskms (a key in moto,
 * which outlives every server restart here), three sidecars keeping the recovery keys in AWS
 * Secrets Manager (the same moto). Inits are counted by recording proxies in front of the nodes.
 */
describeEachKmsServer('awskms seal, 3-node cluster, recovery keys in Secrets Manager', (build) => {
  let moto: Moto;
  let nodes: TestServer[];
  let proxies: RecordingProxy[];
  let sidecars: RunningCli[] = [];
  const prefix = `kms-${build.replace(/\W/g, '-')}`;
  const store = () => new AwsStore({ region: 'us-east-1' });
  const env = (pod: string) => cleanEnv({ ...moto.env, POD_NAME: pod, VB_LOG_LEVEL: 'info' });
  const storeArgs = () => ['--store', 'aws', '--store-prefix', prefix];
  const keyVersions = async () =>
    (await store().readAllVersions(`${prefix}-unseal-keys`)).map((text) => JSON.parse(text) as StoredKeys);
  const rootToken = async () =>
    (JSON.parse(await store().readLatest(`${prefix}-root-token`)) as { token: string }).token;
  const requests = (method: string, path: string) =>
    proxies.reduce((total, proxy) => total + proxy.paths(method, path).length, 0);
  const healthOf = async (node: TestServer) =>
    (await serverRequest(node, 'GET', 'sys/health').catch(() => ({ status: 0, body: {} }))).status;
  const allUnsealed = async () =>
    (await Promise.all(nodes.map(healthOf))).every((status) => status === 200 || status === 429);
  /** The active node, once raft has elected one. */
  async function activeNode(): Promise<TestServer> {
    let active: TestServer | undefined;
    await expect
      .poll(async () => (active = nodes[(await Promise.all(nodes.map(healthOf))).indexOf(200)]), {
        timeout: 30_000,
        interval: 250,
      })
      .toBeDefined();
    return active!;
  }

  function startSidecars(extraArgs: string[] = []): RunningCli[] {
    sidecars = proxies.map((proxy, index) =>
      startCli(
        [
          'run',
          ...storeArgs(),
          '--vault-addr',
          proxy.address,
          '--interval',
          '1s',
          '--listen',
          'off',
          '--recovery-shares',
          '3',
          '--recovery-threshold',
          '2',
          ...extraArgs,
        ],
        env(`vault-${index}`),
      ),
    );
    return sidecars;
  }

  async function stopSidecars(): Promise<void> {
    for (const sidecar of sidecars) sidecar.child.kill('SIGTERM');
    for (const sidecar of sidecars) expect((await sidecar.result).code).toBe(0);
    sidecars = [];
  }

  beforeAll(async () => {
    moto = await startMoto();
    // The harness's own store reads go to this moto, never elsewhere.
    Object.assign(process.env, moto.env, { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' });
    const kms = await MotoKms.start(moto);
    nodes = await TestServer.createCluster(3, { build, seal: await kms.seal() });
    await Promise.all(nodes.map((node) => node.start()));
    proxies = await Promise.all(nodes.map((node) => RecordingProxy.start(node.address)));
  });

  afterAll(async () => {
    for (const sidecar of sidecars) sidecar.child.kill('SIGKILL');
    await Promise.all((proxies ?? []).map((proxy) => proxy.stop()));
    await Promise.all((nodes ?? []).map((node) => node.stop()));
    await moto?.stop();
  });

  it('three sidecars started together: exactly one init, with recovery shares, keys stored as type recovery', async () => {
    expect((await serverRequest(nodes[0]!, 'GET', 'sys/seal-status')).body.type).toBe('awskms');
    await Promise.all(startSidecars().map((sidecar) => sidecar.waitFor('"to":"ready"', 120_000)));
    expect(await allUnsealed()).toBe(true);
    const clusterIds = new Set(
      (await Promise.all(nodes.map((node) => serverRequest(node, 'GET', 'sys/health')))).map(
        (answer) => answer.body.cluster_id,
      ),
    );
    expect(clusterIds.size).toBe(1);

    const init = proxies.flatMap((proxy) => proxy.paths('PUT', 'sys/init'));
    expect(init).toHaveLength(1);
    expect(init[0]!.bodyFields).toEqual(['recovery_shares', 'recovery_threshold']);
    expect(requests('PUT', 'sys/unseal')).toBe(0);
    const latest = (await keyVersions()).at(-1)!;
    expect(latest).toMatchObject({ type: 'recovery', shares: 3, threshold: 2 });
    expect(latest.keysBase64).toHaveLength(3);
  });

  it('every node restarted: auto-unsealed by the KMS, the sidecars submit nothing and initialize nothing', async () => {
    const before = { init: requests('PUT', 'sys/init'), unseal: requests('PUT', 'sys/unseal') };
    await Promise.all(nodes.map((node) => node.stop()));
    await Promise.all(nodes.map((node) => node.start()));
    await expect.poll(allUnsealed, { timeout: 60_000, interval: 250 }).toBe(true);
    // Each sidecar has seen its node again (its connections closed and came back) and is ready.
    await Promise.all(
      sidecars.map((sidecar) =>
        expect.poll(() => sidecar.output().split('"to":"ready"').length, { timeout: 60_000 }).toBeGreaterThan(2),
      ),
    );
    expect(requests('PUT', 'sys/init')).toBe(before.init);
    expect(requests('PUT', 'sys/unseal')).toBe(before.unseal);
    expect(requests('PUT', 'sys/unseal')).toBe(0);
  }, 120_000);

  it('rotate-keys rotates the recovery keys; the server takes only the new ones', async () => {
    const old = (await keyVersions()).at(-1)!;
    const active = await activeNode();
    const rotated = await runCli(['rotate-keys', ...storeArgs(), '--vault-addr', active.address], env('operator'));
    expect(rotated.code, rotated.stdout + rotated.stderr).toBe(0);
    expect(JSON.parse(rotated.stdout.trim().split('\n').at(-1)!)).toMatchObject({
      kind: 'recovery',
      shares: 3,
      threshold: 2,
    });
    const latest = (await keyVersions()).at(-1)!;
    expect(latest).toMatchObject({ type: 'recovery', status: 'active' });
    expect(latest.keysBase64).not.toEqual(old.keysBase64);
    const root = await rootToken();
    expect(await rotationAccepts(active, root, 'recovery', latest.keysBase64)).toBe(true);
    expect(await rotationAccepts(active, root, 'recovery', old.keysBase64)).toBe(false);
  });

  it('DR redeploy onto fresh storage with the keys present: restore, not init; one run with --allow-reinit makes one new cluster', async () => {
    await stopSidecars();
    const keysBefore = await keyVersions();
    await Promise.all(nodes.map((node) => node.stop()));
    await Promise.all(nodes.map((node) => rm(node.dataDirectory, { recursive: true, force: true })));
    await Promise.all(nodes.map((node) => node.start()));
    const initBefore = requests('PUT', 'sys/init');

    const refused = await runCli(
      ['run', '--once', '--timeout', '5s', ...storeArgs(), '--vault-addr', proxies[0]!.address],
      env('vault-0'),
    );
    expect(refused.code, refused.stdout).toBe(4);
    expect(requests('PUT', 'sys/init')).toBe(initBefore);
    expect(await healthOf(nodes[0]!)).toBe(501);

    // The documented way to make a new cluster on purpose: one run with --allow-reinit; then the sidecars.
    const reinit = await runCli(
      [
        'run',
        '--once',
        '--allow-reinit',
        ...storeArgs(),
        '--vault-addr',
        proxies[0]!.address,
        '--recovery-shares',
        '3',
        '--recovery-threshold',
        '2',
      ],
      env('vault-0'),
    );
    expect(reinit.code, reinit.stdout).toBe(0);
    await Promise.all(startSidecars().map((sidecar) => sidecar.waitFor('"to":"ready"', 120_000)));
    expect(requests('PUT', 'sys/init')).toBe(initBefore + 1);
    expect(await allUnsealed()).toBe(true);
    expect(requests('PUT', 'sys/unseal')).toBe(0);
    const keysAfter = await keyVersions();
    // The old keys stay as earlier versions; the latest are the new cluster's recovery keys.
    expect(keysAfter.slice(0, keysBefore.length)).toEqual(keysBefore);
    expect(keysAfter.at(-1)).toMatchObject({ type: 'recovery' });
    await stopSidecars();
  }, 240_000);

  it('no key or token value appears in any output', async () => {
    expectNoSecretIn(capturedOutput, await secretValuesIn(store(), prefix));
  });
});

/**
 * OpenBao ≥ 2.7 has no cloud KMS seal in its binary (an external plugin now): the version our
 * non-KMS manifests run refuses an awskms stanza at start. docs/compatibility.md quotes this.
 */
describe.skipIf(missingServer('openbao') !== undefined)('awskms seal on OpenBao 2.7 without the KMS plugin', () => {
  it('does not start: the seal is an unknown wrapper', async () => {
    const moto = await startMoto();
    const kms = await MotoKms.start(moto);
    try {
      const server = await TestServer.create({ kind: 'openbao', seal: await kms.seal() });
      const launched = await server.launch();
      await expect.poll(() => launched.running(), { timeout: 30_000 }).toBe(false);
      expect(launched.exitCode()).not.toBe(0);
      expect(launched.output()).toContain('Error configuring seal "awskms": unknown wrapper: awskms');
    } finally {
      await kms.faults.stop();
      await moto.stop();
    }
  });
});

/** Recovery shares for people instead of the store: on the awskms seal, each share encrypted to one custodian. */
describe.skipIf(GPG === undefined)('awskms seal with PGP custodians (keys made here with gpg)', () =>
  describeEachKmsServer('awskms + --recovery-pgp-keys', (build) => {
    it('the store holds only ciphertext in Secrets Manager; decrypted shares authorize; restarts need none', async () => {
      const moto = await startMoto();
      const kms = await MotoKms.start(moto);
      const server = await TestServer.start({ build, seal: await kms.seal() });
      try {
        Object.assign(process.env, moto.env, { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' });
        const { home, custodians } = await makeCustodians(['alice', 'bob', 'carol']);
        const env = cleanEnv({ ...moto.env, VB_LOG_LEVEL: 'info' });
        const args = ['run', '--once', '--store', 'aws', '--store-prefix', 'pgp', '--vault-addr', server.address];
        const result = await runCli(
          [
            ...args,
            '--recovery-pgp-keys',
            custodians.map((custodian) => custodian.publicKeyFile).join(','),
            '--recovery-threshold',
            '2',
          ],
          env,
        );
        expect(result.code, result.stdout + result.stderr).toBe(0);
        const store = new AwsStore({ region: 'us-east-1' });
        const stored = JSON.parse(await store.readLatest('pgp-unseal-keys')) as StoredKeys;
        expect(stored).toMatchObject({ type: 'recovery', encrypted: true, shares: 3, threshold: 2 });
        const root = (JSON.parse(await store.readLatest('pgp-root-token')) as { token: string }).token;
        expect(await rotationAccepts(server, root, 'recovery', stored.keysBase64)).toBe(false);
        const plain = stored.keysBase64.map((share) => decryptShare(home, share));
        expect(await rotationAccepts(server, root, 'recovery', plain.slice(0, 2))).toBe(true);
        await server.restart();
        await expect
          .poll(async () => (await serverRequest(server, 'GET', 'sys/health')).status, { timeout: 30_000 })
          .toBe(200);
        expect((await runCli(args, env)).code).toBe(0);
        expectNoSecretIn(capturedOutput, [...(await secretValuesIn(store, 'pgp')), ...plain]);
      } finally {
        await server.stop();
        await kms.faults.stop();
        await moto.stop();
      }
    }, 120_000);
  }),
);
