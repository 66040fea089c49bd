import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChaosStore, initCounters, oneKeySetStored, startSidecar } from '../../harness/chaos/harness.js';
import { capturedOutput, cleanEnv, events, runCli, transitions } from '../../harness/cli.js';
import { appRoleStanzas, SIDECAR_POLICY_FILE, writeSecretFile } from '../../harness/self-init.js';
import { FileStore } from '../../src/store/file.js';
import { until } from '../../harness/poll.js';
import {
  memoryDirectory,
  runRotateSealKey,
  runSealKey,
  sealKeyValues,
  useSealKeyDirectory,
  type StaticSealPod,
} from '../../harness/static-seal.js';
import { missingServer, serverRequest, TestServer } from '../helpers/servers.js';
import { expectNoSecretIn, secretValuesIn } from '../helpers/secrets.js';

// OpenBao 2.7.2's `seal "static"` reading the files `seal-key` writes (SPEC §13): a 3-node raft
// cluster on loopback whose pods race for the key, a restart, and a full rotation with kills at
// each step; the store is AWS Secrets Manager on moto.
const missing = missingServer('openbao');
if (missing) console.warn(`static seal: skipped: ${missing}`);

describe.skipIf(missing !== undefined)('static seal key held in the store [openbao]', () => {
  let store: ChaosStore;
  const prefix = 'static';
  const pods: StaticSealPod[] = [];
  const cleanups: Array<() => Promise<void>> = [];
  const storeArgs = ['--store', 'aws', '--store-prefix', prefix];

  beforeAll(async () => {
    store = await ChaosStore.start();
    const servers = await TestServer.createCluster(3);
    for (const [index, server] of servers.entries()) {
      const { directory, remove } = await memoryDirectory(`vb-seal-key-${index}`);
      cleanups.push(remove);
      useSealKeyDirectory(server, directory);
      pods.push({ name: `openbao-${index}`, directory, server });
    }
  }, 60_000);

  afterAll(async () => {
    await Promise.all(pods.map((pod) => pod.server.stop()));
    for (const cleanup of cleanups) await cleanup();
    await store?.stop();
  });

  const unsealed = async (pod: StaticSealPod) => {
    const health = await serverRequest(pod.server, 'GET', 'sys/health?standbyok=true');
    return health.status === 200 ? true : undefined;
  };
  /** A pod (re)starting: its init container writes the key files, then the server starts and must unseal by itself. */
  const startPod = async (pod: StaticSealPod, crashAt?: string) => {
    if (crashAt !== undefined) {
      const killed = await runSealKey(pod, storeArgs, store.env(), crashAt);
      expect(killed.signal, `seal-key was not killed at ${crashAt}`).toBe('SIGKILL');
    }
    const result = await runSealKey(pod, storeArgs, store.env());
    expect(result.code, result.stderr).toBe(0);
    await pod.server.start();
    return JSON.parse(result.stdout) as {
      keyId: string;
      version: number;
      previousKeyId: string | null;
      generated: boolean;
    };
  };
  const everyUnsealed = () =>
    Promise.all(pods.map((pod) => until(`${pod.name} unsealed`, () => unsealed(pod), 30_000)));
  const versions = () => store.versions(prefix, 'seal-key');
  const rollout = async () =>
    JSON.parse((await store.versions(prefix, 'seal-key-rollout')).at(-1)!) as {
      nodes: Record<string, { keyId: string }>;
      rewrapped?: { keyId: string };
    };

  it('first start: three pods race for the key (one key, one init), then every restart unseals with no key submitted', async () => {
    // openbao-0's init container is SIGKILLed right after its create, if it wins it: its key stands, and its restart reads it.
    const raced = await Promise.all(
      pods.map((pod, index) => runSealKey(pod, storeArgs, store.env(), index === 0 ? 'seal-key-created' : undefined)),
    );
    const winnerKilled = raced[0]!.signal === 'SIGKILL';
    const results = winnerKilled ? [await runSealKey(pods[0]!, storeArgs, store.env()), ...raced.slice(1)] : raced;
    for (const result of results) expect(result.code, result.stderr).toBe(0);
    const written = results.map((result) => JSON.parse(result.stdout) as { keyId: string; generated: boolean });
    expect(new Set(written.map((each) => each.keyId)).size).toBe(1);
    expect(written.filter((each) => each.generated)).toHaveLength(winnerKilled ? 0 : 1);
    expect(await versions()).toHaveLength(1);

    // Each pod's files: the same key, 0400, this process's uid (the server's, in the overlay), base64 as OpenBao reads it.
    const keys = await Promise.all(pods.map((pod) => readFile(join(pod.directory, 'current.key'), 'utf8')));
    expect(new Set(keys).size).toBe(1);
    expect(Buffer.from(keys[0]!, 'base64')).toHaveLength(32);
    for (const pod of pods) {
      expect((await readdir(pod.directory)).sort()).toEqual(['current.key', 'seal.hcl']);
      for (const file of ['current.key', 'seal.hcl']) {
        const info = await stat(join(pod.directory, file));
        expect(info.mode & 0o777).toBe(0o400);
        expect(info.uid).toBe(process.getuid!());
      }
      expect(await readFile(join(pod.directory, 'seal.hcl'), 'utf8')).toContain(
        `current_key_id = "${written[0]!.keyId}"`,
      );
    }

    await Promise.all(pods.map((pod) => pod.server.start()));
    for (const pod of pods)
      expect((await serverRequest(pod.server, 'GET', 'sys/seal-status')).body.type).toBe('static');
    const counters = await initCounters(pods.map((pod) => pod.server));
    try {
      const sidecars = pods.map((pod, index) =>
        startSidecar(store, counters.proxies[index]!.address, { prefix, podName: pod.name, once: true }),
      );
      for (const sidecar of sidecars) {
        const result = await sidecar.cli.result;
        expect(result.code, result.stdout + result.stderr).toBe(0);
      }
      expect(counters.initRequests()).toBe(1);
      expect(counters.proxies.flatMap((proxy) => proxy.paths('PUT', 'sys/unseal'))).toEqual([]);
    } finally {
      await counters.stop();
    }
    expect(await oneKeySetStored(store, prefix)).toBe(true);
    expect(JSON.parse((await store.versions(prefix, 'unseal-keys')).at(-1)!)).toMatchObject({ type: 'recovery' });

    // Every pod restarts (the init container runs again: same key, nothing generated).
    await Promise.all(pods.map((pod) => pod.server.stop()));
    const again = await Promise.all(pods.map((pod) => startPod(pod)));
    expect(again.map((each) => each.generated)).toEqual([false, false, false]);
    expect(again.map((each) => each.keyId)).toEqual(written.map((each) => each.keyId));
    await everyUnsealed();
  }, 120_000);

  it('rotation: a kill at each step leaves a cluster that unseals; the previous key leaves the files once every node is on the new one', async () => {
    const [first] = (await versions()).map((text) => JSON.parse(text) as { keyId: string });
    // Killed right after the new version was stored: the rotation is done; running it again is refused while the rollout is incomplete.
    const killed = await runRotateSealKey(storeArgs, store.env(), 'seal-key-rotated');
    expect(killed.signal).toBe('SIGKILL');
    expect(await versions()).toHaveLength(2);
    const second = JSON.parse((await versions()).at(-1)!) as { keyId: string };
    const refused = await runRotateSealKey(storeArgs, store.env());
    expect(refused.code).toBe(1);
    expect(events(refused.stderr, 'failed')[0]).toMatchObject({ error: { code: 'ROTATION_FAILED' } });
    expect(await versions()).toHaveLength(2);

    // The rolling restart, highest ordinal first (each server stopped and started); one init container SIGKILLed after writing its files.
    for (const [step, pod] of [...pods].reverse().entries()) {
      await pod.server.stop();
      const written = await startPod(pod, step === 1 ? 'seal-key-files-written' : undefined);
      expect(written).toMatchObject({ keyId: second.keyId, previousKeyId: first!.keyId });
      await everyUnsealed();
    }
    // The whole cluster down at once mid-rollout: every pod comes back and unseals.
    await Promise.all(pods.map((pod) => pod.server.stop()));
    await Promise.all(pods.map((pod) => startPod(pod)));
    await everyUnsealed();
    expect(Object.values((await rollout()).nodes).map((node) => node.keyId)).toEqual([
      second.keyId,
      second.keyId,
      second.keyId,
    ]);

    // The sidecars: the active node's records the re-wrap (killed once right after recording it).
    const active = await until('an active node', async () => {
      for (const pod of pods) if ((await serverRequest(pod.server, 'GET', 'sys/health')).status === 200) return pod;
      return undefined;
    });
    const crashed = startSidecar(store, active.server.address, {
      prefix,
      podName: active.name,
      once: true,
      crashAt: 'seal-key-rewrap-recorded',
    });
    expect((await crashed.cli.result).signal).toBe('SIGKILL');
    expect((await rollout()).rewrapped?.keyId).toBe(second.keyId);
    for (const pod of pods) {
      const sidecar = startSidecar(store, pod.server.address, { prefix, podName: pod.name, once: true });
      expect((await sidecar.cli.result).code).toBe(0);
    }

    // The next restart of each pod writes the new key alone; the servers unseal with it alone.
    for (const pod of [...pods].reverse()) {
      await pod.server.stop();
      expect(await startPod(pod)).toMatchObject({ keyId: second.keyId, previousKeyId: null });
      expect((await readdir(pod.directory)).sort()).toEqual(['current.key', 'seal.hcl']);
      await everyUnsealed();
    }
    await Promise.all(pods.map((pod) => pod.server.stop()));
    await Promise.all(pods.map((pod) => pod.server.start()));
    await everyUnsealed();
    // The history keeps both keys; a new rotation is allowed again.
    expect(await versions()).toHaveLength(2);

    expectNoSecretIn(capturedOutput, [
      ...sealKeyValues(await versions()),
      ...(await secretValuesIn(store.client(), prefix)),
    ]);
  }, 180_000);

  it("a node given a key that does not open its storage (another prefix's key) is named, never fed keys", async () => {
    const pod = pods[0]!;
    await pod.server.stop();
    const other = await runSealKey(pod, ['--store', 'aws', '--store-prefix', 'another-cluster'], store.env());
    expect(other.code, other.stderr).toBe(0);
    await pod.server.start();
    const sidecar = startSidecar(store, pod.server.address, {
      prefix,
      podName: pod.name,
      once: true,
      extraArgs: ['--timeout', '5s'],
    });
    const result = await sidecar.cli.result;
    expect(result.code).toBe(4);
    const blocked = events(result.stdout, 'blocked');
    expect(blocked.map((line) => line.blocker)).toEqual(['seal-failing']);
    expect(String(blocked[0]!.reason)).toContain('static seal key this node was given does not open its storage');
    expect((await serverRequest(pod.server, 'GET', 'sys/seal-status')).body).toMatchObject({
      type: 'static',
      initialized: true,
      sealed: true,
    });
    // Its own pod's key again: it unseals.
    await pod.server.stop();
    await startPod(pod);
    await everyUnsealed();
    expectNoSecretIn(capturedOutput, [
      ...sealKeyValues(await versions()),
      ...sealKeyValues(await store.versions('another-cluster', 'seal-key')),
    ]);
  }, 60_000);
});

// The pairing with OpenBao's self-initialization on the file store: no key and no token is ever
// held by a person. The cloud store's seal key is the only root of trust.
describe.skipIf(missing !== undefined)('static seal key with self-initialization, file store [openbao]', () => {
  let server: TestServer;
  let pod: StaticSealPod;
  let store: FileStore;
  let storeArgs: string[];
  let secretIdFile: string;
  const cleanups: Array<() => Promise<void>> = [];

  beforeAll(async () => {
    const home = await mkdtemp(join(tmpdir(), 'vb-static-selfinit-'));
    storeArgs = ['--store', 'file', '--file-dir', join(home, 'store')];
    store = new FileStore(join(home, 'store'));
    secretIdFile = await writeSecretFile(home, 'secret-id', randomBytes(16).toString('hex'));
    const { directory, remove } = await memoryDirectory('vb-seal-key-selfinit');
    cleanups.push(remove);
    server = await TestServer.create({ initialize: appRoleStanzas(SIDECAR_POLICY_FILE, secretIdFile) });
    useSealKeyDirectory(server, directory);
    pod = { name: 'openbao-0', directory, server };
  });

  afterAll(async () => {
    await server?.stop();
    for (const cleanup of cleanups) await cleanup();
  });

  const sidecar = () =>
    runCli(
      [
        'run',
        '--once',
        '--timeout',
        '2m',
        ...storeArgs,
        '--vault-addr',
        server.address,
        '--self-init',
        '--login-method',
        'approle',
        '--login-secret-file',
        secretIdFile,
      ],
      cleanEnv({ POD_NAME: pod.name }),
    );
  const podStart = async () => {
    const result = await runSealKey(pod, storeArgs, cleanEnv());
    expect(result.code, result.stderr).toBe(0);
    await server.start();
    await until(
      'unsealed',
      async () => ((await serverRequest(server, 'GET', 'sys/health')).status === 200 ? true : undefined),
      30_000,
    );
    return JSON.parse(result.stdout) as {
      keyId: string;
      version: number;
      previousKeyId: string | null;
      generated: boolean;
    };
  };

  it('the server initializes itself on the stored key; the sidecar converges by login; no unseal or recovery key, no root token stored; restarts unseal; rotation is refused (openbao/openbao#3996)', async () => {
    const first = await podStart();
    const once = await sidecar();
    expect(once.code, once.stdout).toBe(0);
    expect(transitions(once.stdout)).not.toContain('initializing');
    for (const name of ['vault-unseal-keys', 'vault-root-token', 'vault-init-claim'])
      await expect(store.readLatest(name)).rejects.toMatchObject({ code: 'STORE_NOT_FOUND' });
    expect(JSON.parse(await store.readLatest('vault-self-init-cluster'))).toMatchObject({ sealType: 'static' });
    expect(JSON.parse(await store.readLatest('vault-seal-key-rollout'))).toEqual({
      nodes: { 'openbao-0': { keyId: first.keyId, at: expect.any(String) } },
    });

    // OpenBao does not re-wrap a self-initialized server's stored keys with a new static key
    // (no recovery key, where its upgrade stops: openbao/openbao#3996): rotation is refused, named.
    const refused = await runRotateSealKey(storeArgs, cleanEnv());
    expect(refused.code).toBe(1);
    expect(events(refused.stderr, 'failed')[0]).toMatchObject({
      error: { code: 'ROTATION_FAILED', message: expect.stringContaining('openbao/openbao#3996') },
    });
    await server.stop();
    expect(await podStart()).toEqual({ keyId: first.keyId, version: 1, previousKeyId: null, generated: false });
    expect(events((await sidecar()).stdout, 'seal-key-rewrap-recorded')).toEqual([]);

    const versions = await store.readAllVersions('vault-seal-key');
    expect(versions).toHaveLength(1);
    expectNoSecretIn(capturedOutput, sealKeyValues(versions));
  }, 90_000);
});

// Shamir → static through the existing migrate-seal path: the key seal-key stores becomes the
// seal, and the former unseal keys become the recovery keys.
describe.skipIf(missing !== undefined)(
  'seal migration Shamir → static seal key from the store, file store [openbao]',
  () => {
    let server: TestServer;
    const cleanups: Array<() => Promise<void>> = [];
    afterAll(async () => {
      await server?.stop();
      for (const cleanup of cleanups) await cleanup();
    });

    it('migrate-seal moves a Shamir cluster onto the stored static key; restarts then unseal with no key submitted', async () => {
      const home = await mkdtemp(join(tmpdir(), 'vb-static-migration-'));
      server = await TestServer.start();
      const storeArgs = ['--store', 'file', '--file-dir', join(home, 'store')];
      const store = new FileStore(join(home, 'store'));
      const first = await runCli([
        'run',
        '--once',
        ...storeArgs,
        '--vault-addr',
        server.address,
        '--secret-shares',
        '3',
        '--secret-threshold',
        '2',
      ]);
      expect(first.code, first.stdout).toBe(0);
      const shamir = JSON.parse(await store.readLatest('vault-unseal-keys')) as { type: string; keysBase64: string[] };
      expect(shamir.type).toBe('shamir');

      // The pod gains the static-seal init container: the key is generated and stored, the server restarts with it.
      const { directory, remove } = await memoryDirectory('vb-seal-key-migration');
      cleanups.push(remove);
      const pod = { name: 'openbao-0', directory };
      expect((await runSealKey(pod, storeArgs, cleanEnv())).code).toBe(0);
      await server.stop();
      useSealKeyDirectory(server, directory);
      await server.start();
      expect((await serverRequest(server, 'GET', 'sys/seal-status')).body).toMatchObject({
        type: 'static',
        sealed: true,
        migration: true,
      });

      const migrated = await runCli(['migrate-seal', ...storeArgs, '--vault-addr', server.address]);
      expect(migrated.code, migrated.stdout + migrated.stderr).toBe(0);
      expect(JSON.parse(migrated.stdout.trim())).toMatchObject({
        from: 'shamir',
        to: 'static',
        alreadyMigrated: false,
      });
      expect(JSON.parse(await store.readLatest('vault-unseal-keys'))).toMatchObject({
        type: 'recovery',
        status: 'active',
        keysBase64: shamir.keysBase64,
      });

      await server.stop();
      expect((await runSealKey(pod, storeArgs, cleanEnv())).code).toBe(0);
      await server.start();
      await until(
        'unsealed by the static seal',
        async () => ((await serverRequest(server, 'GET', 'sys/health')).status === 200 ? true : undefined),
        30_000,
      );
      const converged = await runCli(['run', '--once', ...storeArgs, '--vault-addr', server.address]);
      expect(converged.code, converged.stdout).toBe(0);
      expect(events(converged.stdout, 'act').map((line) => line.action)).not.toContain('unseal');
      expectNoSecretIn(capturedOutput, [
        ...sealKeyValues(await store.readAllVersions('vault-seal-key')),
        ...(await secretValuesIn(store)),
      ]);
    }, 60_000);
  },
);
